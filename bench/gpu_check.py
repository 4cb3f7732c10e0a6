"""The CUDA check: one script for a machine with an NVIDIA GPU, under 10 minutes (docs/GPU.md says how its
dependencies get there).

1. Parity: every family (ESM-1, ESM-1b, ESM-2, ESM C; small random-weight checkpoints, several records per
   padded batch, a record without padding too) converted once, embedded on the CPU in fp32 (the reference)
   and on the GPU: fp32 within 1e-4 (mean, per-residue and BOS representations, logits), fp16 within its
   floors (cosine >= 0.999 on the mean embeddings, logits argmax agreement >= 0.95).
2. Throughput: ESM-2 35M, 150M and 650M (random weights at the released sizes, made with fair-esm there),
   a realistic FASTA: esm-onnx fp32 and fp16 on the GPU against fair-esm's esm-extract loop with the model
   `.half()` and `.cuda()` on the same card, same batches (4096 tokens).
3. Folding (ESMFold): a small random-weight ESMFold (a transformers folder; scripts/gpu_bundle.sh packs one)
   converted once, folded on the CPU (the reference) and on the GPU: without recycling, positions, pLDDT and PAE
   within 5e-3 and pTM within 5e-5; then the released trunk widths (4 blocks) at L = 100 and 300, seconds on
   each device, and transformers' EsmForProteinFolding on the same card where the machine has transformers.

Writes gpu_results.md and gpu_results.json to --out. `--device cpu` runs the same steps on the CPU (with a
small model list), which is how the script itself is tested on machines without a GPU.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
sys.path.insert(0, str(HERE))

from fasta import realistic_lengths, write_fasta  # noqa: E402

# name -> (family, layers, dim, heads)
THROUGHPUT = {"esm2_t12_35M": ("esm2", 12, 480, 20), "esm2_t30_150M": ("esm2", 30, 640, 20),
              "esm2_t33_650M": ("esm2", 33, 1280, 20)}
PARITY = {"ESM-1": ("esm1", 2, 64, 4), "ESM-1b": ("esm1b", 2, 64, 4), "ESM-2": ("esm2", 2, 64, 4)}
RECORDS = [("short", "MKTAYIAKQR"), ("masked", "MKTAYIA<mask>QRQISFVKSHF"), ("one", "G"),
           ("odd", "MXBZUOACDEFGHIKLMNPQRSTVWYXX"),
           ("long", "MSDNGPQNQRNAPRITFGGPSDSTGSNQNGERSGARSKQRRPQGLPNNTASWFTALTQHGKEDLKFPRGQGVPINTNSSPDDQIGY")]
FP16_FLOORS = {"min_cosine": 0.999, "argmax": 0.95}


def log(msg: str) -> None:
    print(f"[gpu {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cli(exe: pathlib.Path, *args) -> str:
    p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"esm-onnx {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr[-3000:]}")
    return p.stdout + p.stderr


def load(outdir: pathlib.Path) -> dict[str, dict[str, np.ndarray]]:
    return {f.stem: dict(np.load(f)) for f in outdir.glob("*.npz")}


def compare(ref: dict, got: dict) -> dict:
    """Worst max abs error per array kind, min cosine of the mean embeddings, logits argmax agreement."""
    worst, cos, agree, total = {}, 1.0, 0, 0
    for label, r in ref.items():
        g = got[label]
        for key, a in r.items():
            if a.dtype.kind != "f":  # the record's label
                continue
            kind = key.split("/")[0]
            worst[kind] = max(worst.get(kind, 0.0), float(np.abs(g[key] - a).max()))
            if kind == "mean_representations":
                b = g[key]
                cos = min(cos, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
            if kind == "logits" and a.ndim == 2:
                agree += int((a.argmax(-1) == g[key].argmax(-1)).sum())
                total += a.shape[0]
    return {"max_abs": worst, "min_cosine": cos, "argmax": agree / max(total, 1)}


def esmc_checkpoint(path: pathlib.Path) -> pathlib.Path:
    """A small ESM C in the release .pth layout, made with transformers' ESM C (scripts/gpu_bundle.sh makes one
    where transformers has no ESM C)."""
    import hf_checkpoints as hf

    if not path.exists():
        hf.save_esmc(hf.build_esmc("EsmcForMaskedLM", 2, 128, seed=3), path, "release")
    return path


def parity(exe: pathlib.Path, work: pathlib.Path, device: str, esmc: pathlib.Path | None) -> list[dict]:
    import esm_checkpoints

    fasta = work / "parity.fasta"
    fasta.write_text("".join(f">{a}\n{s}\n" for a, s in RECORDS))
    sources = {}
    for name, (family, layers, dim, heads) in PARITY.items():
        path = work / "ckpt" / f"{family}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            esm_checkpoints.save_checkpoint(family, layers, dim, heads, path, contacts=False, seed=3)
        sources[name] = path
    sources["ESM C"] = esmc or esmc_checkpoint(work / "ckpt" / "esmc_small.pth")
    rows = []
    for name, src in sources.items():
        for precision in ("fp32", "fp16"):
            model = work / "models" / f"{name.replace(' ', '_')}_{precision}.onnx"
            model.parent.mkdir(parents=True, exist_ok=True)
            cli(exe, "convert", src, "-o", model, "--precision", precision, "--repr-layers", "all", "-q")
            outs = {}
            for where in ("cpu", device):
                out = work / "out" / f"{model.stem}_{where}"
                shutil.rmtree(out, ignore_errors=True)
                cli(exe, "embed", model, fasta, out, "--device", where, "--include", "mean", "per_tok", "bos", "logits",
                    "--toks-per-batch", "4096", "--no-progress")
                outs[where] = load(out)
            # fp32 on the CPU is the reference of both precisions
            if precision == "fp32":
                ref = outs["cpu"]
            c = compare(ref, outs[device])
            if precision == "fp32":
                ok = max(c["max_abs"].values()) <= 1e-4
            else:
                ok = c["min_cosine"] >= FP16_FLOORS["min_cosine"] and c["argmax"] >= FP16_FLOORS["argmax"]
            rows.append({"family": name, "precision": precision, **c, "ok": ok})
            log(f"parity {name} {precision} on {device}: max abs {max(c['max_abs'].values()):.2g}, "
                f"min cosine {c['min_cosine']:.6f}, argmax {c['argmax']:.3f} [{'ok' if ok else 'FAILED'}]")
    return rows


def fair_esm_throughput(ckpt: pathlib.Path, fasta: pathlib.Path, device: str) -> float:
    """esm-extract's loop (4096-token batches, mean of the last layer) with the model .half() on the GPU."""
    import esm
    import esm_checkpoints
    import torch

    model, alphabet = esm_checkpoints.load_with_fair_esm(ckpt)
    if device == "cuda":
        model = model.half().cuda()
    dataset = esm.FastaBatchedDataset.from_file(str(fasta))
    batches = dataset.get_batch_indices(4096, extra_toks_per_seq=1)
    loader = torch.utils.data.DataLoader(dataset, collate_fn=alphabet.get_batch_converter(1022), batch_sampler=batches)
    layer = model.num_layers
    residues = 0
    with torch.no_grad():
        for warm, (_, _, toks) in zip(range(1), loader):  # CUDA context and kernels, not counted
            model(toks.to(device), repr_layers=[layer])
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _, strs, toks in loader:
            out = model(toks.to(device), repr_layers=[layer])["representations"][layer]
            means = [out[i, 1:len(s) + 1].float().mean(0).cpu() for i, s in enumerate(strs)]
            residues += sum(len(s) for s in strs)
            del means
        if device == "cuda":
            torch.cuda.synchronize()
    return residues / (time.perf_counter() - t0)


