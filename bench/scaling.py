"""`make scaling`: what one esm-onnx-ray actor does on this machine, and from it what embedding UniRef50
costs on many machines. Writes SCALING.md.

Measured here: per-actor throughput (the embed loop with one ONNX Runtime thread, which is what an actor of
`--threads-per-worker 1` runs) per model and precision; Ray's cost per shard (one actor through
esm-onnx-ray against the same loop without Ray); the driver's FASTA scan rate; the Parquet write rate."""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shutil
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench as B  # noqa: E402
from fasta import realistic_lengths, write_fasta  # noqa: E402

sys.path.insert(0, str(B.ROOT / "build" / "python"))

# model -> (precisions, sequences); enough work for tens of seconds per run at one thread.
PLAN = {
    "esm2_t6_8M": (["fp32", "int8", "int4"], 120),
    "esm2_t12_35M": (["fp32", "int8", "int4"], 60),
    "esm2_t30_150M": (["fp32", "int8", "int4"], 24),
    "esm2_t33_650M": (["fp32", "int8"], 8),
}
QUICK = {"esm2_t6_8M": (["fp32", "int8"], 60), "esm2_t12_35M": (["fp32", "int8"], 30)}
UNIREF50_SEQUENCES = 65_000_000
UNIREF50_MEAN_RESIDUES = 270  # an assumption: set yours; tokens = sequences x (residues + BOS + EOS)
FASTA_BYTES_PER_RECORD = 340  # header (~60 bytes) + residues + line breaks, at the mean above


def per_actor(bench: B.Bench, plan: dict) -> dict:
    rows = {}
    for name, (precisions, n) in plan.items():
        ckpt = bench.checkpoint(name)
        fasta = write_fasta(bench.work / f"scaling_{name}.fasta", realistic_lengths(n, seed=17), seed=17)
        seqs, toks = B.residues(fasta)
        for p in precisions:
            model = bench.work / "models" / name / f"{p}.onnx"
            if not model.exists():
                model.parent.mkdir(parents=True, exist_ok=True)
                B.measure([B.CLI, "convert", ckpt, "-o", model, "--no-contacts", "--precision", p, "-q"],
                          bench.work / "logs" / f"scaling_convert_{name}_{p}.log")
            out = bench.work / "out" / "scaling"
            shutil.rmtree(out, ignore_errors=True)
            r = B.measure([B.CLI, "embed", model, fasta, out, "--threads", "1", "--no-progress"],
                          bench.work / "logs" / f"scaling_{name}_{p}.log")
            compute, load = B.esm_onnx_seconds(r["log"])
            rate = (toks + 2 * seqs) / max(compute - load, 1e-9)
            rows[f"{name} {p}"] = {"tokens_per_s": rate, "rss_mib": r["rss_mib"]}
            B.log(f"per actor: {name} {p}: {rate:.0f} tokens/s, peak {r['rss_mib']:.0f} MiB")
    return rows


def ray_overhead(bench: B.Bench, name: str, n: int, shard: int) -> dict:
    model = bench.work / "models" / name / "fp32.onnx"
    fasta = write_fasta(bench.work / f"scaling_ray_{name}.fasta", realistic_lengths(n, seed=19), seed=19)
    seqs, toks = B.residues(fasta)
    env = dict(os.environ, PYTHONPATH=str(B.ROOT / "build" / "python"), RAY_USAGE_STATS_ENABLED="0")
    out = bench.work / "out" / "scaling_cli"
    shutil.rmtree(out, ignore_errors=True)
    r = B.measure([B.CLI, "embed", model, fasta, out, "--threads", "1", "--no-progress"], bench.work / "logs" / "sc_cli.log")
    compute, load = B.esm_onnx_seconds(r["log"])
    out = bench.work / "out" / "scaling_ray"
    shutil.rmtree(out, ignore_errors=True)
    B.measure([B.PY, "-m", "esm_onnx.distributed", "embed", model, fasta, out, "--workers", "1", "--threads-per-worker",
               "1", "--shard-records", str(shard), "--no-progress"], bench.work / "logs" / "sc_ray.log", env=env)
    m = json.loads((out / "manifest.json").read_text())
    per_shard = (m["compute_seconds"] - (compute - load)) / m["parts"]
    B.log(f"ray: {m['parts']} shards, {m['compute_seconds']:.1f} s against {compute - load:.1f} s without Ray: "
          f"{per_shard * 1000:.0f} ms per shard")
    return {"parts": m["parts"], "ray_seconds": m["compute_seconds"], "plain_seconds": compute - load,
            "per_shard_s": per_shard, "sequences": seqs, "tokens": toks}


