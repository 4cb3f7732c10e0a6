"""Embeddings for millions of proteins across many machines, on Ray Data.

    from esm_onnx import distributed
    summary = distributed.embed("esm2.onnx", ["uniref50.fasta"], "out/", include=("mean",), workers=8,
                                threads_per_worker=4, address="auto")

The inputs are cut into shards of whole records (byte ranges of the FASTA files); a pool of Ray actors, each
holding the model once, embeds a shard at a time into its own output part, written under a temporary name
and renamed when complete. A rerun skips the parts already there, so a crashed or killed run resumes where
it stopped; a killed worker is restarted by Ray and its shard redone, never duplicated. OUTDIR holds:

- parts/<file>.<shard>.parquet (format "parquet"): columns label, index, length, mean_<layer> ...; or
  records/<label>.npz (format "npz"/"pt"), the files `esm-onnx embed` writes;
- skipped.tsv: every record not embedded (file, label, line, reason);
- run.json: the model's SHA-256 and the options; a rerun with another model or other options is refused;
- manifest.json: inputs, model, options and counts, written when the run is complete.
"""
from __future__ import annotations

import json
import os
import pathlib
import sys
import time
from collections.abc import Iterable
from typing import Any

from .. import DEFAULTS as _DEFAULTS
from .._errors import UsageError
from . import parts as _parts
from .._digest import sha256_file
from .shards import RecordKeys, Shard, expand_inputs, scan

FORMATS = ("parquet", "npz", "pt")


def _model_digest(model: pathlib.Path) -> str:
    digest = sha256_file(model)
    data = model.with_name(model.name + ".data")
    return digest + ("+" + sha256_file(data) if data.exists() else "")


def _resolve(model: pathlib.Path, include: list[str], repr_layers: Iterable[int] | None) -> list[int]:
    """The layers to write, checked against the model's metadata (the driver does not load the model)."""
    import esm_onnx

    return esm_onnx.check_request(model, include, None if repr_layers is None else list(repr_layers))


def _check_run(outdir: pathlib.Path, run: dict) -> None:
    """Refuses to mix another model's or other options' outputs into OUTDIR."""
    path = outdir / "run.json"
    if path.exists():
        before = json.loads(path.read_text())
        if before.get("model_sha256") != run["model_sha256"]:
            raise UsageError(f"{outdir}: holds outputs of another model ({before.get('model')}, sha256 "
                             f"{str(before.get('model_sha256'))[:16]}...); use another OUTDIR")
        # Runs written before the engine options existed ran ONNX Runtime.
        was_options = {"engine": "ort", "compute": "fp32", **before.get("options", {})}
        changed = [k for k in run["options"] if was_options.get(k) != run["options"][k]]
        if changed:
            was = ", ".join(f"{k}={was_options.get(k)!r}" for k in changed)
            now = ", ".join(f"{k}={run['options'][k]!r}" for k in changed)
            raise UsageError(f"{outdir}: was written with {was}, not {now}; use another OUTDIR or the same options")
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "parts").mkdir(exist_ok=True)
    _parts.write_atomic(path, json.dumps(run, indent=1))


def embed(model: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], outdir: str | os.PathLike[str],
          include: Iterable[str] = ("mean",), repr_layers: Iterable[int] | None = None, format: str = "parquet",
          workers: int = 1, threads_per_worker: int = 1, address: str | None = None, toks_per_batch: int = _DEFAULTS["toks_per_batch"],
          truncation_seq_length: int | None = _DEFAULTS["truncation_seq_length"], shard_records: int = 2048,
          progress: bool = True, engine: str = "ort", compute: str = "auto", long_sequences: str | None = None,
          tile_length: int | None = None, tile_overlap: int = 512, tile_sharpness: float = 20.0) -> dict[str, Any]:
    """Embeds every record of `inputs` (FASTA files, folders of them, or globs) into `outdir` with `workers` Ray
    actors of `threads_per_worker` engine threads each. `address` joins an existing cluster ("auto" or
    "host:port"); without it Ray starts on this machine. `engine` and `compute` as for esm_onnx.Model, except
    that OpenVINO needs an explicit compute: every worker must compute alike, whatever its CPU. Returns the
    manifest's counts. long_sequences and the tile options as for esm_onnx.Model.embed."""
    _require_ray()
    model_path = _model_file(model)
    include = [include] if isinstance(include, str) else list(include)
    if format not in FORMATS:
        raise UsageError(f"--format {format}: use one of {', '.join(FORMATS)}")
    for name, value, low in (("--workers", workers, 1), ("--threads-per-worker", threads_per_worker, 1),
                             ("--toks-per-batch", toks_per_batch, 1), ("--shard-records", shard_records, 1),
                             ("--truncation-seq-length", 0 if truncation_seq_length is None else truncation_seq_length, 0)):
        if not isinstance(value, int) or value < low:
            raise UsageError(f"{name} {value}: must be an integer >= {low}")
    long = {"long_sequences": long_sequences, "tile_length": tile_length, "tile_overlap": tile_overlap,
            "tile_sharpness": float(tile_sharpness)}
    # Checked here, on the driver, before any worker starts.
    from .._api import _request
    _request(include, None, toks_per_batch, truncation_seq_length, long)

    _check_engine(engine, compute)
    layers = _resolve(model_path, include, repr_layers)
    out = pathlib.Path(outdir).resolve()
    files = expand_inputs([str(i) for i in inputs])
    options = {"include": sorted(include), "repr_layers": layers, "format": format, "toks_per_batch": toks_per_batch,
               "truncation_seq_length": truncation_seq_length, **long, "shard_records": shard_records, "engine": engine,
               "compute": "fp32" if engine == "ort" else compute}
    model_sha256 = _model_digest(model_path)
    _check_run(out, {"model": str(model_path), "model_sha256": model_sha256, "options": options})
    # What each part records it was made with (and is checked against on a rerun, run.json or not).
    part_options = {**options, "model_sha256": model_sha256}

    t0 = time.perf_counter()
    shards = _scan_inputs(files, shard_records, "label")
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if progress else (lambda m: None)
    todo = _todo(out, shards, part_options, say)
    say(f"esm-onnx-ray: {len(files)} input file(s), {sum(s.records for s in shards)} records in {len(shards)} shards; "
        f"{len(shards) - len(todo)} already done, {len(todo)} to run on {workers} worker(s) x {threads_per_worker} "
        "thread(s)")
    from .worker import ShardEmbedder

    compute = _map_shards(ShardEmbedder, todo, {"model": str(model_path), "options": part_options, "outdir": str(out),
                                                "threads": threads_per_worker},
                          workers, threads_per_worker, address, say, "records")
    return _finish(out, files, model_path, options, shards, len(todo), time.perf_counter() - t0, compute, say)