def esm_onnx_throughput(exe: pathlib.Path, model: pathlib.Path, fasta: pathlib.Path, out: pathlib.Path, device: str) -> float:
    """Inference tokens/s as embed reports it (its run after the model is loaded), 4096-token batches."""
    import re

    shutil.rmtree(out, ignore_errors=True)
    text = cli(exe, "embed", model, fasta, out, "--device", device, "--toks-per-batch", "4096", "--no-progress")
    m = re.search(r"\(([\d,]+) tokens.*in ([\d.]+) s \(model loaded in ([\d.]+) s\)", text)
    tokens, total, load_s = int(m.group(1).replace(",", "")), float(m.group(2)), float(m.group(3))
    return tokens / (total - load_s)


def throughput(exe: pathlib.Path, work: pathlib.Path, device: str, names: list[str], n_seq: int) -> list[dict]:
    import esm_checkpoints

    fasta = write_fasta(work / "throughput.fasta", realistic_lengths(n_seq, seed=11), seed=3)
    rows = []
    for name in names:
        family, layers, dim, heads = THROUGHPUT[name]
        ckpt = work / "ckpt" / f"{name}.pt"
        if not ckpt.exists():
            log(f"{name}: making a random-weight checkpoint with fair-esm")
            # with the contact regression file fair-esm's loader expects beside a released name
            esm_checkpoints.save_checkpoint(family, layers, dim, heads, ckpt, contacts=True, seed=7)
        row = {"model": name}
        row["fair-esm .half()"] = fair_esm_throughput(ckpt, fasta, device)
        for precision in ("fp32", "fp16"):
            model = work / "models" / f"{name}_{precision}.onnx"
            cli(exe, "convert", ckpt, "-o", model, "--precision", precision, "--no-contacts", "-q")
            row[f"esm-onnx {precision}"] = esm_onnx_throughput(exe, model, fasta, work / "out" / f"{name}_{precision}", device)
        log(f"{name}: " + ", ".join(f"{k} {v:.0f} tokens/s" for k, v in row.items() if k != "model"))
        rows.append(row)
        ckpt.unlink()  # the next model's room on disk
        ckpt.with_name(f"{name}-contact-regression.pt").unlink(missing_ok=True)
    return rows


