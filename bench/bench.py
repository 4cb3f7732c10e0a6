"""`make bench`: esm-onnx side by side with every peer, on the same FASTA, with the same thread count, in
one invocation. Writes BENCHMARKS.md (tables, machine, versions, command) and the throughput plot.

Peers: fair-esm (esm-extract's loop, torch CPU), the original ESM-to-ONNX route (torch.onnx.export with a
tensor `repr_layers`, onnxruntime.transformers.optimizer as bert, InferenceSession), HF transformers
`EsmModel` on the same weights. esm-onnx runs in every precision. Each run is a whole process: tokens/s
counts everything from start to exit; peak RSS is that process's. Fidelity is each run's mean embedding
against fair-esm's, record by record. The folding section (bench/fold_bench.py) runs ESMFold against
transformers' EsmForProteinFolding at the released sizes (--quick: reduced).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(HERE))

from cpu_flags import cpu_has_bf16  # noqa: E402
from fasta import realistic_lengths, write_fasta  # noqa: E402

PY = sys.executable
CLI = ROOT / "build" / "bin" / "esm-onnx"

# name -> (family, layers, dim, heads, sequences in the full run)
MODELS = {
    "esm2_t6_8M": ("esm2", 6, 320, 20, 160),
    "esm2_t12_35M": ("esm2", 12, 480, 20, 96),
    "esm2_t30_150M": ("esm2", 30, 640, 20, 40),
    "esm2_t33_650M": ("esm2", 33, 1280, 20, 16),
    "esm1b_t33_650M": ("esm1b", 33, 1280, 20, 16),
}
QUICK = {"esm2_t6_8M": 40, "esm2_t12_35M": 24}
# ESM C at the released sizes: name -> (layers, dim, sequences in the full run). fair-esm cannot run it; the peer
# is transformers' ESM C.
ESMC_MODELS = {"esmc_300m": (30, 960, 24), "esmc_600m": (36, 1152, 16)}
PRECISIONS = ["fp32", "fp16", "int8", "int4"]
# The OpenVINO engine: label -> (graph: `convert --engine openvino --precision`, compute). bf16 rows only where
# the CPU has AVX512_BF16 or AMX-BF16.
OPENVINO = {"esm-onnx OpenVINO fp32": ("fp32", "fp32"), "esm-onnx OpenVINO bf16": ("fp32", "bf16"),
            "esm-onnx OpenVINO int8 (bf16)": ("int8", "bf16")}
# Fidelity tiers of the mean embeddings against fair-esm: name -> (max abs error, minimum cosine).
TIERS = {"exact": (1e-4, 0.0), "near-exact": (float("inf"), 0.9999), "compact": (float("inf"), 0.99)}


def openvino_runs() -> dict[str, tuple[str, str]]:
    return {k: v for k, v in OPENVINO.items() if v[1] != "bf16" or cpu_has_bf16()}
SWEEP_LENGTHS = [64, 128, 256, 512, 1022]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def measure(cmd: list, log_path: pathlib.Path, env: dict | None = None) -> dict:
    """Runs cmd as its own process: wall seconds, peak RSS (MiB), and its output.

    GNU time starts the command: a child forked from this (large) Python process would inherit its RSS
    high-water mark, which the kernel reports as the child's own."""
    rss_file = log_path.with_suffix(".rss")
    t0 = time.perf_counter()
    with open(log_path, "w") as out:
        code = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *map(str, cmd)], stdout=out,
                               stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - t0
    text = log_path.read_text()
    if code != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {code}; see {log_path}:\n{text[-2000:]}")
    return {"wall": wall, "rss_mib": int(rss_file.read_text().split()[-1]) / 1024.0, "log": text}


def runner_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("runner printed no JSON line")


def esm_onnx_seconds(text: str) -> tuple[float, float]:
    m = re.search(r"in ([\d.]+) s \(model loaded in ([\d.]+) s\)", text)
    if not m:
        raise RuntimeError(f"unexpected embed output: {text[-500:]}")
    return float(m.group(1)), float(m.group(2))


def residues(fasta: pathlib.Path) -> tuple[int, int]:
    n = toks = 0
    for line in fasta.read_text().splitlines():
        if line.startswith(">"):
            n += 1
        else:
            toks += len(line.strip())
    return n, toks


def load_means(outdir: pathlib.Path, layer: int) -> dict[str, np.ndarray]:
    import torch

    out = {}
    for f in outdir.iterdir():
        if f.suffix == ".pt":
            out[f.stem] = torch.load(f)["mean_representations"][layer].numpy()
        elif f.suffix == ".npz":
            out[f.stem] = np.load(f)[f"mean_representations/{layer}"]
    return out


def load_contacts(outdir: pathlib.Path) -> dict[str, np.ndarray]:
    import torch

    out = {}
    for f in outdir.iterdir():
        if f.suffix == ".pt":
            out[f.stem] = torch.load(f)["contacts"].numpy()
        elif f.suffix == ".npz":
            out[f.stem] = np.load(f)["contacts"]
    return out


def fidelity(got: dict, ref: dict) -> tuple[float, float]:
    if set(got) != set(ref):
        raise RuntimeError(f"records differ: {sorted(set(got) ^ set(ref))[:5]}")
    err, cos = 0.0, 1.0
    for k, r in ref.items():
        g = got[k]
        err = max(err, float(np.abs(g - r).max()))
        cos = min(cos, float(g @ r / (np.linalg.norm(g) * np.linalg.norm(r))))
    return err, cos


