"""The long-sequence section of `make bench`: memory and attention speed against length, one record at a time.

- Memory: peak RSS of whole `esm-onnx embed --long-sequences full` processes on one record of T residues (T = 1,000
  to 8,000), ESM-2 35M and 150M fp32: the default conversion (fused layers, contacts in a side branch) asked for the
  mean embedding and asked for contacts too, and the explicit standard-op graph (what --no-optimize and OpenVINO
  graphs run) asked for the mean.
- Attention against length: the engine alone at fixed lengths (T = 512 to 4,096, one record, no padding), best of
  several interleaved runs: esm-onnx's fused fp32 graph and its explicit graph against transformers' `EsmModel`
  with SDPA attention on the same weights, same threads.
Also runnable alone: `python bench/long_bench.py --models esm2_t12_35M` prints the section."""
from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(HERE))

PY = sys.executable
CLI = ROOT / "build" / "bin" / "esm-onnx"
MODELS = {"esm2_t12_35M": ("esm2", 12, 480, 20), "esm2_t30_150M": ("esm2", 30, 640, 20)}
QUICK = ["esm2_t12_35M"]
MEMORY_LENGTHS = [1000, 2000, 4000, 8000]
CONTACT_LENGTHS = [1000, 2000, 4000]  # contacts hold one layer's [H, T, T] maps: 5 GB per copy at 8,000
# The explicit graph holds them whatever is asked: 18.6 GB at 4,000 residues (35M), near this machine's 24 GB.
EXPLICIT_LENGTHS = [1000, 2000]
SPEED_LENGTHS = [512, 1022, 2048, 4096]
GOAL = 1.2  # esm-onnx's fastest exact setting against transformers' SDPA

SPEED_SCRIPT = r"""
import json, sys, time
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
sys.path.insert(0, sys.argv[2] + "/runners")
import esm_checkpoints, esm_onnx
from hf_esm import hf_model
threads, lengths, reps = int(sys.argv[4]), json.loads(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads)
fair, _ = esm_checkpoints.load_with_fair_esm(sys.argv[3])
hf = hf_model(fair)
hf.config._attn_implementation = "sdpa"
del fair
models = {label: esm_onnx.Model(path, threads=threads) for label, path in json.loads(sys.argv[7]).items()}
out = {}
for T in lengths:
    toks = np.random.default_rng(T).integers(4, 24, (1, T + 2)); toks[0, 0], toks[0, -1] = 0, 2
    # The explicit graph holds every head's [T, T] maps (18 GB at 4,000 residues on 35M; at 2,048 on 150M this
    # process ran out of 24 GB): up to 1,022 only.
    runs = {label: (lambda m=m: m.forward(toks, repr_layers=[-1], logits=False)) for label, m in models.items()
            if "explicit" not in label or T <= 1022}
    t = torch.from_numpy(toks)
    def hf_run():
        with torch.inference_mode():
            hf(input_ids=t, attention_mask=torch.ones_like(t))
    runs["transformers EsmModel (SDPA)"] = hf_run
    best = {k: float("inf") for k in runs}
    for f in runs.values():
        f()  # warm-up
    for _ in range(reps):
        for k, f in runs.items():  # interleaved: a noisy neighbour slows every system alike
            t0 = time.perf_counter(); f(); best[k] = min(best[k], time.perf_counter() - t0)
    out[T] = {k: T / v for k, v in best.items()}
    print(json.dumps({"T": T, **out[T]}), file=sys.stderr, flush=True)
print(json.dumps(out))
"""