FOLD_RECORDS = [("monomer", "MKTAYIAKQRQISFVKSHFSRQLEERLGLI"), ("dimer", "MKTAYIAKQRQISF:VKSHFSRQLEERLG"),
                ("unknown", "MKTXAYBIAKZQRQ")]
FOLD_FLOORS = {"positions": 5e-3, "plddt": 5e-3, "predicted_aligned_error": 5e-3, "ptm": 5e-5}
FOLD_LENGTHS = [100, 300]


def esmfold_folder(path: pathlib.Path, **sizes) -> pathlib.Path:
    """A random-weight ESMFold as facebook/esmfold_v1's folder, made with transformers (fold_oracle)."""
    if not (path / "config.json").exists():
        sys.path.insert(0, str(HERE.parent / "tests" / "python"))
        import fold_oracle as fo

        fo.save_transformers_folder(fo.make_esmfold(3, **sizes), path)
    return path


def fold_check(exe: pathlib.Path, work: pathlib.Path, device: str, folder: pathlib.Path | None, lengths: list[int]) -> dict:
    """Fold parity (no recycling) against the CPU and fold seconds on each device."""
    folder = folder or esmfold_folder(work / "esmfold_small")
    model = work / "models" / "esmfold_small.onnx"
    model.parent.mkdir(parents=True, exist_ok=True)
    cli(exe, "convert", folder, "-o", model, "-q")
    fasta = work / "fold_parity.fasta"
    fasta.write_text("".join(f">{a}\n{s}\n" for a, s in FOLD_RECORDS))
    outs = {}
    for where in ("cpu", device):
        out = work / "out" / f"fold_{where}"
        shutil.rmtree(out, ignore_errors=True)
        cli(exe, "fold", model, fasta, out, "--device", where, "--num-recycles", "0", "--no-progress")
        outs[where] = load(out)
    worst = {k: 0.0 for k in FOLD_FLOORS}
    for label, ref in outs["cpu"].items():
        got = outs[device][label]
        for k in FOLD_FLOORS:
            worst[k] = max(worst[k], float(np.abs(got[k].astype(np.float64) - ref[k]).max()))
    ok = all(worst[k] <= FOLD_FLOORS[k] for k in FOLD_FLOORS)
    log(f"fold parity on {device}: " + ", ".join(f"{k} {v:.2g}" for k, v in worst.items()) + f" [{'ok' if ok else 'FAILED'}]")
    # Speed: the released trunk widths with 4 blocks and a small stem (the real model's 3B stem does not travel).
    sys.path.insert(0, str(HERE))
    import fold_bench

    try:
        # The CPU dry run times the small model: it checks the steps, and the wide one costs minutes on a CPU.
        wide = esmfold_folder(work / "esmfold_wide", **fold_bench.QUICK) if device == "cuda" else folder
    except ImportError as e:  # made with transformers: a machine without it checks parity only
        log(f"fold speed not measured: {e}")
        return {"parity": {**worst, "ok": ok}, "speed": []}
    wide_model = work / "models" / "esmfold_wide.onnx"
    if wide == folder:
        wide_model = model
    else:
        cli(exe, "convert", wide, "-o", wide_model, "-q")
    speed = []
    for L in lengths:
        f = work / f"fold_L{L}.fasta"
        f.write_text(f">p{L}\n{fold_bench.protein(L)}\n")
        row = {"length": L}
        for where in dict.fromkeys(("cpu", device)):
            out = work / "out" / f"fold_speed_{where}_{L}"
            shutil.rmtree(out, ignore_errors=True)
            text = cli(exe, "fold", wide_model, f, out, "--device", where, "--json", "--no-progress")
            summary = json.loads(next(l for l in reversed(text.splitlines()) if l.startswith("{")))
            row[f"esm-onnx {where}"] = summary["seconds"] - summary["load_seconds"]
        row["transformers " + device] = transformers_fold_seconds(wide, fold_bench.protein(L), device)
        speed.append(row)
        log(f"fold L = {L}: " + ", ".join(f"{k} {v:.1f} s" for k, v in row.items() if k != "length" and v))
    return {"parity": {**worst, "ok": ok}, "speed": speed}


