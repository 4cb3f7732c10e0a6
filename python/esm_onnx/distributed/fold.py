"""`esm-onnx-ray fold`: ESMFold over many FASTA files on Ray, with the embed driver's guarantees: shards of whole
records, a part per shard that counts only when complete, a rerun that redoes only what is not done, and a
refusal to mix models or options in one OUTDIR.

OUTDIR holds:
- <label>.pdb and <label>.npz: each record's structure, as `esm-onnx fold` writes them (shared by the workers; a
  record whose files and summary row are there is not folded again);
- parts/<file>.<shard>.csv: each shard's summary rows; summary.csv: all of them in the inputs' order
  (label, length, mean_plddt, ptm, seconds, as `esm-onnx fold` writes it);
- skipped.tsv, run.json, manifest.json, as for embed.
"""
from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable
from typing import Any

from .. import _core
from .._errors import UsageError
from .._options import FOLD as _F
from .._options import count
from . import driver
from . import parts as _parts
from .shards import Shard

SUMMARY_HEADER = "label,length,mean_plddt,ptm,seconds\n"  # the fold job's summary.csv (esm_onnx/jobs/fold.h)


def fold(model: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], outdir: str | os.PathLike[str],
         workers: int = 1, threads_per_worker: int = 1, address: str | None = None,
         num_recycles: int | None = _F["num_recycles"], chunk_size: int | None = _F["chunk_size"],
         max_tokens_per_batch: int = _F["max_tokens_per_batch"], shard_records: int = 64,
         progress: bool = _F["progress"]) -> dict[str, Any]:
    """Folds every record of `inputs` (FASTA files, folders, globs) into `outdir` with `workers` Ray actors of
    `threads_per_worker` engine threads each, as esm_onnx.fold_fasta does on one machine (multimers joined by
    ':'). `model`: a folding graph from `esm-onnx convert` of an ESMFold checkpoint, its stem beside it.
    Returns the manifest's counts."""
    driver.require_ray()
    from .._fold import fold_request

    model_path = driver.model_file(model)
    if not _core.is_fold_model(str(model_path)):
        raise UsageError(f"{model}: not a folding model: esm-onnx-ray fold runs a model converted from an ESMFold "
                         "checkpoint (esm-onnx convert facebook/esmfold_v1 -o esmfold.onnx)")
    for name, value, low in (("--workers", workers, 1), ("--threads-per-worker", threads_per_worker, 1),
                             ("--shard-records", shard_records, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise UsageError(f"{name} {value}: must be an integer >= {low}")
    fold_request(num_recycles, chunk_size, max_tokens_per_batch)  # checked here, before any worker starts
    stem = model_path.with_name(model_path.name.removesuffix(".onnx") + ".stem.onnx")
    options = {"job": "fold", "format": "csv", "num_recycles": num_recycles, "chunk_size": chunk_size,
               "max_tokens_per_batch": count("max_tokens_per_batch", max_tokens_per_batch, "fold"),
               "shard_records": shard_records, "engine": "ort", "compute": "fp32",
               # the stem is a model file too: another stem beside the same folding graph is another model
               "stem_sha256": driver.model_digest(stem) if stem.is_file() else ""}
    return driver.run(JOB, model_path, inputs, outdir, options, workers, threads_per_worker, address, shard_records,
                      progress)


def _finish(out: pathlib.Path, files: list[pathlib.Path], model: pathlib.Path, options: dict, shards: list[Shard],
            redone: int, seconds: float, compute: float, say) -> dict[str, Any]:
    """summary.csv from the parts in the inputs' order, skipped.tsv and manifest.json."""
    for pattern in (".*.tmp", "*.partial-*"):  # what killed attempts left (every writer has finished now)
        for stale in (*(out / "parts").glob(pattern), *out.glob(pattern)):
            stale.unlink(missing_ok=True)
    totals = {"records": 0, "folded": 0, "already_present": 0, "skipped": 0, "residues": 0, "csv_rows": 0}
    lines = ["file\tlabel\tline\treason"]
    tmp = out / f".summary.csv.{os.getpid()}.tmp"
    with open(tmp, "w", newline="") as csv_out:
        csv_out.write(SUMMARY_HEADER)
        for s in shards:
            summary = _parts.read_summary(out, s.name)
            for k in ("records", "folded", "already_present", "skipped", "residues"):
                totals[k] += int(summary.get(k, 0))
            lines += [f"{s.path}\t{label}\t{line}\t{reason}" for label, line, reason in summary["skipped_records"]]
            # Duplicate labels were left out by the driver before any work (driver.scan_inputs): the parts are disjoint.
            with open(out / "parts" / f"{s.name}.csv", newline="") as part:
                next(part)  # its header
                for row in part:
                    csv_out.write(row)
                    totals["csv_rows"] += 1
    _parts.publish(tmp, out / "summary.csv")
    _parts.write_atomic(out / "skipped.tsv", "\n".join(lines) + "\n")
    totals["tokens"] = totals["residues"]
    manifest = driver.write_manifest(out, files, model, options, len(shards), redone, seconds, compute, totals)
    say(f"esm-onnx-ray: {totals['records']} records: {totals['folded']} folded, {totals['already_present']} already "
        f"present, {totals['skipped']} skipped ({out / 'skipped.tsv'}); {totals['csv_rows']} rows in "
        f"{out / 'summary.csv'}; {redone} of {len(shards)} parts run in {seconds:.1f} s")
    return manifest


def _actor() -> type:
    from .fold_worker import ShardFolder

    return ShardFolder


JOB = driver.ShardedJob(key="label", unit="records", actor=_actor, finish=_finish, also_needs=".csv")
