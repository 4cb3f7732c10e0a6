"""The folding actor: loads the folding model (and its stem) once, then folds whole shards: the structures into
OUTDIR, the shard's summary rows into parts/<shard>.csv."""
from __future__ import annotations

import json
import os
import pathlib
import tempfile
import time
import warnings
from typing import Any

from .parts import part_is_done, part_path, read_summary, remove_part, summary_path, write_atomic
from .shards import copy_shard, kept_indices
from .worker import ShardActor


class ShardFolder(ShardActor):
    """Folds a shard: <label>.pdb and .npz into OUTDIR, its summary rows into parts/<shard>.csv."""

    columns = ("name", "records", "folded", "skipped", "tokens", "seconds", "pid")

    def run(self, shard: dict[str, Any]) -> dict[str, Any]:
        from .. import _core
        from .._errors import warn_message
        from .._fold import fold_request
        from .fold import SUMMARY_HEADER

        name = str(shard["name"])
        csv = self.outdir / "parts" / f"{name}.csv"
        if part_is_done(self.outdir, name, str(shard["digest"]), self.options)[0] and csv.exists():
            return read_summary(self.outdir, name) | {"pid": os.getpid()}
        # The marker and summary go; the shard's CSV stays: its rows are the records a killed attempt finished,
        # and the fold job does not fold those again.
        remove_part(self.outdir, name, "csv")
        o = self.options
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="esm-onnx-shard-") as tmp:
            fasta, digest, dropped = copy_shard(shard, pathlib.Path(tmp))
            if kept_indices(shard) == []:  # every record left out as a duplicate: an empty part
                write_atomic(csv, SUMMARY_HEADER)
                s = {"folded": 0, "already_present": 0, "skipped": [], "residues": 0}
            else:
                core = self.model._fold_core()
                opts = _core.FoldOptions()
                opts.model = core.path
                opts.fasta = str(fasta)
                opts.outdir = str(self.outdir)
                opts.summary_file = str(csv)
                opts.request = fold_request(o["num_recycles"], o["chunk_size"], o["max_tokens_per_batch"])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # skipped records are in the summary
                    r = core.fold_fasta(opts, warn_message)
                s = {"folded": r.folded, "already_present": r.already_present, "skipped": list(r.skipped),
                     "residues": r.residues}
        line0 = int(shard["first_line"]) - 1
        skipped = sorted([*s["skipped"], *dropped], key=lambda k: k[1])
        summary = {"name": name, "path": str(shard["path"]), "records": int(shard["records"]), "folded": s["folded"],
                   "already_present": s["already_present"], "skipped": len(skipped), "residues": s["residues"],
                   "tokens": s["residues"], "seconds": time.perf_counter() - t0,
                   "skipped_records": [[label, line + line0 if line else 0, reason] for label, line, reason in skipped],
                   "input_sha256": digest, "options": o}
        # The CSV is complete (the fold job appends a row as each record's files are in place); the summary,
        # then the marker, make the part count as done.
        write_atomic(summary_path(self.outdir, name), json.dumps(summary))
        write_atomic(part_path(self.outdir, name, "csv"), json.dumps({"records": summary["records"]}))
        return summary | {"pid": os.getpid()}
