"""fair-esm's `esm-extract` loop (scripts/extract.py of fair-esm), --include mean [contacts] --repr_layers -1:
torch on CPU, batches by token budget, one .pt per record."""
from __future__ import annotations

import torch

from common import embed_all, start_torch_runner


def main() -> None:
    a, timer, model, alphabet = start_torch_runner(__doc__)
    layer = model.num_layers

    def forward(toks):
        out = model(toks, repr_layers=[layer], return_contacts=a.contacts)
        return out["representations"][layer], out.get("contacts")

    def save(label, mean, contacts):
        result = {"label": label, "mean_representations": {layer: mean.clone()}}
        if contacts is not None:
            result["contacts"] = contacts.clone()
        torch.save(result, a.outdir / f"{label}.pt")

    embed_all(a, timer, alphabet, forward, save)


if __name__ == "__main__":
    main()