def matmul_peak(threads: int) -> float:
    """ONNX Runtime's fp32 MatMul at its best on this machine, GFLOP/s (the ceiling for fp32 graphs)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    best = 0.0
    for m, k, n in [(1024, 1280, 5120), (2048, 1024, 4096), (512, 640, 2560)]:
        w = np.random.default_rng(0).standard_normal((k, n)).astype(np.float32)
        g = helper.make_graph([helper.make_node("MatMul", ["a", "w"], ["y"])], "mm",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
                              [onnx.numpy_helper.from_array(w, "w")])
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(helper.make_model(g).SerializeToString(), so, providers=["CPUExecutionProvider"])
        a = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
        sess.run(None, {"a": a})
        reps, t0 = 10, time.perf_counter()
        for _ in range(reps):
            sess.run(None, {"a": a})
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9)
    return best


def flops_per_token(layers: int, dim: int, seq: int) -> float:
    """Linear layers 24 L d^2 (q, k, v, out, fc1, fc2, multiply-add) plus attention 4 L T d."""
    return 24 * layers * dim * dim + 4 * layers * seq * dim


def profile(model: pathlib.Path, threads: int, seq: int, batch: int) -> list[tuple[str, float]]:
    """Share of ONNX Runtime kernel time per op type for one batch of `batch` x `seq` tokens."""
    import collections

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.enable_profiling = True
    so.profile_file_prefix = str(model.parent / "profile")
    sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    toks = np.random.default_rng(0).integers(4, 24, (batch, seq))
    toks[:, 0], toks[:, -1] = 0, 2
    for _ in range(3):
        sess.run(["representations"], {"tokens": toks})
    events = json.loads(pathlib.Path(sess.end_profiling()).read_text())
    agg = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            agg[e["args"]["op_name"]] += e["dur"]
    total = sum(agg.values())
    return [(k, v / total) for k, v in agg.most_common(8)]


def latency_ms(model: pathlib.Path, threads: int, residues_: int = 64) -> float:
    """One sequence of `residues_` residues, best of 5 after a warm-up: where weights, not arithmetic, dominate."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    toks = np.random.default_rng(0).integers(4, 24, (1, residues_ + 2))
    toks[0, 0], toks[0, -1] = 0, 2
    sess.run(["representations"], {"tokens": toks})
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        sess.run(["representations"], {"tokens": toks})
        best = min(best, time.perf_counter() - t0)
    return 1000 * best


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = args.workdir
        (self.work / "logs").mkdir(parents=True, exist_ok=True)
        self.results: dict[str, dict] = {}
        self.conversions: dict[str, dict] = {}
        self.sweep: dict[str, dict[int, float]] = {}

    def checkpoint(self, name: str) -> pathlib.Path:
        import esm_checkpoints

        family, layers, dim, heads, _ = MODELS[name]
        path = self.work / "checkpoints" / f"{name}_RANDOM.pt"
        if not path.exists():
            log(f"{name}: making a random-weight checkpoint with fair-esm")
            esm_checkpoints.save_checkpoint(family, layers, dim, heads, path, contacts=True, seed=7)
        return path

    def convert(self, name: str, ckpt: pathlib.Path) -> dict[str, pathlib.Path]:
        models = {}
        for p in PRECISIONS:
            out = self.work / "models" / name / f"{p}.onnx"
            out.parent.mkdir(parents=True, exist_ok=True)
            r = measure([CLI, "convert", ckpt, "-o", out, "--no-contacts", "--precision", p, "-q"],
                        self.work / "logs" / f"{name}.convert.{p}.log")
            size = sum(f.stat().st_size for f in out.parent.glob(f"{p}.onnx*"))
            self.conversions.setdefault(name, {})[p] = {"seconds": r["wall"], "rss_mib": r["rss_mib"], "mib": size / 2**20}
            models[p] = out
        for graph in sorted({g for g, _ in openvino_runs().values()}):
            out = self.work / "models" / name / f"openvino_{graph}.onnx"
            r = measure([CLI, "convert", ckpt, "-o", out, "--no-contacts", "--engine", "openvino", "--precision", graph, "-q"],
                        self.work / "logs" / f"{name}.convert.openvino_{graph}.log")
            size = sum(f.stat().st_size for f in out.parent.glob(f"openvino_{graph}.onnx*"))
            self.conversions.setdefault(name, {})[f"OpenVINO {graph}"] = {"seconds": r["wall"], "rss_mib": r["rss_mib"],
                                                                          "mib": size / 2**20}
            models[f"openvino_{graph}"] = out
        route = self.work / "models" / name / "route.onnx"
        if not route.exists():
            try:
                r = measure([PY, HERE / "runners" / "onnx_route.py", "export", ckpt, route],
                            self.work / "logs" / f"{name}.route_export.log")
                self.conversions[name]["route export"] = {
                    "seconds": r["wall"], "rss_mib": r["rss_mib"],
                    "mib": sum(f.stat().st_size for f in route.parent.glob("route.onnx*")) / 2**20}
            except RuntimeError as e:
                log(f"  the original route's export failed: {str(e).splitlines()[0]}")
        models["route"] = route
        return models

    def runners(self, name, ckpt, models, layer):
        t = str(self.a.threads)
        yield "fair-esm (torch)", [PY, HERE / "runners" / "fair_esm_extract.py", ckpt, "{fasta}", "{out}", "--threads", t], "runner"
        yield "HF transformers EsmModel", [PY, HERE / "runners" / "hf_esm.py", ckpt, "{fasta}", "{out}", "--threads", t], "runner"
        yield "original ONNX route", [PY, HERE / "runners" / "onnx_route.py", "run", models["route"], "{fasta}", "{out}",
                                      "--layer", str(layer), "--threads", t], "runner"
        for p in PRECISIONS:
            yield f"esm-onnx {p}", [CLI, "embed", models[p], "{fasta}", "{out}", "--threads", t, "--no-progress"], "esm-onnx"
        for label, (graph, compute) in openvino_runs().items():
            yield label, [CLI, "embed", models[f"openvino_{graph}"], "{fasta}", "{out}", "--threads", t, "--no-progress",
                          "--engine", "openvino", "--compute", compute, "--cache-dir", self.work / "openvino-cache"], "esm-onnx"
        yield "esm-onnx Python API fp32", [PY, HERE / "runners" / "esm_onnx_python.py", models["fp32"], "{fasta}", "{out}",
                                           "--threads", t], "runner"

    def run_model(self, name: str, n_seq: int, lengths: list[int]) -> None:
        ckpt = self.checkpoint(name)
        layer = MODELS[name][1]
        fasta = write_fasta(self.work / f"{name}.fasta", lengths[:n_seq], seed=3)
        n, toks = residues(fasta)
        log(f"{name}: converting (esm-onnx {', '.join(PRECISIONS)}; the original route's export)")
        models = self.convert(name, ckpt)
        res = self.results.setdefault(name, {"sequences": n, "tokens": toks, "runs": {}, "lengths": lengths[:n_seq]})
        ref = None
        for label, cmd, kind in self.runners(name, ckpt, models, layer):
            out = self.work / "out" / name / re.sub(r"\W+", "_", label)
            shutil.rmtree(out, ignore_errors=True)
            log(f"{name}: {label}")
            if "OpenVINO" in label:
                self.warm_openvino_cache(cmd, name)
            cmd = [str(c).format(fasta=fasta, out=out) for c in cmd]
            if label == "original ONNX route" and not models["route"].exists():
                res["failed"] = res.get("failed", []) + [f"{label}: the export failed (see the logs)"]
                continue
            try:
                r = measure(cmd, self.work / "logs" / f"{name}.{out.name}.log")
            except RuntimeError as e:
                if ref is None:
                    raise
                res["failed"] = res.get("failed", []) + [f"{label}: {str(e).splitlines()[0]}"]
                log(f"  failed: {str(e).splitlines()[0]}")
                continue
            means = load_means(out, layer)
            if ref is None:
                ref = means
            err, cos = fidelity(means, ref)
            res["runs"][label] = {"wall": r["wall"], "rss_mib": r["rss_mib"], "tokens_per_s": toks / r["wall"],
                                  "seqs_per_s": n / r["wall"], "max_abs_err": err, "min_cos": cos}
            log(f"  {toks / r['wall']:.0f} tokens/s, peak {r['rss_mib']:.0f} MiB, max abs err {err:.2g}, min cos {cos:.6f}")
            self.save()
        res["latency_ms"] = {p: latency_ms(models[p], self.a.threads) for p in PRECISIONS}
        log(f"{name}: one 64-residue sequence: " + ", ".join(f"{p} {v:.1f} ms" for p, v in res["latency_ms"].items()))
        self.save()

    def warm_openvino_cache(self, cmd: list, name: str) -> None:
        """One record first, so that the measured run starts as every run after a model's first does: its
        compiled model read from OpenVINO's cache (the first start compiles; see the load times below)."""
        fasta = write_fasta(self.work / "warm.fasta", [50], seed=1)
        out = self.work / "out" / "warm"
        shutil.rmtree(out, ignore_errors=True)
        r = measure([str(c).format(fasta=fasta, out=out) for c in cmd], self.work / "logs" / f"{name}.warm.log")
        # The first start of a model file compiles; its other computes then start from the same cache entry.
        graph = pathlib.Path(next(str(c) for c in cmd if str(c).endswith(".onnx"))).stem
        self.extra = getattr(self, "extra", {})
        self.extra.setdefault("openvino_first_load", {}).setdefault(name, {}).setdefault(graph, esm_onnx_seconds(r["log"])[1])

    def run_sweep(self, name: str) -> None:
        """tokens/s against sequence length, counted after model load (in-process), same runners."""
        ckpt = self.checkpoint(name)
        layer = MODELS[name][1]
        models = {p: self.work / "models" / name / f"{p}.onnx" for p in PRECISIONS}
        models.update({f"openvino_{g}": self.work / "models" / name / f"openvino_{g}.onnx" for g, _ in OPENVINO.values()})
        models["route"] = self.work / "models" / name / "route.onnx"
        for T in SWEEP_LENGTHS:
            count = max(2, self.a.sweep_tokens // T)
            fasta = write_fasta(self.work / f"sweep_{T}.fasta", [T] * count, seed=T)
            for label, cmd, kind in self.runners(name, ckpt, models, layer):
                if label == "esm-onnx fp16" or (label == "original ONNX route" and not models["route"].exists()):
                    continue
                out = self.work / "out" / "sweep" / re.sub(r"\W+", "_", label)
                shutil.rmtree(out, ignore_errors=True)
                cmd = [str(c).format(fasta=fasta, out=out) for c in cmd]
                r = measure(cmd, self.work / "logs" / f"sweep.{T}.{out.name}.log")
                if kind == "esm-onnx":
                    total, load = esm_onnx_seconds(r["log"])
                    secs = total - load
                else:
                    secs = runner_json(r["log"])["compute_seconds"]
                self.sweep.setdefault(label, {})[T] = count * T / secs
                log(f"sweep {name} T={T} {label}: {count * T / secs:.0f} tokens/s")
                self.save()

    def run_contacts(self, name: str, n_seq: int, lengths: list[int]) -> None:
        """Contacts too: fair-esm's esm-extract with contacts against esm-onnx's explicit-attention graph."""
        ckpt = self.checkpoint(name)
        layer = MODELS[name][1]
        fasta = self.work / f"{name}.fasta"
        n, toks = residues(fasta)
        t = str(self.a.threads)
        runs = {}
        ref = None
        for p in ("fp32", "int8"):
            out = self.work / "models" / name / f"{p}_contacts.onnx"
            measure([CLI, "convert", ckpt, "-o", out, "--precision", p, "-q"], self.work / "logs" / f"{name}.convert_contacts.{p}.log")
        cmds = [("fair-esm (torch)", [PY, HERE / "runners" / "fair_esm_extract.py", ckpt, fasta, "{out}", "--threads", t, "--contacts"])]
        cmds += [(f"esm-onnx {p}", [CLI, "embed", self.work / "models" / name / f"{p}_contacts.onnx", fasta, "{out}",
                                    "--threads", t, "--no-progress", "--include", "mean", "contacts"]) for p in ("fp32", "int8")]
        for label, cmd in cmds:
            out = self.work / "out" / "contacts" / re.sub(r"\W+", "_", label)
            shutil.rmtree(out, ignore_errors=True)
            log(f"{name} with contacts: {label}")
            r = measure([str(c).format(out=out) for c in cmd], self.work / "logs" / f"contacts.{out.name}.log")
            maps = load_contacts(out)
            ref = ref or maps
            err = max(float(np.abs(maps[k] - ref[k]).max()) for k in ref)
            runs[label] = {"tokens_per_s": toks / r["wall"], "rss_mib": r["rss_mib"], "max_abs_err": err}
            log(f"  {toks / r['wall']:.0f} tokens/s, peak {r['rss_mib']:.0f} MiB, contacts max abs err {err:.2g}")
        self.extra = getattr(self, "extra", {})
        self.extra["contacts"] = {"model": name, "sequences": n, "tokens": toks, "runs": runs}
        self.save()

    def run_memory_scaling(self, name: str, base: int) -> None:
        """esm-onnx's peak RSS on a FASTA and on one 8 times larger: it should not grow with the file."""
        models = self.work / "models" / name / "fp32.onnx"
        self.extra = getattr(self, "extra", {})
        rows = {}
        lengths = realistic_lengths(base, seed=5)
        for n in (base, 8 * base):
            # The larger file repeats the same lengths: the largest batch is the same, only the file grows.
            fasta = write_fasta(self.work / f"memory_{n}.fasta", lengths * (n // base), seed=5)
            out = self.work / "out" / "memory"
            shutil.rmtree(out, ignore_errors=True)
            r = measure([CLI, "embed", models, fasta, out, "--threads", str(self.a.threads), "--no-progress"],
                        self.work / "logs" / f"memory_{n}.log")
            rows[n] = {"rss_mib": r["rss_mib"], "residues": residues(fasta)[1]}
            log(f"memory: {name} esm-onnx fp32, {n} records: peak {r['rss_mib']:.0f} MiB")
        self.extra["memory"] = {"model": name, "rows": rows}
        self.save()

    def run_ray(self, name: str, n_seq: int) -> None:
        """esm-onnx-ray with one and with two actors of one thread each, against the CLI with 2 threads, on
        this machine (Ray started locally by the driver, as `esm-onnx-ray embed` without --address does)."""
        model = self.work / "models" / name / "fp32.onnx"
        fasta = write_fasta(self.work / f"ray_{name}.fasta", realistic_lengths(n_seq, seed=13), seed=13)
        n, toks = residues(fasta)
        env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "python"), RAY_USAGE_STATS_ENABLED="0")
        shard = str(max(16, n // 8))  # eight parts: work for both actors until the end
        rows = {}
        runs = [("CLI, 2 threads", [CLI, "embed", model, fasta, "{out}", "--threads", "2", "--no-progress"]),
                ("esm-onnx-ray, 1 actor x 1 thread", [PY, "-m", "esm_onnx.distributed", "embed", model, fasta, "{out}",
                                                      "--workers", "1", "--threads-per-worker", "1", "--shard-records",
                                                      shard, "--no-progress"]),
                ("esm-onnx-ray, 2 actors x 1 thread", [PY, "-m", "esm_onnx.distributed", "embed", model, fasta, "{out}",
                                                       "--workers", "2", "--threads-per-worker", "1", "--shard-records",
                                                       shard, "--no-progress"])]
        for label, cmd in runs:
            out = self.work / "out" / "ray" / re.sub(r"\W+", "_", label)
            shutil.rmtree(out, ignore_errors=True)
            log(f"ray: {name}: {label}")
            r = measure([str(c).format(out=out) for c in cmd], self.work / "logs" / f"ray_{out.name}.log", env=env)
            row = {"wall": r["wall"], "rss_mib": r["rss_mib"]}
            manifest = out / "manifest.json"
            if manifest.exists():
                m = json.loads(manifest.read_text())
                row["compute"] = m.get("compute_seconds")
                row["parts"] = m.get("parts")
            rows[label] = row
            log(f"  {n / r['wall']:.1f} records/s, {toks / r['wall']:.0f} tokens/s (whole process)")
        self.extra = getattr(self, "extra", {})
        self.extra["ray"] = {"model": name, "sequences": n, "tokens": toks, "rows": rows}
        self.save()

    def run_esmc(self, name: str, n_seq: int, lengths: list[int]) -> None:
        """ESM C: esm-onnx in every precision, converted from the release .pth layout, against transformers'
        ESM C on the same random weights (its folder)."""
        import hf_checkpoints as hf

        layers, dim, _ = ESMC_MODELS[name]
        d = self.work / "checkpoints" / name
        pth, folder = d / f"{name}_2024_12_v0_RANDOM.pth", d / "hf"
        if not pth.exists() or not (folder / "config.json").exists():
            log(f"{name}: making a random-weight ESM C ({layers} layers, dim {dim}) with transformers")
            model = hf.build_esmc("EsmcForMaskedLM", layers, dim, seed=7)
            hf.save_esmc(model, folder, "save_pretrained")
            hf.save_esmc(model, pth, "release")
            del model
        fasta = write_fasta(self.work / f"{name}.fasta", lengths[:n_seq], seed=3)
        n, toks = residues(fasta)
        t = str(self.a.threads)
        models = {}
        for p in PRECISIONS:
            out = self.work / "models" / name / f"{p}.onnx"
            out.parent.mkdir(parents=True, exist_ok=True)
            r = measure([CLI, "convert", pth, "-o", out, "--precision", p, "-q"], self.work / "logs" / f"{name}.convert.{p}.log")
            size = sum(f.stat().st_size for f in out.parent.glob(f"{p}.onnx*"))
            self.conversions.setdefault(name, {})[p] = {"seconds": r["wall"], "rss_mib": r["rss_mib"], "mib": size / 2**20}
            models[p] = out
        runs = [("transformers ESM C (torch)", [PY, HERE / "runners" / "hf_esmc.py", folder, fasta, "{out}", "--threads", t])]
        runs += [(f"esm-onnx {p}", [CLI, "embed", models[p], fasta, "{out}", "--threads", t, "--no-progress"]) for p in PRECISIONS]
        res = self.results.setdefault(name, {"sequences": n, "tokens": toks, "runs": {}, "esmc": True, "lengths": lengths[:n_seq]})
        ref = None
        for label, cmd in runs:
            out = self.work / "out" / name / re.sub(r"\W+", "_", label)
            shutil.rmtree(out, ignore_errors=True)
            log(f"{name}: {label}")
            r = measure([str(c).format(out=out) for c in cmd], self.work / "logs" / f"{name}.{out.name}.log")
            means = load_means(out, layers)
            ref = ref or means
            err, cos = fidelity(means, ref)
            res["runs"][label] = {"wall": r["wall"], "rss_mib": r["rss_mib"], "tokens_per_s": toks / r["wall"],
                                  "seqs_per_s": n / r["wall"], "max_abs_err": err, "min_cos": cos}
            log(f"  {toks / r['wall']:.0f} tokens/s, peak {r['rss_mib']:.0f} MiB, max abs err {err:.2g}, min cos {cos:.6f}")
            self.save()

    def run_roofline(self, quick: bool) -> None:
        """GEMM peaks of every engine the tables ran, each tier's fraction of its roofline, and where the time
        goes (ESM-2 35M and 150M, or the largest ESM-2 of the run)."""
        import roofline

        specs = {name: (MODELS[name][0], MODELS[name][1], MODELS[name][2], 33)
                 for name in self.results if name in MODELS}
        specs.update({name: ("esmc", ESMC_MODELS[name][0], ESMC_MODELS[name][1], 64) for name in self.results if name in ESMC_MODELS})
        engines = [e for e in roofline.ENGINES if (e.startswith("OpenVINO") and cpu_has_bf16()) or e in
                   ("ONNX Runtime fp32 (MatMul)", "ONNX Runtime int8 (DynamicQuantizeMatMul)",
                    "ONNX Runtime int4 (MatMulNBits, int8 compute)", "OpenVINO fp32")]
        log(f"roofline: GEMM peaks of {len(engines)} engines at {len(specs)} models' shapes")
        peaks = roofline.measure_peaks(specs, engines, self.a.threads, log)
        rows = []
        for name, spec in specs.items():
            rows += roofline.fractions(name, spec, self.results[name]["lengths"], self.results[name]["runs"], peaks)
        roofline.print_fractions(rows, log)
        plot_path = HERE / "roofline.png"
        roofline.plot(rows, plot_path)
        profiles = {}
        esm2 = [m for m in ("esm2_t12_35M", "esm2_t30_150M") if m in self.results] or [m for m in self.results if m.startswith("esm2")][-1:]
        for name in esm2:
            d, lengths = self.work / "models" / name, self.results[name]["lengths"]
            flops = roofline.fasta_flops(specs[name], lengths)
            for label, model in (("ONNX Runtime fp32", "fp32"), ("ONNX Runtime int8", "int8")):
                log(f"profile: {name} {label}")
                profiles[f"{name} / {label}"] = roofline.profile_ort(d / f"{model}.onnx", lengths, self.a.threads, flops)
            for label, (graph, compute) in openvino_runs().items():
                log(f"profile: {name} {label}")
                profiles[f"{name} / {label.replace('esm-onnx ', '')}"] = roofline.profile_openvino(
                    d / f"openvino_{graph}.onnx", lengths, self.a.threads, compute, flops)
        note = ("" if cpu_has_bf16() else "This CPU has neither AVX512_BF16 nor AMX-BF16: the bf16 rows and peaks are "
                "absent (OpenVINO would compute bf16 graphs in fp32 here), so the bf16 targets cannot be measured on it.")
        self.extra = getattr(self, "extra", {})
        self.extra["roofline"] = {"peaks": peaks, "fractions": rows, "profiles": profiles, "bf16_note": note,
                                  "plot": os.path.relpath(plot_path, self.a.output.parent)}
        self.save()

    def save(self) -> None:
        (self.work / "results.json").write_text(json.dumps(
            {"results": self.results, "conversions": self.conversions, "sweep": self.sweep,
             "extra": getattr(self, "extra", {})}, indent=1))


def versions() -> dict[str, str]:
    import importlib.metadata as md

    v = {}
    for pkg in ["torch", "fair-esm", "onnxruntime", "transformers", "numpy"]:
        try:
            v[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            v[pkg] = "absent"
    v["esm-onnx"] = subprocess.run([CLI, "--version"], capture_output=True, text=True).stdout.strip().split()[-1]
    try:
        v["git"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        v["git"] = "?"
    return v


def machine() -> str:
    cpu = "?"
    flags = ""
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and cpu == "?":
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            f = line.split(":", 1)[1].split()
            flags = ", ".join(x for x in ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"] if x in f)
    mem = int(pathlib.Path("/proc/meminfo").read_text().split()[1]) / 2**20
    return f"{cpu}, {os.cpu_count()} cores ({flags}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def plot(sweep: dict, path: pathlib.Path, model: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for label, points in sweep.items():
        xs = sorted(int(k) for k in points)
        ax.plot(xs, [points[x] if x in points else points[str(x)] for x in xs], marker="o",
                linestyle="-" if label.startswith("esm-onnx") else "--", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(SWEEP_LENGTHS, [str(x) for x in SWEEP_LENGTHS])
    ax.set_xlabel("sequence length (residues)")
    ax.set_ylabel("tokens/s (after model load)")
    ax.set_title(f"{model} (random weights), 2 threads")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def tier_table(runs: dict, fair: float, fastest_peer: float) -> list[str]:
    """The fastest esm-onnx setting at each fidelity tier (mean embeddings against fair-esm)."""
    lines = ["| fidelity | fastest esm-onnx setting | tokens/s | vs fair-esm | vs fastest peer | max abs err | min cosine |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for tier, (max_err, min_cos) in TIERS.items():
        ok = {k: r for k, r in runs.items() if k.startswith("esm-onnx") and "Python" not in k
              and r["max_abs_err"] <= max_err and r["min_cos"] >= min_cos}
        if not ok:
            lines.append(f"| {tier} | none | | | | | |")
            continue
        best = max(ok, key=lambda k: ok[k]["tokens_per_s"])
        r = ok[best]
        bound = f"<= {max_err:g} abs" if max_err < float("inf") else f"cosine >= {min_cos}"
        lines.append(f"| {tier} ({bound}) | {best.replace('esm-onnx ', '')} | {r['tokens_per_s']:.0f} | "
                     f"{r['tokens_per_s'] / fair:.2f}x | {r['tokens_per_s'] / fastest_peer:.2f}x | "
                     f"{r['max_abs_err']:.2g} | {r['min_cos']:.6f} |")
    return lines


def roof_text(bench: Bench, name: str, tier: str) -> str:
    r = next((r for r in getattr(bench, "extra", {}).get("roofline", {}).get("fractions", [])
              if r["model"] == name and r["tier"] == tier), None)
    return f" ({100 * r['fraction']:.0f}% of its roofline)" if r else ""


def report(bench: Bench, args, peak: float, prof, sweep_model: str, elapsed: float) -> str:
    v = versions()
    lines = ["# Benchmarks", "",
             "Measured by `make bench` (bench/bench.py): every system on the same FASTA, with the same thread count, "
             "in one invocation. **Random weights** at the released sizes (weights cannot be downloaded here): "
             "speed and memory are those of the real models; fidelity on random weights is a worst case for the "
             "reduced precisions (see below).", "",
             f"- Machine: {machine()}",
             f"- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
             f"- Command: `{' '.join(args.argv)}` ({'quick' if args.quick else 'full'} mode, {args.threads} threads, "
             f"{elapsed / 60:.0f} min)",
             f"- Date: {datetime.date.today().isoformat()}", "",
             "Each cell is a whole process: start-up, model load, inference, writing one output per record. "
             "fair-esm, HF and the route use esm-extract's batching (`--toks-per-batch 4096`); esm-onnx uses its "
             "defaults (1024-token batches). Fidelity: mean embedding of the last layer against fair-esm's, "
             "per record (max abs error, minimum cosine). esm-onnx graphs are converted with `--no-contacts`, the "
             "fused path.", ""]
    for name, res in bench.results.items():
        runs = res["runs"]
        if res.get("esmc"):
            ref = runs["transformers ESM C (torch)"]["tokens_per_s"]
            lines += [f"## {name} (ESM C)", "", f"{res['sequences']} sequences, {res['tokens']} residues. fair-esm cannot "
                      "run ESM C; the peer is transformers' ESM C (SDPA attention) on the same random weights, and "
                      "fidelity is measured against it. esm-onnx converts the release `.pth` layout.", "",
                      "| system | tokens/s | sequences/s | vs transformers | peak RSS (MiB) | max abs err | min cosine |",
                      "|---|---:|---:|---:|---:|---:|---:|"]
            for label, r in runs.items():
                lines.append(f"| {label} | {r['tokens_per_s']:.0f} | {r['seqs_per_s']:.2f} | {r['tokens_per_s'] / ref:.2f}x | "
                             f"{r['rss_mib']:.0f} | {r['max_abs_err']:.2g} | {r['min_cos']:.6f} |")
            conv = bench.conversions.get(name, {})
            lines += ["", "| conversion | seconds | peak RSS (MiB) | size on disk (MiB) |", "|---|---:|---:|---:|"]
            lines += [f"| {p} | {c['seconds']:.1f} | {c['rss_mib']:.0f} | {c['mib']:.0f} |" for p, c in conv.items()]
            lines.append("")
            continue
        fair = runs["fair-esm (torch)"]["tokens_per_s"]
        fp32_peers = [r["tokens_per_s"] for k, r in runs.items() if not k.startswith("esm-onnx")] or [fair]
        lines += [f"## {name}", "", f"{res['sequences']} sequences, {res['tokens']} residues.", "",
                  "| system | tokens/s | sequences/s | vs fair-esm | vs fastest peer | peak RSS (MiB) | max abs err | min cosine |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for label, r in runs.items():
            lines.append(f"| {label} | {r['tokens_per_s']:.0f} | {r['seqs_per_s']:.2f} | {r['tokens_per_s'] / fair:.2f}x | "
                         f"{r['tokens_per_s'] / max(fp32_peers):.2f}x | {r['rss_mib']:.0f} | {r['max_abs_err']:.2g} | "
                         f"{r['min_cos']:.6f} |")
        for f in res.get("failed", []):
            lines.append(f"| {f} | | | | | | | |")
        if res.get("latency_ms"):
            lines += ["", "One sequence of 64 residues (latency, best of 5, in process): " +
                      ", ".join(f"{p} {v:.1f} ms" for p, v in res["latency_ms"].items()) + "."]
        lines += ["", *tier_table(runs, fair, max(fp32_peers))]
        first = getattr(bench, "extra", {}).get("openvino_first_load", {}).get(name)
        if first:
            lines += ["", "OpenVINO rows start from its compiled-model cache, as every run after a model file's first "
                      "does; the first start compiles (model load): " + ", ".join(
                          f"{k.replace('openvino_', '')} graph {v:.1f} s" for k, v in first.items()) + "."]
        conv = bench.conversions.get(name, {})
        if conv:
            lines += ["", "| conversion | seconds | peak RSS (MiB) | size on disk (MiB) |", "|---|---:|---:|---:|"]
            for p, c in conv.items():
                lines.append(f"| {p} | {c['seconds']:.1f} | {c['rss_mib']:.0f} | {c['mib']:.0f} |")
        lines.append("")
    if bench.sweep:
        lines += [f"## Throughput against sequence length ({sweep_model})", "",
                  f"![tokens/s against sequence length]({os.path.relpath(args.plot, args.output.parent)})", "",
                  "| system | " + " | ".join(str(t) for t in SWEEP_LENGTHS) + " |",
                  "|---|" + "---:|" * len(SWEEP_LENGTHS)]
        for label, pts in bench.sweep.items():
            lines.append(f"| {label} | " + " | ".join(f"{pts.get(t, float('nan')):.0f}" for t in SWEEP_LENGTHS) + " |")
        lines.append("")
    con = getattr(bench, "extra", {}).get("contacts")
    if con:
        fair = con["runs"]["fair-esm (torch)"]["tokens_per_s"]
        lines += [f"## With contacts ({con['model']})", "",
                  f"Mean embeddings and contact maps, same FASTA ({con['sequences']} sequences). esm-onnx runs the graph "
                  "converted with contacts (explicit attention, so the maps exist).", "",
                  "| system | tokens/s | vs fair-esm | peak RSS (MiB) | contacts max abs err |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {k} | {r['tokens_per_s']:.0f} | {r['tokens_per_s'] / fair:.2f}x | {r['rss_mib']:.0f} | "
                  f"{r['max_abs_err']:.2g} |" for k, r in con["runs"].items()]
        lines.append("")
    mem = getattr(bench, "extra", {}).get("memory")
    if mem:
        lines += ["## embed memory against FASTA size", "",
                  f"esm-onnx fp32 on {mem['model']}, default options: peak RSS depends on the batch, not on the file.", "",
                  "| records | residues | peak RSS (MiB) |", "|---:|---:|---:|"]
        lines += [f"| {n} | {r['residues']} | {r['rss_mib']:.0f} |" for n, r in mem["rows"].items()]
        lines.append("")
    ray = getattr(bench, "extra", {}).get("ray")
    if ray:
        lines += [f"## Many workers: esm-onnx-ray on this machine ({ray['model']}, fp32)", "",
                  f"{ray['sequences']} sequences, {ray['tokens']} residues; Ray writes eight Parquet parts, the CLI npz "
                  "files for the CLI. Whole process: Ray's local start (several seconds) included; 'after start' "
                  "counts from the Ray cluster being up to the manifest.", "",
                  "| run | wall (s) | records/s | tokens/s | tokens/s after start | peak RSS of the driver (MiB) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for label, r in ray["rows"].items():
            after = f"{ray['tokens'] / r['compute']:.0f}" if r.get("compute") else ""
            lines.append(f"| {label} | {r['wall']:.1f} | {ray['sequences'] / r['wall']:.1f} | "
                         f"{ray['tokens'] / r['wall']:.0f} | {after} | {r['rss_mib']:.0f} |")
        lines.append("")
    scoring = getattr(bench, "extra", {}).get("scoring")
    if scoring:
        import score_bench

        lines += score_bench.section(scoring, args.threads)
    roof = getattr(bench, "extra", {}).get("roofline")
    if roof:
        import roofline

        lines += roofline.section(roof, args.threads)
    long = getattr(bench, "extra", {}).get("long")
    if long:
        import long_bench

        lines += long_bench.section(long)
    fold = getattr(bench, "extra", {}).get("fold")
    if fold:
        import fold_bench

        lines += fold_bench.section(fold)
    fam, layers, dim, heads, _ = MODELS.get(sweep_model, ("", 0, 0, 0, 0))
    fp32_512 = bench.sweep.get("esm-onnx fp32", {}).get(512)
    lines += ["## Targets", ""]
    for name, res in bench.results.items():
        runs = res["runs"]
        if res.get("esmc"):
            ref = runs["transformers ESM C (torch)"]["tokens_per_s"]
            fp32 = runs['esm-onnx fp32']['tokens_per_s'] / ref
            lines.append(f"- {name}: esm-onnx fp32 {fp32:.2f}x transformers' ESM C [target 3x: {'met' if fp32 >= 3 else 'NOT met'}]"
                         f"{roof_text(bench, name, 'esm-onnx fp32')}, int8 {runs['esm-onnx int8']['tokens_per_s'] / ref:.2f}x.")
            continue
        peers = {k: r["tokens_per_s"] for k, r in runs.items() if not k.startswith("esm-onnx")}
        best_peer = max(peers, key=peers.get)
        fair = runs["fair-esm (torch)"]["tokens_per_s"]
        fp32 = runs["esm-onnx fp32"]["tokens_per_s"]
        i8, i4 = runs["esm-onnx int8"]["tokens_per_s"], runs["esm-onnx int4"]["tokens_per_s"]
        lat = res.get("latency_ms", {})
        lat_txt = (f"; one 64-residue sequence: int4 {lat['int4']:.1f} ms vs int8 {lat['int8']:.1f} ms "
                   f"[int4 faster: {'yes' if lat['int4'] < lat['int8'] else 'no'}]") if lat else ""
        py = runs.get("esm-onnx Python API fp32", {}).get("tokens_per_s")
        if py:
            lines.append(f"- {name}: the Python API (embed_fasta) runs at {py / fp32:.2f}x the CLI's fp32 throughput "
                         f"[target within 5%: {'met' if abs(py / fp32 - 1) <= 0.05 else 'NOT met'}] and {py / fair:.2f}x "
                         "fair-esm called from Python.")
        bf16 = runs.get("esm-onnx OpenVINO bf16")
        if bf16:
            fastest_int8 = max(r["tokens_per_s"] for k, r in runs.items() if k.startswith("esm-onnx") and "int8" in k)
            roof = next((r for r in getattr(bench, "extra", {}).get("roofline", {}).get("fractions", [])
                         if r["model"] == name and r["tier"] == "esm-onnx OpenVINO bf16"), None)
            ok = bf16["tokens_per_s"] >= 2.0 * fp32 and bf16["min_cos"] >= 0.9999 and (roof is None or roof["fraction"] >= 0.7)
            lines.append(f"- {name}: OpenVINO bf16 {bf16['tokens_per_s'] / fp32:.2f}x esm-onnx fp32 (ONNX Runtime){roof_text(bench, name, 'esm-onnx OpenVINO bf16')} and "
                         f"{bf16['tokens_per_s'] / fastest_int8:.2f}x esm-onnx's fastest int8, at min cosine "
                         f"{bf16['min_cos']:.6f} [targets 2.0x, 70% of the roofline, 0.9999: {'met' if ok else 'NOT met'}].")
        elif not cpu_has_bf16():
            lines.append(f"- {name}: bf16 not measured: this CPU has no bf16 instructions (AVX512_BF16, AMX-BF16).")
        i8_roof = next((r for r in getattr(bench, "extra", {}).get("roofline", {}).get("fractions", [])
                        if r["model"] == name and r["tier"] == "esm-onnx int8"), None)
        if i8_roof:
            lines.append(f"- {name}: int8 at {100 * i8_roof['fraction']:.0f}% of its roofline "
                         f"[target 70%: {'met' if i8_roof['fraction'] >= 0.7 else 'NOT met'}], min cosine "
                         f"{runs['esm-onnx int8']['min_cos']:.6f} against fair-esm.")
        lines.append(f"- {name}: fp32 {fp32 / peers[best_peer]:.2f}x the fastest fp32 peer ({best_peer}) "
                     f"[target 1.25x: {'met' if fp32 >= 1.25 * peers[best_peer] else 'NOT met'}]; int8 {i8 / fair:.2f}x "
                     f"fair-esm [target 2.5x: {'met' if i8 >= 2.5 * fair else 'NOT met'}]; int4 throughput {i4 / i8:.2f}x "
                     f"int8{lat_txt}.")
    if fp32_512:
        achieved = fp32_512 * flops_per_token(layers, dim, 514) / 1e9
        lines.append(f"- MatMul peak measured: {peak:.0f} GFLOP/s (ONNX Runtime fp32, {args.threads} threads). esm-onnx fp32 "
                     f"at 512 residues on {sweep_model}: {fp32_512:.0f} tokens/s = {achieved:.0f} GFLOP/s = "
                     f"{100 * achieved / peak:.0f}% of it [target 85%: {'met' if achieved >= 0.85 * peak else 'NOT met'}].")
    if prof:
        lines += ["", f"Where esm-onnx fp32 spends its time ({sweep_model}, one batch of 4 x 514 tokens, ONNX Runtime profiler):", "",
                  "| op | share of kernel time |", "|---|---:|"]
        lines += [f"| {op} | {100 * s:.1f}% |" for op, s in prof]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="8M and 35M models, fewer sequences: a few minutes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", nargs="*", help="subset of: " + " ".join([*MODELS, *ESMC_MODELS]))
    ap.add_argument("--workdir", type=pathlib.Path, default=ROOT / "bench" / "out")
    ap.add_argument("--output", type=pathlib.Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--plot", type=pathlib.Path, default=ROOT / "bench" / "throughput_vs_length.png")
    ap.add_argument("--no-extras", action="store_true",
                    help="the per-model tables only: no memory, contacts, Ray, length sweep or profile")
    ap.add_argument("--sweep-tokens", type=int, default=0, help="residues per sweep point (default by mode)")
    ap.add_argument("--from-results", action="store_true",
                    help="take the model tables from WORKDIR/results.json (a run cut short), then measure the roofline "
                         "and write the report")
    args = ap.parse_args()
    args.argv = ["make bench" + (" QUICK=1" if args.quick else "")] if os.environ.get("FROM_MAKE") else sys.argv
    if not CLI.exists():
        sys.exit(f"{CLI} is not built: run `make build`")
    t0 = time.perf_counter()
    plan = dict(QUICK) if args.quick else {k: v[4] for k, v in MODELS.items()}
    esmc_plan = {} if args.quick else {k: v[2] for k, v in ESMC_MODELS.items()}
    if args.models:
        esmc_plan = {k: ESMC_MODELS[k][2] for k in args.models if k in ESMC_MODELS}
        plan = {k: plan.get(k, MODELS[k][4]) for k in args.models if k in MODELS}
    args.sweep_tokens = args.sweep_tokens or (2048 if args.quick else 4096)
    lengths = realistic_lengths(max([*plan.values(), *esmc_plan.values()]), seed=11)
    bench = Bench(args)
    if args.from_results:
        saved = json.loads((bench.work / "results.json").read_text())
        bench.results, bench.conversions, bench.sweep = saved["results"], saved["conversions"], saved["sweep"]
        bench.extra = saved["extra"]
        plan, esmc_plan = {}, {}
    log(f"measuring the MatMul peak ({args.threads} threads)")
    peak = matmul_peak(args.threads)
    log(f"  {peak:.0f} GFLOP/s")
    for name, n in plan.items():
        bench.run_model(name, n, lengths)
    for name, n in esmc_plan.items():
        bench.run_esmc(name, n, lengths)
    bench.run_roofline(args.quick)
    sweep_model, prof = None, None
    if plan and not args.no_extras:
        small = next(iter(plan))
        bench.run_memory_scaling(small, 50 if args.quick else 200)
        # The smallest model: fair-esm keeps every layer's attention maps of a 4096-token batch (10 GB at 8M).
        bench.run_contacts(small, plan[small], lengths)
        ray_model = next(m for m in ("esm2_t12_35M", *plan) if m in plan)
        bench.run_ray(ray_model, 200 if args.quick else 600)
        sweep_model = next(m for m in ("esm2_t30_150M", "esm2_t12_35M", *plan) if m in plan)
        bench.run_sweep(sweep_model)
        prof = profile(bench.work / "models" / sweep_model / "fp32.onnx", args.threads, 514, 4)
        plot(bench.sweep, args.plot, sweep_model)
        import score_bench

        score_models = score_bench.QUICK if args.quick else list(score_bench.MODELS)
        bench.extra = getattr(bench, "extra", {})
        bench.extra["scoring"] = score_bench.run(score_models, args.threads, bench.work / "scoring", measure, log,
                                                 cpu_has_bf16(), quick=args.quick)
        import long_bench

        long_models = long_bench.QUICK if args.quick else list(long_bench.MODELS)
        bench.extra["long"] = long_bench.run(long_models, args.threads, bench.work / "long", measure, log, quick=args.quick)
        long_bench.plots(bench.extra["long"], HERE)
        bench.save()
        import fold_bench

        bench.extra["fold"] = fold_bench.run(args.threads, bench.work / "fold", measure, log, quick=args.quick)
        fold_bench.plots(bench.extra["fold"], HERE)
        bench.save()
    args.output.write_text(report(bench, args, peak, prof, sweep_model, time.perf_counter() - t0))
    log(f"wrote {args.output} and {args.plot}")


if __name__ == "__main__":
    main()
