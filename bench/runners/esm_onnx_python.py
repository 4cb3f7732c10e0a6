"""esm-onnx from Python: esm_onnx.Model.embed_fasta over the FASTA, the last layer's mean saved per record
(an .npz each, as the CLI writes them). Measures the Python API against the CLI on the same model."""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from common import ROOT, Timer

sys.path.insert(0, str(ROOT / "build" / "python"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", type=pathlib.Path, help="esm-onnx .onnx")
    ap.add_argument("fasta", type=pathlib.Path)
    ap.add_argument("outdir", type=pathlib.Path)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    timer = Timer()
    import esm_onnx

    model = esm_onnx.Model(a.model, threads=a.threads)
    layer = model.info.num_layers
    timer.loaded()
    a.outdir.mkdir(parents=True, exist_ok=True)
    for e in model.embed_fasta(a.fasta, include="mean", repr_layers=[layer]):
        np.savez(a.outdir / f"{e.label}.npz", **{f"mean_representations/{layer}": e.mean[layer]})
        timer.tokens += e.length
        timer.sequences += 1
    timer.done()


if __name__ == "__main__":
    main()