def transformers_fold_seconds(folder: pathlib.Path, sequence: str, device: str) -> float:
    """transformers' EsmForProteinFolding on `device` (4 passes), or 0 where transformers is not installed."""
    try:
        import torch
        from transformers import EsmForProteinFolding
    except ImportError:
        return 0.0
    model = EsmForProteinFolding.from_pretrained(folder).float().eval().to(device)
    with torch.inference_mode():
        model.infer([sequence])  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        model.infer([sequence])
        if device == "cuda":
            torch.cuda.synchronize()
    return time.perf_counter() - t


def report(par: list[dict], thr: list[dict], device: str, gpu: str, fold: dict | None = None) -> str:
    lines = [f"# CUDA check ({gpu})", "", f"`bench/gpu_check.py --device {device}`, {time.strftime('%Y-%m-%d')}.", "",
             "## Parity against the CPU fp32 graph", "",
             "| family | precision | max abs (mean) | max abs (per-residue) | max abs (logits) | min cosine | argmax | ok |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in par:
        m = r["max_abs"]
        lines.append(f"| {r['family']} | {r['precision']} | {m.get('mean_representations', 0):.2g} | "
                     f"{m.get('representations', 0):.2g} | {m.get('logits', 0):.2g} | {r['min_cosine']:.6f} | "
                     f"{r['argmax']:.3f} | {'yes' if r['ok'] else 'NO'} |")
    lines += ["", "## Throughput (residues/s after model load, 4096-token batches)", "",
              "| model | fair-esm .half() | esm-onnx fp32 | esm-onnx fp16 | fp16 vs fair-esm |", "|---|---:|---:|---:|---:|"]
    for r in thr:
        lines.append(f"| {r['model']} | {r['fair-esm .half()']:.0f} | {r['esm-onnx fp32']:.0f} | {r['esm-onnx fp16']:.0f} | "
                     f"{r['esm-onnx fp16'] / r['fair-esm .half()']:.2f}x |")
    if fold and fold["speed"]:
        p = fold["parity"]
        lines += ["", "## Folding (ESMFold)", "", "Parity against the CPU, no recycling (max abs): " +
                  ", ".join(f"{k} {p[k]:.2g}" for k in FOLD_FLOORS) + f" [{'ok' if p['ok'] else 'FAILED'}].", "",
                  "Seconds per fold after model load (released trunk widths, 4 blocks, small stem; 4 passes):", ""]
        keys = [k for k in fold["speed"][0] if k != "length"]
        lines += ["| L | " + " | ".join(keys) + " |", "|---:|" + "---:|" * len(keys)]
        for r in fold["speed"]:
            lines.append(f"| {r['length']} | " + " | ".join(f"{r[k]:.1f}" if r[k] else "n/a" for k in keys) + " |")
    elif fold:
        p = fold["parity"]
        lines += ["", "## Folding (ESMFold)", "", "Parity against the CPU, no recycling (max abs): " +
                  ", ".join(f"{k} {p[k]:.2g}" for k in FOLD_FLOORS) + f" [{'ok' if p['ok'] else 'FAILED'}]; speed not "
                  "measured (no transformers on this machine to make the model).", ""]
    return "\n".join(lines) + "\n"


def cuda_library_path() -> None:
    """ESM_ONNX_CUDA_LIBRARY_PATH from the nvidia-* wheels' lib folders, where it is not set: the CLI loads
    cuBLAS, cuDNN and the CUDA runtime from there before ONNX Runtime's CUDA provider."""
    import os
    import site

    if os.environ.get("ESM_ONNX_CUDA_LIBRARY_PATH"):
        return
    dirs = sorted({str(p.parent) for base in site.getsitepackages() for p in pathlib.Path(base).glob("nvidia/**/lib/*.so*")})
    if dirs:
        os.environ["ESM_ONNX_CUDA_LIBRARY_PATH"] = ":".join(dirs)
        log(f"CUDA libraries from {len(dirs)} nvidia-* folders")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", type=pathlib.Path, required=True, help="esm-onnx built against onnxruntime-gpu")
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/esm-onnx-gpu"))
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--models", nargs="*", default=None, help="subset of: " + " ".join(THROUGHPUT))
    ap.add_argument("--sequences", type=int, help="of the throughput FASTA (default 160 on the GPU, 8 on the CPU)")
    ap.add_argument("--esmc", type=pathlib.Path, help="a small ESM C .pth (default: made here with transformers)")
    ap.add_argument("--esmfold", type=pathlib.Path, help="a small ESMFold folder (default: made here with transformers)")
    ap.add_argument("--fold-lengths", type=int, nargs="*", default=None,
                    help=f"fold speed lengths (default {FOLD_LENGTHS} on the GPU, 30 on the CPU)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    gpu = "CPU dry run"
    if a.device == "cuda":
        cuda_library_path()
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip() or "unknown GPU"
    names = a.models if a.models is not None else (list(THROUGHPUT) if a.device == "cuda" else ["esm2_t12_35M"])
    t0 = time.perf_counter()
    par = parity(a.cli, a.work, a.device, a.esmc)
    thr = throughput(a.cli, a.work, a.device, names, a.sequences or (160 if a.device == "cuda" else 8))
    fold = fold_check(a.cli, a.work, a.device, a.esmfold,
                      a.fold_lengths if a.fold_lengths is not None else (FOLD_LENGTHS if a.device == "cuda" else [30]))
    text = report(par, thr, a.device, gpu, fold)
    (a.out / "gpu_results.md").write_text(text)
    (a.out / "gpu_results.json").write_text(json.dumps({"parity": par, "throughput": thr, "fold": fold, "gpu": gpu},
                                                       indent=1))
    log(f"done in {time.perf_counter() - t0:.0f} s; wrote {a.out / 'gpu_results.md'}")
    print(text)
    sys.exit(0 if all(r["ok"] for r in par) and fold["parity"]["ok"] else 1)


if __name__ == "__main__":
    main()
