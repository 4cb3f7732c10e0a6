"""`esm-onnx-ray embed`: embeddings of many FASTA files on Ray (the layout of OUTDIR: the package's docstring)."""
from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable
from typing import Any

from .._options import EMBED as _E
from .._options import Tiling, tiling_fields
from .._options import tiling as _tiling
from .._errors import UsageError
from . import driver
from . import parts as _parts
from .shards import Shard

FORMATS = ("parquet", "npz", "pt")


def _resolve(model: pathlib.Path, include: list[str], repr_layers: Iterable[int] | None) -> list[int]:
    """The layers to write, checked against the model's metadata (the driver does not load the model)."""
    import esm_onnx

    return esm_onnx.check_request(model, include, None if repr_layers is None else list(repr_layers))


def embed(model: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], outdir: str | os.PathLike[str],
          include: Iterable[str] = _E["include"], repr_layers: Iterable[int] | None = None, format: str = "parquet",
          workers: int = 1, threads_per_worker: int = 1, address: str | None = None,
          toks_per_batch: int = _E["toks_per_batch"], truncation_seq_length: int | None = _E["truncation_seq_length"],
          shard_records: int = 2048, progress: bool = _E["progress"], engine: str = _E["engine"],
          compute: str = _E["compute"], long_sequences: str | None = _E["long_sequences"],
          tiling: Tiling | None = None) -> dict[str, Any]:
    """Embeds every record of `inputs` (FASTA files, folders of them, or globs) into `outdir` with `workers` Ray
    actors of `threads_per_worker` engine threads each. `address` joins an existing cluster ("auto" or
    "host:port"); without it Ray starts on this machine. `engine` and `compute` as for esm_onnx.Model, except
    that OpenVINO needs an explicit compute: every worker must compute alike, whatever its CPU. Returns the
    manifest's counts. long_sequences and tiling as for esm_onnx.Model.embed."""
    driver.require_ray()
    model_path = driver.model_file(model)
    include = [include] if isinstance(include, str) else list(include)
    if format not in FORMATS:
        raise UsageError(f"--format {format}: use one of {', '.join(FORMATS)}")
    for name, value, low in (("--workers", workers, 1), ("--threads-per-worker", threads_per_worker, 1),
                             ("--toks-per-batch", toks_per_batch, 1), ("--shard-records", shard_records, 1),
                             ("--truncation-seq-length", 0 if truncation_seq_length is None else truncation_seq_length, 0)):
        if not isinstance(value, int) or value < low:
            raise UsageError(f"{name} {value}: must be an integer >= {low}")
    t = _tiling(tiling)
    # run.json's spelling (the table's keys; a rerun compares them): tile_length None for the model's
    long = {"long_sequences": long_sequences, **tiling_fields(t)}
    # Checked here, on the driver, before any worker starts.
    from .._api import _request
    _request(include, None, toks_per_batch, truncation_seq_length, long_sequences, t)

    driver.check_engine(engine, compute)
    layers = _resolve(model_path, include, repr_layers)
    options = {"include": sorted(include), "repr_layers": layers, "format": format, "toks_per_batch": toks_per_batch,
               "truncation_seq_length": truncation_seq_length, **long, "shard_records": shard_records, "engine": engine,
               "compute": "fp32" if engine == "ort" else compute}
    return driver.run(JOB, model_path, inputs, outdir, options, workers, threads_per_worker, address, shard_records,
                      progress)


def _finish(out: pathlib.Path, files: list[pathlib.Path], model: pathlib.Path, options: dict, shards: list[Shard],
            redone: int, seconds: float, compute: float, say) -> dict[str, Any]:
    # Temporary files of attempts that a killed worker or driver left behind; every writer has finished now.
    for stale in (out / "parts").glob(".*.tmp"):
        stale.unlink(missing_ok=True)
    totals = {"records": 0, "written": 0, "already_present": 0, "skipped": 0, "tokens": 0}
    lines = ["file\tlabel\tline\treason"]
    for s in shards:
        summary = _parts.read_summary(out, s.name)
        for k in totals:
            totals[k] += int(summary.get(k, 0))
        lines += [f"{s.path}\t{label}\t{line}\t{reason}" for label, line, reason in summary["skipped_records"]]
    _parts.write_atomic(out / "skipped.tsv", "\n".join(lines) + "\n")
    manifest = driver.write_manifest(out, files, model, options, len(shards), redone, seconds, compute, totals)
    say(f"esm-onnx-ray: {totals['records']} records: {totals['written']} written, {totals['already_present']} already "
        f"present, {totals['skipped']} skipped ({out / 'skipped.tsv'}); {redone} of {len(shards)} parts run in "
        f"{seconds:.1f} s")
    return manifest


def _actor() -> type:
    from .worker import ShardEmbedder

    return ShardEmbedder


JOB = driver.ShardedJob(key="label", unit="records", actor=_actor, finish=_finish)
