"""fair-esm's `esm-extract` loop (scripts/extract.py of fair-esm), --include mean --repr_layers -1:
torch on CPU, batches by token budget, one .pt per record."""
from __future__ import annotations

import torch

from common import Timer, batches, parse_args

import esm_checkpoints


def main() -> None:
    a = parse_args(__doc__)
    torch.set_num_threads(a.threads)
    timer = Timer()
    model, alphabet = esm_checkpoints.load_with_fair_esm(a.model)
    layer = model.num_layers
    convert = alphabet.get_batch_converter(a.truncation_seq_length)
    timer.loaded()
    a.outdir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for labels, seqs in batches(a.fasta, a.toks_per_batch):
            _, strs, toks = convert(list(zip(labels, seqs)))
            out = model(toks, repr_layers=[layer], return_contacts=False)
            reps = out["representations"][layer]
            for i, label in enumerate(labels):
                L = min(a.truncation_seq_length, len(strs[i]))
                result = {"label": label, "mean_representations": {layer: reps[i, 1:L + 1].mean(0).clone()}}
                torch.save(result, a.outdir / f"{label}.pt")
                timer.tokens += L
                timer.sequences += 1
    timer.done()


if __name__ == "__main__":
    main()
