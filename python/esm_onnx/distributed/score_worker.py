"""The scoring actor: loads the model once, then scores whole shards, each into its part (parts/<shard>.csv)
and the shared matrix folder."""
from __future__ import annotations

import json
import os
import pathlib
import tempfile
import time
import warnings
from typing import Any

from .._options import tiling_of
from .parts import part_is_done, part_path, read_summary, remove_part, summary_path, write_atomic
from .shards import copy_shard, kept_indices
from .worker import ShardActor


class ShardScorer(ShardActor):
    """Scores a shard: its rows into parts/<shard>.csv, its matrices into the shared folder."""

    columns = ("name", "records", "scored", "skipped", "tokens", "seconds", "pid")

    def run(self, shard: dict[str, Any]) -> dict[str, Any]:
        from .. import score_missense

        name = str(shard["name"])
        csv = self.outdir / "parts" / f"{name}.csv"
        if part_is_done(self.outdir, name, str(shard["digest"]), self.options)[0] and csv.exists():
            return read_summary(self.outdir, name) | {"pid": os.getpid()}
        remove_part(self.outdir, name, "csv")
        o = self.options
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="esm-onnx-shard-") as tmp:
            fasta, digest, dropped = copy_shard(shard, pathlib.Path(tmp))
            if kept_indices(shard) == []:  # every protein left out as a duplicate: an empty part
                write_atomic(csv, "seq_id,mut_name,esm_score\n")
                s = {"scored": 0, "already_present": 0, "skipped": [], "tokens": 0}
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # skipped proteins are in the summary
                    s = score_missense(self.model, fasta, csv, matrix_dir=self.outdir / "matrices",
                                       toks_per_batch=o["toks_per_batch"], long_sequences=o["long_sequences"],
                                       tiling=tiling_of(o))
        line0 = int(shard["first_line"]) - 1
        skipped = sorted([*s["skipped"], *dropped], key=lambda k: k[1])
        summary = {"name": name, "path": str(shard["path"]), "records": int(shard["records"]), "scored": s["scored"],
                   "already_present": s["already_present"], "skipped": len(skipped), "tokens": s["tokens"],
                   "seconds": time.perf_counter() - t0,
                   "skipped_records": [[label, line + line0 if line else 0, reason] for label, line, reason in skipped],
                   "input_sha256": digest, "options": o}
        # The CSV is in place (written atomically); the summary, then the marker, make the part count as done.
        write_atomic(summary_path(self.outdir, name), json.dumps(summary))
        write_atomic(part_path(self.outdir, name, "csv"), json.dumps({"records": summary["records"]}))
        return summary | {"pid": os.getpid()}