def scan_rate(bench: B.Bench) -> float:
    from esm_onnx.distributed.shards import scan

    path = bench.work / "scaling_scan.fasta"
    if not path.exists():
        write_fasta(path, realistic_lengths(200_000, seed=23), seed=23)
    t0 = time.perf_counter()
    scan(path, 2048)
    rate = path.stat().st_size / (time.perf_counter() - t0)
    B.log(f"driver scan: {rate / 2**20:.0f} MiB/s")
    return rate


def parquet_rate(bench: B.Bench, dim: int = 1280) -> float:
    from esm_onnx.distributed.parts import ParquetPart, arrow_schema

    class Fake:
        def __init__(self, i, v):
            self.label, self.index, self.length, self.mean = f"r{i}", i, 300, {33: v}

    rng = np.random.default_rng(0)
    rows = [Fake(i, rng.standard_normal(dim).astype(np.float32)) for i in range(20_000)]
    path = bench.work / "scaling_part.parquet"
    t0 = time.perf_counter()
    part = ParquetPart(path, ["mean"], [33], arrow_schema(["mean"], [33], dim, 33))
    for r in rows:
        part.add(r)
    part.close()
    rate = len(rows) / (time.perf_counter() - t0)
    B.log(f"parquet: {rate:.0f} records/s ({path.stat().st_size / len(rows):.0f} bytes per record, mean of dim {dim})")
    return rate


