"""The skeleton every sharded Ray job shares (embed, score): inputs cut into shards of whole records, duplicate
ids decided once, a part per shard verified on a rerun, a pool of actors holding the model once, and the counts
gathered at the end. Each job says only what differs: how records are keyed, its actor, its options and how its
parts are put together (`ShardedJob`)."""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

from .._digest import sha256_file
from .._errors import FileError, UsageError
from . import parts as _parts
from .shards import RecordKeys, Shard, expand_inputs, scan


@dataclasses.dataclass(frozen=True)
class ShardedJob:
    key: str                 # how outputs are keyed, so which records are duplicates: "label" or "seq_id" (shards.KEYS)
    unit: str                # what a record is called in progress lines: "records", "proteins"
    actor: Callable[[], type]  # the Ray actor class (imported on the driver only when shards run)
    finish: Callable[..., dict[str, Any]]  # (out, files, model, options, shards, redone, seconds, compute, say)
    also_needs: str = ""     # a part counts as done only with parts/<name><also_needs> too


def run(job: ShardedJob, model_path: pathlib.Path, inputs: Any, outdir: Any, options: dict[str, Any], workers: int,
        threads_per_worker: int, address: str | None, shard_records: int, progress: bool) -> dict[str, Any]:
    """A job's run once its options are checked: OUTDIR claimed for this model and these options, the shards to do
    found, run on Ray, and the job's parts put together. Returns the manifest."""
    out = pathlib.Path(outdir).resolve()
    files = expand_inputs([str(i) for i in inputs])
    model_sha256 = model_digest(model_path)
    check_run(out, {"model": str(model_path), "model_sha256": model_sha256, "options": options})
    # What each part records it was made with (and is checked against on a rerun, run.json or not).
    part_options = {**options, "model_sha256": model_sha256}
    t0 = time.perf_counter()
    shards = scan_inputs(files, shard_records, job.key)
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if progress else (lambda m: None)
    todo = todo_of(out, shards, part_options, say, job.also_needs)
    say(f"esm-onnx-ray: {len(files)} input file(s), {sum(s.records for s in shards)} {job.unit} in {len(shards)} shards; "
        f"{len(shards) - len(todo)} already done, {len(todo)} to run on {workers} worker(s) x {threads_per_worker} "
        "thread(s)")
    compute = map_shards(job.actor() if todo else None, todo, {"model": str(model_path), "options": part_options,
                                                                "outdir": str(out), "threads": threads_per_worker},
                         workers, threads_per_worker, address, say, job.unit)
    return job.finish(out, files, model_path, options, shards, len(todo), time.perf_counter() - t0, compute, say)


def model_digest(model: pathlib.Path) -> str:
    digest = sha256_file(model)
    data = model.with_name(model.name + ".data")
    return digest + ("+" + sha256_file(data) if data.exists() else "")


def check_run(outdir: pathlib.Path, run: dict) -> None:
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


def scan_inputs(files: list[pathlib.Path], shard_records: int, key: str) -> list[Shard]:
    """The shards of every input, with the records whose key (embed: the label, score: the seq_id) an earlier record
    of any input already has marked to be left out: decided once, here, before any worker starts, so that no two
    workers write one output and the counts add up."""
    keys = RecordKeys(key)
    return keys.mark_duplicates([s for f in files for s in scan(f, shard_records, keys)])


def todo_of(out: pathlib.Path, shards: list[Shard], part_options: dict, say, also_needs: str = "") -> list[Shard]:
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


def require_ray() -> None:
    try:
        import pyarrow  # noqa: F401
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as e:
        raise UsageError(f"esm_onnx.distributed needs Ray Data and pyarrow ({e}): pip install 'esm-onnx[ray]'") from None


def model_file(model: str | os.PathLike[str]) -> pathlib.Path:
    path = pathlib.Path(model).resolve()
    if not path.is_file():
        raise FileError(f"{model}: no such model file")
    return path


def check_engine(engine: str, compute: str) -> None:
    import esm_onnx

    esm_onnx.check_engine_options(str(engine), str(compute))
    if engine == "openvino" and compute == "auto":
        raise UsageError("--engine openvino --compute auto: on Ray each worker would choose for its own CPU, and one "
                         "run could mix bf16 and fp32 outputs; choose --compute bf16 (workers without AVX512_BF16 or "
                         "AMX-BF16 then stop with that error) or --compute fp32")


def start_ray(address: str | None) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="WARNING",
                 configure_logging=True)


def map_shards(actor: type, todo: list[Shard], kwargs: dict[str, Any], workers: int, threads_per_worker: int,
                address: str | None, say, unit: str) -> float:
    """Runs `actor` (a map_batches callable, one shard per call) over the shards to do with `workers` actors;
    says each part as it finishes. Returns the seconds from Ray's start to the last part."""
    if not todo:
        return 0.0
    import ray

    start_ray(address)
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


def write_manifest(out: pathlib.Path, files: list[pathlib.Path], model: pathlib.Path, options: dict[str, Any], parts: int,
                   redone: int, seconds: float, compute: float, totals: dict[str, int]) -> dict[str, Any]:
    """manifest.json, written last, when the run is complete: what ran (model, options, inputs), the parts, the
    times and the job's counts. Returns it."""
    run = json.loads((out / "run.json").read_text())
    manifest = {"model": str(model), "model_sha256": run["model_sha256"], "options": options,
                "inputs": [str(f) for f in files], "parts": parts, "parts_run": redone, "seconds": seconds,
                "compute_seconds": compute, **totals}
    _parts.write_atomic(out / "manifest.json", json.dumps(manifest, indent=1))
    return manifest
