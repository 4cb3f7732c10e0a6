"""The scoring section of `make bench`: `esm-onnx score` against fair-esm's predict.py on the CPU (its `.cuda()`
removed, nothing else changed) and against the same loop on transformers' EsmForMaskedLM, same DMS, same threads,
whole processes. Also runnable alone: `python bench/score_bench.py --models esm2_t12_35M` prints the section.

DMS files: a 263-residue protein (UniProt amino-acid frequencies) with every substitution at every position (4,997
rows, ProteinGym's 1-based `mutant` column), its first 300 rows (16 positions, as BLAT_ECOLX's first 300 rows
cover about 16), and for pseudo-ppl its first rows (each costs a pass per residue in predict.py)."""
from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(HERE))

PY = sys.executable
CLI = ROOT / "build" / "bin" / "esm-onnx"
LENGTH = 263
# name -> (family, layers, dim, heads, pseudo-ppl rows)
MODELS = {
    "esm2_t12_35M": ("esm2", 12, 480, 20, 3),
    "esm2_t30_150M": ("esm2", 30, 640, 20, 2),
    "esm1v_t33_650M": ("esm1v", 33, 1280, 20, 1),
}
QUICK = ["esm2_t12_35M"]


def protein(n: int, seed: int = 263) -> str:
    from fasta import AMINO_ACIDS, FREQUENCIES

    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list(AMINO_ACIDS), size=n, p=FREQUENCIES / FREQUENCIES.sum()))


def write_dms(path: pathlib.Path, seq: str, rows: int | None = None) -> pathlib.Path:
    muts = [f"{w}{i + 1}{a}" for i, w in enumerate(seq) for a in "ACDEFGHIKLMNPQRSTVWY" if a != w]
    muts = muts[:rows] if rows else muts
    path.write_text("mutant,DMS_score\n" + "".join(f"{m},{k % 7 / 7:.3f}\n" for k, m in enumerate(muts)))
    return path


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 1 else 1.0


def last_column(path: pathlib.Path) -> np.ndarray:
    import pandas as pd

    return pd.read_csv(path).iloc[:, -1].to_numpy(np.float64)


def run(models: list[str], threads: int, work: pathlib.Path, measure, log, openvino_bf16: bool,
        quick: bool = False, only: list[str] | None = None) -> dict:
    import esm_checkpoints

    seq = protein(LENGTH)
    work.mkdir(parents=True, exist_ok=True)
    dms = {"every position": write_dms(work / "dms_full.csv", seq), "16 positions": write_dms(work / "dms_few.csv", seq, 300)}
    out: dict = {"length": LENGTH, "models": {}}
    t = str(threads)
    for name in models:
        family, layers, dim, heads, pppl_rows = MODELS[name]
        pppl_rows = 1 if quick else pppl_rows  # predict.py runs a pass per residue of each mutant
        ckpt = work / "checkpoints" / f"{name}_RANDOM.pt"
        if not ckpt.exists():
            log(f"scoring {name}: making a random-weight checkpoint with fair-esm")
            esm_checkpoints.save_checkpoint(family, layers, dim, heads, ckpt, contacts=family != "esm1v", seed=7)
        graphs = {}
        for label, extra in (("fp32", []), ("int8", ["--precision", "int8"]),
                             *([("openvino", ["--engine", "openvino"])] if openvino_bf16 else [])):
            g = work / "models" / name / f"{label}.onnx"
            g.parent.mkdir(parents=True, exist_ok=True)
            if not g.exists():
                measure([CLI, "convert", ckpt, "-o", g, "--no-contacts", "-q", *extra], work / f"{name}.convert.{label}.log")
            graphs[label] = g
        dms[f"pseudo-ppl ({pppl_rows} rows)"] = write_dms(work / f"dms_pppl_{pppl_rows}.csv", seq, pppl_rows)
        cases = [("wt-marginals", "every position"), ("masked-marginals", "every position"),
                 ("masked-marginals", "16 positions"), ("pseudo-ppl", f"pseudo-ppl ({pppl_rows} rows)")]
        if only:  # "masked-marginals, 16 positions", ...: a subset of the cases (the 650M size's peers are slow)
            cases = [c for c in cases if f"{c[0]}, {c[1]}" in only]
        res = out["models"].setdefault(name, {})
        for strategy, which in cases:
            src = dms[which]
            key = f"{strategy}, {which}"
            rows = res.setdefault(key, {})
            runs = [("predict.py (fair-esm, CPU)", [PY, HERE / "runners" / "predict_py.py", "--threads", t]),
                    ("predict.py loop on transformers EsmForMaskedLM", [PY, HERE / "runners" / "predict_py.py", "--hf",
                                                                        "--threads", t])]
            for label, g in graphs.items():
                engine = ["--engine", "openvino", "--compute", "bf16"] if label == "openvino" else []
                runs.append((f"esm-onnx {'OpenVINO bf16' if label == 'openvino' else label}",
                             [CLI, "score", g, "--threads", t, "--no-progress", *engine]))
            ref = None
            for label, cmd in runs:
                dst = work / "out" / name / f"{strategy}.{which.split()[0]}.{label.split()[0]}{len(rows)}.csv"
                dst.parent.mkdir(parents=True, exist_ok=True)
                model = ["--model-location", ckpt] if "predict" in label else []  # esm-onnx's MODEL is in cmd
                full = [*cmd, *model, "--sequence", seq, "--dms-input", src, "--dms-output", dst, "--offset-idx", "1",
                        "--scoring-strategy", strategy]
                log(f"scoring {name}: {key}: {label}")
                r = measure(full, work / f"{name}.{dst.stem}.log")
                scores = last_column(dst)
                ref = scores if ref is None else ref
                rows[label] = {"wall": r["wall"], "rss_mib": r["rss_mib"], "spearman": spearman(scores, ref),
                               "max_abs": float(np.max(np.abs(scores - ref)))}
                log(f"  {r['wall']:.1f} s, Spearman {rows[label]['spearman']:.5f} against predict.py")
                (work / "scoring.json").write_text(json.dumps(out, indent=1))
    return out


