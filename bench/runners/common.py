"""What every peer runner shares: esm-extract's batching over a FASTA, the per-record output, the timing line."""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


def parse_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("model", type=pathlib.Path, help="fair-esm checkpoint (.pt) or the runner's converted model")
    ap.add_argument("fasta", type=pathlib.Path)
    ap.add_argument("outdir", type=pathlib.Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--toks-per-batch", type=int, default=4096)
    ap.add_argument("--truncation-seq-length", type=int, default=1022)
    ap.add_argument("--contacts", action="store_true", help="contacts too (fair-esm only)")
    return ap.parse_args()


def start_torch_runner(description: str):
    """What the torch runners share: options, thread count, the timer started before the model loads, and
    the fair-esm model with its alphabet. Returns (args, timer, model, alphabet)."""
    import torch

    import esm_checkpoints

    a = parse_args(description)
    torch.set_num_threads(a.threads)
    timer = Timer()
    model, alphabet = esm_checkpoints.load_with_fair_esm(a.model)
    return a, timer, model, alphabet


def batches(fasta: pathlib.Path, toks_per_batch: int):
    """esm-extract's batches: (labels, sequences) sorted by length, max_len * count <= toks_per_batch."""
    import esm

    ds = esm.FastaBatchedDataset.from_file(str(fasta))
    for idx in ds.get_batch_indices(toks_per_batch, extra_toks_per_seq=1):
        yield [ds.sequence_labels[i] for i in idx], [ds.sequence_strs[i] for i in idx]


def save_mean(outdir: pathlib.Path, label: str, layer: int, mean: np.ndarray) -> None:
    np.savez(outdir / f"{label}.npz", **{f"mean_representations/{layer}": mean.astype(np.float32)})


def embed_all(a, timer, alphabet, forward, save) -> None:
    """esm-extract's loop: for each batch, forward(tokens) -> ([B, T, E] hidden states of the last layer,
    [B, T', T'] contacts or None), then save(label, mean over the record's residues, its [L, L] contacts or
    None) for each record."""
    import torch

    convert = alphabet.get_batch_converter(a.truncation_seq_length)
    timer.loaded()
    a.outdir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for labels, seqs in batches(a.fasta, a.toks_per_batch):
            _, strs, toks = convert(list(zip(labels, seqs)))
            hidden, contacts = forward(toks)
            for i, label in enumerate(labels):
                L = min(a.truncation_seq_length, len(strs[i]))
                save(label, hidden[i, 1:L + 1].mean(0), None if contacts is None else contacts[i, :L, :L])
                timer.tokens += L
                timer.sequences += 1
    timer.done()


class Timer:
    """Prints one JSON line the benchmark reads: work counted inside the process, after start-up."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.t_loaded = None
        self.tokens = 0
        self.sequences = 0

    def loaded(self) -> None:
        self.t_loaded = time.perf_counter()

    def done(self, **extra) -> None:
        end = time.perf_counter()
        print(json.dumps({"tokens": self.tokens, "sequences": self.sequences, "seconds": end - self.t0,
                          "compute_seconds": end - (self.t_loaded or self.t0), **extra}), flush=True)
