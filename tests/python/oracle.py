"""fair-esm as the oracle: each record run alone, exactly as fair-esm computes it."""
from __future__ import annotations

import numpy as np
import torch

import esm


def read_fasta(path) -> list[tuple[str, str]]:
    ds = esm.FastaBatchedDataset.from_file(str(path))
    return list(zip(ds.sequence_labels, ds.sequence_strs))


def reference_outputs(model, alphabet, records, has_contacts=True, truncation=1022) -> dict[str, dict[str, np.ndarray]]:
    """label -> {'representations/<l>': [L, E], 'mean_representations/<l>', 'bos_representations/<l>',
    'logits': [L, V], 'contacts': [L, L] (when the model has contact weights)}."""
    convert = alphabet.get_batch_converter(truncation)
    out = {}
    layers = list(range(model.num_layers + 1))
    with torch.no_grad():
        for label, seq in records:
            _, _, toks = convert([(label, seq)])
            res = model(toks, repr_layers=layers, return_contacts=bool(has_contacts))
            L = toks.shape[1] - int(alphabet.prepend_bos) - int(alphabet.append_eos)
            rec = {}
            for l in layers:
                r = res["representations"][l][0]
                rec[f"representations/{l}"] = r[1:L + 1].numpy()
                rec[f"mean_representations/{l}"] = r[1:L + 1].mean(0).numpy()
                rec[f"bos_representations/{l}"] = r[0].numpy()
            rec["logits"] = res["logits"][0, 1:L + 1].numpy()
            if has_contacts:
                rec["contacts"] = res["contacts"][0, :L, :L].numpy()
            out[label] = rec
    return out
