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


# esm-variants (Brandes et al. 2023), esm_variants_utils.py, re-implemented on numpy as it computes them.
def _intervals(L, min_overlap, max_len, parts=None):
    """esm-variants' recursion on numpy index arrays: the outer windows of each level, then the centred one."""
    parts = [] if parts is None else parts
    if len(L) <= max_len:
        if parts[-2][-1] - parts[-1][0] < min_overlap:
            mid = L[len(L) // 2]
            return parts + [np.arange(mid - max_len // 2, mid + max_len // 2)]
        return parts
    parts += [L[:max_len], L[-max_len:]]
    return _intervals(L[max_len - min_overlap:-max_len + min_overlap], min_overlap, max_len, parts)


def esm_variants_tiles(seq_len, min_overlap=512, max_len=1022, s=20):
    """get_intervals_and_weights: the windows sorted by start and their normalised sigmoid-edged weights [k, L]."""
    ints = _intervals(np.arange(seq_len), min_overlap, max_len)
    ints = [ints[i] for i in np.argsort([i[0] for i in ints])]
    a = int(np.round(min_overlap / 2))
    t = np.arange(max_len)
    up = 1 / (1 + np.exp(-(t[:a] - a / 2) / s))
    down = 1 / (1 + np.exp((t[:a] - a / 2) / s))
    f, f0, fn = np.ones(max_len), np.ones(max_len), np.ones(max_len)
    f[:a], f[max_len - a:] = up, down
    f0[max_len - a:] = down
    fn[:a] = up
    filt = [f0] + [f for _ in ints[1:-1]] + [fn]
    M = np.zeros((len(ints), seq_len))
    for k, i in enumerate(ints):
        M[k, i] = filt[k]
    return ints, M / M.sum(0)