def section(results: dict, threads: int) -> list[str]:
    lines = ["## Scoring variants (`esm-onnx score`)", "",
             f"One {results['length']}-residue protein; DMS files with every substitution at every position (4,997 rows), "
             "their first 300 rows (16 positions), and for pseudo-ppl their first rows. predict.py is fair-esm's "
             "`examples/variant-prediction/predict.py` with its `.cuda()` calls removed and nothing else changed (one "
             "batch-1 pass per position of the sequence for masked-marginals, whatever the DMS holds; one per residue of "
             "each mutant for pseudo-ppl); the transformers row runs the same loop on `EsmForMaskedLM` with the same "
             "weights. Whole processes (start, model load, CSV in and out), "
             f"{threads} threads. Spearman and max abs difference: each run's scores against predict.py's.", ""]
    for name, cases in results["models"].items():
        lines += [f"### {name}", "", "| strategy, DMS | system | seconds | vs predict.py | Spearman | max abs diff | peak RSS (MiB) |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for key, rows in cases.items():
            base = rows.get("predict.py (fair-esm, CPU)", {}).get("wall")
            for label, r in rows.items():
                ratio = f"{base / r['wall']:.2f}x" if base else ""
                lines.append(f"| {key} | {label} | {r['wall']:.1f} | {ratio} | {r['spearman']:.5f} | {r['max_abs']:.2g} | "
                             f"{r['rss_mib']:.0f} |")
        lines.append("")
        targets = []
        full = cases.get("masked-marginals, every position", {})
        few = cases.get("masked-marginals, 16 positions", {})
        if full.get("predict.py (fair-esm, CPU)") and full.get("esm-onnx fp32"):
            base = full["predict.py (fair-esm, CPU)"]["wall"]
            fp32 = base / full["esm-onnx fp32"]["wall"]
            fast = max(((base / r["wall"], label) for label, r in full.items()
                        if label.startswith("esm-onnx") and r["spearman"] >= 0.99), default=(0, ""))
            targets.append(f"masked-marginals on every position: fp32 {fp32:.2f}x predict.py [target 1.3x: "
                           f"{'met' if fp32 >= 1.3 else 'NOT met'}]; fastest tier with Spearman >= 0.99 ({fast[1]}) "
                           f"{fast[0]:.2f}x [target 3x: {'met' if fast[0] >= 3 else 'NOT met'}]")
        if few.get("predict.py (fair-esm, CPU)") and few.get("esm-onnx fp32"):
            r = few["predict.py (fair-esm, CPU)"]["wall"] / few["esm-onnx fp32"]["wall"]
            targets.append(f"masked-marginals on 16 positions: fp32 {r:.2f}x predict.py [target 10x: "
                           f"{'met' if r >= 10 else 'NOT met'}]")
        lines += [f"- {name}: {t}." for t in targets] + [""]
    return lines


def main() -> None:
    from bench import log, measure
    from cpu_flags import cpu_has_bf16

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=QUICK, help="any of " + " ".join(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", type=pathlib.Path, default=ROOT / "bench" / "out" / "scoring")
    ap.add_argument("--cases", nargs="*", help='a subset, as the tables name them: "masked-marginals, 16 positions"')
    a = ap.parse_args()
    shutil.rmtree(a.workdir / "out", ignore_errors=True)
    results = run(a.models, a.threads, a.workdir, measure, log, cpu_has_bf16(), only=a.cases)
    prior = a.workdir / "scoring.all.json"  # sections run one model at a time accumulate here
    merged = json.loads(prior.read_text()) if prior.exists() else {"length": LENGTH, "models": {}}
    merged["models"].update(results["models"])
    prior.write_text(json.dumps(merged, indent=1))
    results = merged
    print("\n".join(section(results, a.threads)))


if __name__ == "__main__":
    main()