def run(models: list[str], threads: int, work: pathlib.Path, measure, log, quick: bool = False) -> dict:
    import esm_checkpoints
    from fasta import write_fasta

    work.mkdir(parents=True, exist_ok=True)
    out: dict = {"threads": threads, "models": {}}
    # Points measured by an interrupted run of the same invocation are kept (delete long.json to measure again).
    done = json.loads((work / "long.json").read_text()) if (work / "long.json").exists() else {"models": {}}
    t = str(threads)
    mem_lengths = MEMORY_LENGTHS[:3] if quick else MEMORY_LENGTHS
    speed_lengths = SPEED_LENGTHS[:3] if quick else SPEED_LENGTHS
    for name in models:
        family, layers, dim, heads = MODELS[name]
        ckpt = work / "checkpoints" / f"{name}_RANDOM.pt"
        if not ckpt.exists():
            log(f"long sequences {name}: making a random-weight checkpoint with fair-esm")
            esm_checkpoints.save_checkpoint(family, layers, dim, heads, ckpt, contacts=True, seed=7)
        graphs = {"fused": work / "models" / name / "fused.onnx", "explicit": work / "models" / name / "explicit.onnx"}
        for label, g in graphs.items():
            g.parent.mkdir(parents=True, exist_ok=True)
            if not g.exists():
                measure([CLI, "convert", ckpt, "-o", g, "-q", *(["--no-optimize"] if label == "explicit" else [])],
                        work / f"{name}.convert.{label}.log")
        res = out["models"].setdefault(name, {"memory": {}, "speed": {}})
        before = done["models"].get(name, {}).get("memory", {})
        cases = [("fused graph, mean", "fused", ["mean"], mem_lengths),
                 ("fused graph, mean + contacts", "fused", ["mean", "contacts"], [x for x in CONTACT_LENGTHS if x in mem_lengths]),
                 ("explicit graph, mean", "explicit", ["mean"], [x for x in EXPLICIT_LENGTHS if x in mem_lengths])]
        for T in mem_lengths:
            fasta = write_fasta(work / f"one_{T}.fasta", [T], seed=T)
            for label, graph, include, lengths in cases:
                if T not in lengths:
                    continue
                if str(T) in before.get(label, {}):
                    res["memory"].setdefault(label, {})[T] = before[label][str(T)]
                    continue
                dst = work / "out" / name / f"{graph}_{T}_{len(include)}"
                subprocess.call(["rm", "-rf", str(dst)])
                log(f"long sequences {name}: T={T} {label}")
                r = measure([CLI, "embed", graphs[graph], fasta, dst, "--include", *include, "--long-sequences", "full",
                             "--threads", t, "--no-progress"], work / f"{name}.{graph}.{T}.{len(include)}.log")
                res["memory"].setdefault(label, {})[T] = {"rss_mib": r["rss_mib"], "wall": r["wall"]}
                log(f"  peak RSS {r['rss_mib']:.0f} MiB, {r['wall']:.1f} s")
                (work / "long.json").write_text(json.dumps(out, indent=1))
        log(f"long sequences {name}: attention against length {speed_lengths}")
        speed_graphs = {"esm-onnx fp32 (fused)": str(graphs["fused"]), "esm-onnx fp32 (explicit)": str(graphs["explicit"])}
        p = subprocess.run([PY, "-c", SPEED_SCRIPT, str(ROOT / "scripts"), str(HERE), str(ckpt), t, json.dumps(speed_lengths),
                            "2" if quick else "3", json.dumps(speed_graphs)],
                           capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "build" / "python"),
                                                                 "PATH": "/usr/bin:/bin"})
        if p.returncode != 0:
            raise RuntimeError(f"attention against length failed:\n{p.stderr[-3000:]}")
        res["speed"] = {int(k): v for k, v in json.loads(p.stdout.strip().splitlines()[-1]).items()}
        (work / "long.json").write_text(json.dumps(out, indent=1))
    return out