def _scan_inputs(files: list[pathlib.Path], shard_records: int, key: str) -> list[Shard]:
    """The shards of every input, with the records whose key (embed: the label, score: the seq_id) an earlier record
    of any input already has marked to be left out: decided once, here, before any worker starts, so that no two
    workers write one output and the counts add up."""
    keys = RecordKeys(key)
    return keys.mark_duplicates([s for f in files for s in scan(f, shard_records, keys)])


def _todo(out: pathlib.Path, shards: list[Shard], part_options: dict, say, also_needs: str = "") -> list[Shard]:
    """The shards without a verified part (and, with `also_needs`, without parts/<name><also_needs>); what is there
    for them is removed, and a part redone for a reason says it."""
    todo = []
    for s in shards:
        done, why = _parts.part_is_done(out, s.name, s.digest, part_options)
        if done and (not also_needs or (out / "parts" / f"{s.name}{also_needs}").exists()):
            continue
        if why not in ("not written", ""):
            say(f"esm-onnx-ray: part {s.name} is redone: {why}")
        _parts.remove_part(out, s.name, part_options["format"])
        todo.append(s)
    return todo


def _require_ray() -> None:
    try:
        import pyarrow  # noqa: F401
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as e:
        raise UsageError(f"esm_onnx.distributed needs Ray Data and pyarrow ({e}): pip install 'esm-onnx[ray]'") from None


def _model_file(model: str | os.PathLike[str]) -> pathlib.Path:
    path = pathlib.Path(model).resolve()
    if not path.is_file():
        from .._errors import FileError

        raise FileError(f"{model}: no such model file")
    return path


def _check_engine(engine: str, compute: str) -> None:
    import esm_onnx

    esm_onnx.check_engine_options(str(engine), str(compute))
    if engine == "openvino" and compute == "auto":
        raise UsageError("--engine openvino --compute auto: on Ray each worker would choose for its own CPU, and one "
                         "run could mix bf16 and fp32 outputs; choose --compute bf16 (workers without AVX512_BF16 or "
                         "AMX-BF16 then stop with that error) or --compute fp32")


def _start_ray(address: str | None) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="WARNING",
                 configure_logging=True)


def _map_shards(actor: type, todo: list[Shard], kwargs: dict[str, Any], workers: int, threads_per_worker: int,
                address: str | None, say, unit: str) -> float:
    """Runs `actor` (a map_batches callable, one shard per call) over the shards to do with `workers` actors;
    says each part as it finishes. Returns the seconds from Ray's start to the last part."""
    if not todo:
        return 0.0
    import ray

    _start_ray(address)
    t_up = time.perf_counter()
    ds = ray.data.from_items([s.as_row() for s in todo], override_num_blocks=len(todo))
    results = ds.map_batches(actor, batch_size=1, concurrency=workers, num_cpus=threads_per_worker,
                             fn_constructor_kwargs=kwargs)
    start = time.perf_counter()
    done = tokens = 0
    for row in results.iter_rows():
        done += int(row["records"])
        tokens += int(row["tokens"])
        dt = max(time.perf_counter() - start, 1e-9)
        say(f"esm-onnx-ray: part {row['name']} done; {done} {unit}, {done / dt:.1f} {unit}/s, {tokens / dt:.0f} "
            "tokens/s across the cluster")
    return time.perf_counter() - t_up


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
    run = json.loads((out / "run.json").read_text())
    manifest = {"model": str(model), "model_sha256": run["model_sha256"], "options": options,
                "inputs": [str(f) for f in files], "parts": len(shards), "parts_run": redone, "seconds": seconds,
                "compute_seconds": compute,
                **totals}
    _parts.write_atomic(out / "manifest.json", json.dumps(manifest, indent=1))
    say(f"esm-onnx-ray: {totals['records']} records: {totals['written']} written, {totals['already_present']} already "
        f"present, {totals['skipped']} skipped ({out / 'skipped.tsv'}); {redone} of {len(shards)} parts run in "
        f"{seconds:.1f} s")
    return manifest


from .score import score  # noqa: E402  (the scoring job shares the helpers above)
