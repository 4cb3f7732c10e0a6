"""`esm-onnx-ray score`: esm-variants' every-missense-variant job over many FASTA files on Ray, with the embed
driver's guarantees: shards of whole records, a part per shard that appears only when complete, a rerun that
redoes only what is not done (a killed worker's or driver's work included), and a refusal to mix models or
options in one OUTDIR.

OUTDIR holds:
- matrices/<seq_id>.npz: each protein's [L, 20] matrix, as `esm-onnx score --input-fasta-file` writes them (shared
  by the workers; a protein already there for the same sequence and model is not scored again);
- parts/<file>.<shard>.csv: each shard's rows; scores.csv: all of them in the inputs' order (esm-variants' CSV);
- skipped.tsv, run.json, manifest.json, as for embed.
"""
from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable
from typing import Any

from .._errors import UsageError
from . import driver
from . import parts as _parts
from .._options import SCORE as _S
from .._options import Tiling
from .._options import tiling as _tiling
from .shards import Shard


def score(model: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], outdir: str | os.PathLike[str],
          workers: int = 1, threads_per_worker: int = 1, address: str | None = None,
          toks_per_batch: int = _S["toks_per_batch"], long_sequences: str = _S["long_sequences"],
          tiling: Tiling | None = None, shard_records: int = 256, progress: bool = _S["progress"],
          engine: str = _S["engine"], compute: str = _S["compute"]) -> dict[str, Any]:
    """Scores every missense variant of every protein of `inputs` (FASTA files, folders, globs) into `outdir` with
    `workers` Ray actors of `threads_per_worker` engine threads each (see esm_onnx.score_missense for the scores
    and the tiling). Returns the manifest's counts."""
    driver.require_ray()
    import esm_onnx

    model_path = driver.model_file(model)
    for name, value, low in (("--workers", workers, 1), ("--threads-per-worker", threads_per_worker, 1),
                             ("--toks-per-batch", toks_per_batch, 1), ("--shard-records", shard_records, 1)):
        if not isinstance(value, int) or value < low:
            raise UsageError(f"{name} {value}: must be an integer >= {low}")
    driver.check_engine(engine, compute)
    info = esm_onnx.read_model_info(model_path)
    if not info.has_logits:
        raise UsageError(f"{model}: scoring needs a masked language-model head (logits); this model has none")
    # the request as the library checks it, before any worker starts
    t = _tiling(tiling)
    esm_onnx._score._score_request(esm_onnx._score.MISSENSE_STRATEGY, toks_per_batch, long_sequences, t)
    # run.json's spelling (the table's keys; a rerun compares them): tile_length 0 for the model's
    options = {"job": "score missense", "format": "csv", "toks_per_batch": toks_per_batch,
               "long_sequences": long_sequences, "tile_length": t.length or 0, "tile_overlap": t.min_overlap,
               "tile_sharpness": float(t.sharpness), "shard_records": shard_records, "engine": engine,
               "compute": "fp32" if engine == "ort" else compute}
    return driver.run(JOB, model_path, inputs, outdir, options, workers, threads_per_worker, address, shard_records,
                      progress)


def _finish(out: pathlib.Path, files: list[pathlib.Path], model: pathlib.Path, options: dict, shards: list[Shard],
            redone: int, seconds: float, compute: float, say) -> dict[str, Any]:
    """scores.csv from the parts in the inputs' order (streamed), skipped.tsv and manifest.json."""
    for pattern in (".*.tmp", "*.partial-*"):  # what killed attempts left (every writer has finished now)
        for stale in (out / "parts").glob(pattern):
            stale.unlink(missing_ok=True)
    totals = {"records": 0, "scored": 0, "already_present": 0, "skipped": 0, "tokens": 0, "csv_rows": 0}
    lines = ["file\tlabel\tline\treason"]
    tmp = out / f".scores.csv.{os.getpid()}.tmp"
    with open(tmp, "w", newline="") as csv_out:
        csv_out.write("seq_id,mut_name,esm_score\n")
        for s in shards:
            summary = _parts.read_summary(out, s.name)
            for k in ("records", "scored", "already_present", "skipped", "tokens"):
                totals[k] += int(summary.get(k, 0))
            lines += [f"{s.path}\t{label}\t{line}\t{reason}" for label, line, reason in summary["skipped_records"]]
            # Duplicate seq_ids were left out by the driver before any work (driver.scan_inputs): the parts are disjoint.
            with open(out / "parts" / f"{s.name}.csv", newline="") as part:
                next(part)  # its header
                for row in part:
                    csv_out.write(row)
                    totals["csv_rows"] += 1
    _parts.publish(tmp, out / "scores.csv")
    _parts.write_atomic(out / "skipped.tsv", "\n".join(lines) + "\n")
    manifest = driver.write_manifest(out, files, model, options, len(shards), redone, seconds, compute, totals)
    say(f"esm-onnx-ray: {totals['records']} proteins: {totals['scored']} scored, {totals['already_present']} already "
        f"present, {totals['skipped']} skipped ({out / 'skipped.tsv'}); {totals['csv_rows']} rows in "
        f"{out / 'scores.csv'}; {redone} of {len(shards)} parts run in {seconds:.1f} s")
    return manifest


def _actor() -> type:
    from .score_worker import ShardScorer

    return ShardScorer


JOB = driver.ShardedJob(key="seq_id", unit="proteins", actor=_actor, finish=_finish, also_needs=".csv")