def plots(results: dict, folder: pathlib.Path) -> list[pathlib.Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, len(results["models"]), figsize=(6 * len(results["models"]), 4.5), squeeze=False)
    for ax, (name, res) in zip(axes[0], results["models"].items()):
        for label, pts in res["memory"].items():
            xs = sorted(int(x) for x in pts)
            ax.plot(xs, [pts[x]["rss_mib"] if x in pts else pts[str(x)]["rss_mib"] for x in xs], marker="o", label=label)
        ax.set_xlabel("residues in the record")
        ax.set_ylabel("peak RSS (MiB)")
        ax.set_title(f"{name}: memory against length")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(folder / "memory_vs_length.png")
    fig.savefig(paths[-1], dpi=110)
    fig, axes = plt.subplots(1, len(results["models"]), figsize=(6 * len(results["models"]), 4.5), squeeze=False)
    for ax, (name, res) in zip(axes[0], results["models"].items()):
        xs = sorted(int(x) for x in res["speed"])
        speed = {int(k): v for k, v in res["speed"].items()}
        systems = list(dict.fromkeys(k for x in xs for k in speed[x]))
        for s in systems:
            pts = [x for x in xs if s in speed[x]]
            ax.plot(pts, [speed[x][s] for x in pts], marker="o", linestyle="-" if s.startswith("esm-onnx") else "--", label=s)
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel("sequence length (tokens less BOS/EOS)")
        ax.set_ylabel("tokens/s (engine only)")
        ax.set_title(f"{name}: speed against length")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(folder / "attention_vs_length.png")
    fig.savefig(paths[-1], dpi=110)
    return paths


def section(results: dict) -> list[str]:
    lines = ["## Long sequences: memory and speed against length", "",
             "![peak RSS against length](bench/memory_vs_length.png)", "",
             "Peak RSS of a whole `esm-onnx embed --long-sequences full` process on one record (fp32, "
             f"{results['threads']} threads). The fused graph (the default conversion) runs ONNX Runtime's flash "
             "attention on batches without padding and computes contacts, in a side branch holding one layer's maps, "
             "only when they are asked for; the explicit graph (`--no-optimize`, OpenVINO's graphs) holds each layer's "
             "[heads, T, T] maps whatever is asked.", ""]
    for name, res in results["models"].items():
        lengths = sorted({int(x) for pts in res["memory"].values() for x in pts})
        lines += [f"### {name}: peak RSS (MiB)", "", "| graph, outputs | " + " | ".join(str(x) for x in lengths) + " |",
                  "|---|" + "---:|" * len(lengths)]
        for label, pts in res["memory"].items():
            cells = [f"{pts[x]['rss_mib']:.0f}" if x in pts else (f"{pts[str(x)]['rss_mib']:.0f}" if str(x) in pts else "")
                     for x in lengths]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["![tokens/s against length](bench/attention_vs_length.png)", "",
              "The engine alone at fixed lengths: one record of T residues, no padding, best of interleaved runs; "
              "transformers' `EsmModel` with SDPA attention on the same weights.", ""]
    for name, res in results["models"].items():
        speed = {int(k): v for k, v in res["speed"].items()}
        lengths = sorted(speed)
        systems = list(dict.fromkeys(k for x in lengths for k in speed[x]))
        lines += [f"### {name}: tokens/s", "", "| system | " + " | ".join(str(x) for x in lengths) + " |",
                  "|---|" + "---:|" * len(lengths)]
        for s in systems:
            lines.append(f"| {s} | " + " | ".join(f"{speed[x][s]:.0f}" if s in speed[x] else "" for x in lengths) + " |")
        ratios = [speed[x]["esm-onnx fp32 (fused)"] / speed[x]["transformers EsmModel (SDPA)"] for x in lengths]
        lines.append("| fused vs SDPA | " + " | ".join(f"{r:.2f}x" for r in ratios) + " |")
        met = all(r >= GOAL for r in ratios)
        lines += ["", f"- {name}: esm-onnx fused fp32 against transformers' SDPA {min(ratios):.2f}x to {max(ratios):.2f}x "
                      f"[target {GOAL}x at every length: {'met' if met else 'NOT met'}].", ""]
    return lines


def main() -> None:
    from bench import log, measure

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=QUICK, help="any of " + " ".join(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", type=pathlib.Path, default=ROOT / "bench" / "out" / "long")
    a = ap.parse_args()
    results = run(a.models, a.threads, a.workdir, measure, log, quick=a.quick)
    prior = a.workdir / "long.all.json"
    merged = json.loads(prior.read_text()) if prior.exists() else {"threads": a.threads, "models": {}}
    merged["models"].update(results["models"])
    prior.write_text(json.dumps(merged, indent=1))
    plots(merged, HERE)
    print("\n".join(section(merged)))


if __name__ == "__main__":
    main()
