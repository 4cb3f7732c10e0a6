"""The original ESM-to-ONNX route: wrap the model so `repr_layers` is a tensor, torch.onnx.export, then
onnxruntime.transformers.optimizer (model_type bert), then onnxruntime.InferenceSession over esm-extract's
batches. `export` builds the model once; `run` embeds."""
from __future__ import annotations

import argparse
import shutil
import pathlib
import sys

import numpy as np

from common import Timer, batches, save_mean

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))


def export(checkpoint: pathlib.Path, output: pathlib.Path) -> None:
    import torch

    import esm_checkpoints

    model, alphabet = esm_checkpoints.load_with_fair_esm(checkpoint)

    class Wrapper(torch.nn.Module):
        # As the route did: repr_layers arrives as a tensor and .tolist() freezes it into the trace.
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, tokens, repr_layers):
            return self.m(tokens, repr_layers=repr_layers.tolist())["representations"][self.m.num_layers]

    toks = torch.randint(4, 24, (2, 64))
    toks[:, 0] = alphabet.cls_idx
    toks[:, -1] = alphabet.eos_idx
    raw_dir = output.parent / (output.stem + ".raw")
    raw_dir.mkdir(exist_ok=True)
    raw = raw_dir / "model.onnx"
    torch.onnx.export(Wrapper(model), (toks, torch.tensor([model.num_layers])), str(raw), input_names=["tokens", "repr_layers"],
                      output_names=["representations"], dynamic_axes={"tokens": {0: "batch", 1: "seq"}}, opset_version=14,
                      dynamo=False)
    from onnxruntime.transformers import optimizer

    args = getattr(model, "args", model)
    opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=args.attention_heads, hidden_size=args.embed_dim,
                                   opt_level=1)
    opt.save_model_to_file(str(output), use_external_data_format=True)
    shutil.rmtree(raw_dir)


def run(a) -> None:
    import onnxruntime as ort

    import esm

    timer = Timer()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(str(a.model), so, providers=["CPUExecutionProvider"])
    inputs = {i.name for i in sess.get_inputs()}
    alphabet = esm.Alphabet.from_architecture("ESM-1b")
    convert = alphabet.get_batch_converter(a.truncation_seq_length)
    timer.loaded()
    a.outdir.mkdir(parents=True, exist_ok=True)
    layer = a.layer
    for labels, seqs in batches(a.fasta, a.toks_per_batch):
        _, strs, toks = convert(list(zip(labels, seqs)))
        feeds = {"tokens": toks.numpy()}
        if "repr_layers" in inputs:
            feeds["repr_layers"] = np.array([layer])
        reps = sess.run(None, feeds)[0]
        for i, label in enumerate(labels):
            L = min(a.truncation_seq_length, len(strs[i]))
            save_mean(a.outdir, label, layer, reps[i, 1:L + 1].mean(0))
            timer.tokens += L
            timer.sequences += 1
    timer.done()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("checkpoint", type=pathlib.Path)
    e.add_argument("output", type=pathlib.Path)
    r = sub.add_parser("run")
    r.add_argument("model", type=pathlib.Path)
    r.add_argument("fasta", type=pathlib.Path)
    r.add_argument("outdir", type=pathlib.Path)
    r.add_argument("--layer", type=int, required=True)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--toks-per-batch", type=int, default=4096)
    r.add_argument("--truncation-seq-length", type=int, default=1022)
    a = ap.parse_args()
    if a.cmd == "export":
        export(a.checkpoint, a.output)
    else:
        run(a)


if __name__ == "__main__":
    main()
