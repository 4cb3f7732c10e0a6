"""The Ray actor: loads the model once, then embeds whole shards, each into its output part."""
from __future__ import annotations

import json
import os
import pathlib
import tempfile
import time
import warnings
from typing import Any

from .._options import tiling_of
from .parts import (ParquetPart, arrow_schema, part_identity, part_is_done, part_path, read_summary, remove_part,
                    summary_path, write_atomic)
from .shards import copy_shard, kept_indices


class ShardActor:
    """Callable for Ray Data's map_batches: each row of a batch is a shard (see shards.Shard); each output row is
    that shard's summary, its `columns`. The model is loaded once, when Ray starts the actor."""

    columns: tuple[str, ...] = ()

    def __init__(self, model: str, options: dict[str, Any], outdir: str, threads: int) -> None:
        import esm_onnx

        self.model = esm_onnx.Model(model, threads=threads, engine=options.get("engine", "ort"),
                                    compute=options.get("compute", "auto"))
        self.options = options
        self.outdir = pathlib.Path(outdir)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        rows = [dict(zip(batch.keys(), values)) for values in zip(*batch.values())]
        out: dict[str, list] = {k: [] for k in self.columns}
        for shard in rows:
            summary = self.run(shard)
            for k in out:
                out[k].append(summary[k])
        return out

    def run(self, shard: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class ShardEmbedder(ShardActor):
    """Embeds a shard into its part."""

    columns = ("name", "records", "written", "already_present", "skipped", "tokens", "seconds", "pid")

    def __init__(self, model: str, options: dict[str, Any], outdir: str, threads: int) -> None:
        super().__init__(model, options, outdir, threads)
        self.layers = list(options["repr_layers"])  # resolved by the driver
        info = self.model.info
        self.specials = int(info.prepend_bos) + int(info.append_eos)  # counted in tokens, as the CLI counts them

    def run(self, shard: dict[str, Any]) -> dict[str, Any]:
        fmt = self.options["format"]
        name = str(shard["name"])
        if part_is_done(self.outdir, name, str(shard["digest"]), self.options)[0]:  # an earlier attempt finished it
            return read_summary(self.outdir, name) | {"pid": os.getpid()}
        remove_part(self.outdir, name, fmt)  # what is there is not this shard's finished part
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="esm-onnx-shard-") as tmp:
            fasta, digest, dropped = copy_shard(shard, pathlib.Path(tmp))
            part = None
            if fmt == "parquet":
                counts, skipped, part = self._parquet(fasta, shard, part_identity(digest, self.options))
            elif kept_indices(shard) == []:  # every record left out as a duplicate: nothing to run
                counts, skipped = {"written": 0, "already_present": 0, "tokens": 0}, []
            else:
                counts, skipped = self._files(fasta, shard)
            skipped = sorted([*skipped, *dropped], key=lambda k: k[1])
        # Lines and indices in the shard's own file are relative: make them the input file's.
        line0, index0 = int(shard["first_line"]) - 1, int(shard["first_index"])
        summary = {"name": name, "path": str(shard["path"]), "records": int(shard["records"]), **counts,
                   "skipped": len(skipped), "seconds": time.perf_counter() - t0,
                   "skipped_records": [[label, line + line0 if line else 0, reason] for label, line, reason in skipped],
                   "first_index": index0, **part_identity(digest, self.options)}
        # The summary first, the part (or its marker) last: a part that exists always has its summary (a driver
        # killed between the two found a part without one, and its rerun stopped).
        try:
            write_atomic(summary_path(self.outdir, name), json.dumps(summary))
        except BaseException:
            if part is not None:
                part.abort()
            raise
        if part is not None:
            part.commit()
        else:
            write_atomic(part_path(self.outdir, name, fmt), json.dumps({"records": summary["records"]}))
        return summary | {"pid": os.getpid()}

    def _parquet(self, fasta: pathlib.Path, shard: dict[str, Any], identity: dict) -> tuple[dict, list]:
        o = self.options
        info = self.model.info
        schema = arrow_schema(list(o["include"]), self.layers, info.embed_dim, info.vocab_size)
        part = ParquetPart(part_path(self.outdir, str(shard["name"]), "parquet"), list(o["include"]), self.layers, schema,
                           identity)
        written = tokens = 0
        index0 = int(shard["first_index"])
        kept = kept_indices(shard)
        if kept == []:  # every record left out as a duplicate: an empty part
            part.finish()
            return {"written": 0, "already_present": 0, "tokens": 0}, [], part
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # skipped records are collected from the iterator
                it = self.model.embed_fasta(fasta, include=o["include"], repr_layers=self.layers or None,
                                            toks_per_batch=o["toks_per_batch"],
                                            truncation_seq_length=o["truncation_seq_length"],
                                            read_ahead=max(1, int(shard["records"])), **_long(o))
                for e in it:
                    part.add(_Shifted(e, index0, kept))
                    written += 1
                    tokens += e.length + self.specials
            part.finish()
        except BaseException:
            part.abort()
            raise
        return {"written": written, "already_present": 0, "tokens": tokens}, list(it.skipped), part

    def _files(self, fasta: pathlib.Path, shard: dict[str, Any]) -> tuple[dict, list]:
        o = self.options
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = self.model.embed_to_dir(fasta, self.outdir / "records", include=o["include"], format=o["format"],
                                        repr_layers=self.layers or None, toks_per_batch=o["toks_per_batch"],
                                        truncation_seq_length=o["truncation_seq_length"],
                                        read_ahead=max(1, int(shard["records"])), **_long(o))
        return {"written": s.written, "already_present": s.already_present, "tokens": s.tokens}, list(s.skipped)


def _long(o: dict[str, Any]) -> dict[str, Any]:
    """The long-sequence options of a run (absent from runs written before they existed: the defaults)."""
    return {"long_sequences": o.get("long_sequences"), "tiling": tiling_of(o)}


class _Shifted:
    """An Embedding whose index counts from the start of the input file, not of the shard."""

    def __init__(self, e: Any, offset: int, kept: list[int] | None = None) -> None:
        # kept: the shard's indices of the records its copy holds (the driver left duplicates out)
        self._e, self.index = e, (e.index if kept is None else kept[e.index]) + offset

    def __getattr__(self, name: str) -> Any:
        return getattr(self._e, name)