def report(actor: dict, ray: dict, scan: float, parquet: float, args) -> str:
    tokens = UNIREF50_SEQUENCES * (UNIREF50_MEAN_RESIDUES + 2)
    lines = ["# Scaling", "",
             f"Measured by `make scaling` (bench/scaling.py) on {B.machine()}, {datetime.date.today().isoformat()}; "
             "random weights at the released sizes (speed is that of the real models).", "",
             "## One actor", "",
             "An esm-onnx-ray actor with `--threads-per-worker 1` runs the embed loop with one ONNX Runtime thread; "
             "its throughput, after the model is loaded, on FASTA of realistic lengths (log-normal, median ~300):", "",
             "| model, precision | tokens/s per actor (1 thread) | peak RSS (MiB) |", "|---|---:|---:|"]
    lines += [f"| {k} | {r['tokens_per_s']:.0f} | {r['rss_mib']:.0f} |" for k, r in actor.items()]
    lines += ["", f"Ray's own cost: {ray['parts']} shards of {ray['sequences']} sequences through one actor took "
              f"{ray['ray_seconds']:.1f} s against {ray['plain_seconds']:.1f} s for the same loop without Ray, "
              f"{1000 * ray['per_shard_s']:.0f} ms per shard (scheduling, copying the shard's bytes to a temporary "
              "file, the Parquet part and its summary). With the default 2048-record shards that is "
              f"{100 * ray['per_shard_s'] / max(1e-9, 2048 * 300 / next(iter(actor.values()))['tokens_per_s']):.2f}% "
              "of a shard's compute on the smallest model above, and less on larger ones.", "",
              f"The driver reads every FASTA header once to cut shards: {scan / 2**20:.0f} MiB/s here. Writing mean "
              f"embeddings (dim 1280) to Parquet: {parquet:.0f} records/s on one core.", "",
              "## UniRef50, mean embeddings", "",
              f"Assumed: {UNIREF50_SEQUENCES / 1e6:.0f} million sequences of {UNIREF50_MEAN_RESIDUES} residues on "
              f"average, so {tokens / 1e9:.1f} billion tokens (BOS and EOS counted). Machines of 64 cores like this "
              "one's, each running 64 actors of one thread (or 32 of two); the per-core rate measured above, and "
              "Ray's per-shard cost added.", ""]
    lines += ["| model, precision | core-hours | 1 machine (64 cores) | 16 machines | 100 machines |",
              "|---|---:|---:|---:|---:|"]
    estimates = {}
    for key in ("esm2_t33_650M fp32", "esm2_t33_650M int8"):
        if key in actor:
            estimates[key] = actor[key]["tokens_per_s"]
    # ESM C 300M: 30 blocks of width 960 with a 2560-wide SwiGLU, 332M weights in its matrices against
    # ESM-2 150M's 147M at the same depth; its cost per token scales with them.
    for p in ("fp32", "int8"):
        if f"esm2_t30_150M {p}" in actor:
            estimates[f"ESM C 300M {p} (estimated from ESM-2 150M x 147/332)"] = actor[f"esm2_t30_150M {p}"][
                "tokens_per_s"] * 147 / 332
    for key, rate in estimates.items():
        shard_s = 2048 * (UNIREF50_MEAN_RESIDUES + 2) / rate
        eff_rate = rate * shard_s / (shard_s + ray["per_shard_s"])
        core_h = tokens / eff_rate / 3600
        cells = " | ".join(_hours(core_h / (64 * m)) for m in (1, 16, 100))
        lines.append(f"| {key} | {core_h:,.0f} | {cells} |")
    out_bytes = UNIREF50_SEQUENCES * (1280 * 4 + 60)
    best = max(estimates.values(), default=0.0)
    per_machine = 64 * best / (UNIREF50_MEAN_RESIDUES + 2)
    lines += ["", "ESM C 300M rows are an estimate, not a measurement: esm-onnx does not convert ESM C checkpoints yet.",
              "", "## Where it stops scaling", "",
              f"- **Compute** is the limit everywhere above: at the fastest rate in the table a 64-core machine embeds "
              f"{per_machine:,.0f} records/s, 100 machines {100 * per_machine:,.0f}.",
              f"- **Input**: the driver's one pass over the headers takes "
              f"{UNIREF50_SEQUENCES * FASTA_BYTES_PER_RECORD / scan / 60:.1f} minutes for UniRef50 "
              f"(~{UNIREF50_SEQUENCES * FASTA_BYTES_PER_RECORD / 1e9:.0f} GB) at the rate measured here, before any "
              "worker starts (a one-off; a rerun scans again). Workers read their shard's byte range directly from "
              "the file, which must be on a filesystem every node sees; the whole input is read once in total.",
              f"- **Output**: mean embeddings of the 650M model take {out_bytes / 1e9:.0f} GB of Parquet (float32 "
              "does not compress). Parquet writing runs inside each actor, at "
              f"{parquet:.0f} records/s per core here, far above the compute rate, so the limit is the shared "
              f"filesystem's write bandwidth: 100 machines write about {100 * per_machine * 1280 * 4 / 1e6:,.0f} MB/s.",
              f"- **Scheduler**: one Ray Data task per shard, {UNIREF50_SEQUENCES // 2048:,} shards of 2048 records for "
              f"UniRef50, each costing {1000 * ray['per_shard_s']:.0f} ms of overhead here; Ray schedules thousands of "
              "tasks a second, so it is not the limit. The driver's memory holds the shard list (a few MB).",
              f"- **Per actor memory** is one shard's token ids and one batch (the peak RSS column), whatever the input "
              "size."]
    return "\n".join(lines) + "\n"


def _hours(h: float) -> str:
    return f"{h:,.1f} h" if h < 48 else f"{h / 24:,.1f} days"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="8M and 35M only")
    ap.add_argument("--workdir", type=pathlib.Path, default=B.ROOT / "bench" / "out")
    ap.add_argument("--output", type=pathlib.Path, default=B.ROOT / "SCALING.md")
    args = ap.parse_args()
    bench = B.Bench(argparse.Namespace(workdir=args.workdir, threads=1))
    plan = QUICK if args.quick else PLAN
    actor = per_actor(bench, plan)
    ray = ray_overhead(bench, "esm2_t12_35M", 120, 16)
    args.output.write_text(report(actor, ray, scan_rate(bench), parquet_rate(bench), args))
    B.log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
