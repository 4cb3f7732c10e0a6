"""A FASTA with a realistic length spread: log-normal lengths, median near 300, clipped to 30..1000
residues; amino acids at UniProt frequencies. Deterministic for a seed."""
from __future__ import annotations

import pathlib

import numpy as np

AMINO_ACIDS = "LAGVESIKRDTPNQFYMHCW"
FREQUENCIES = np.array([9.9, 8.3, 7.1, 6.9, 6.8, 6.6, 5.9, 5.8, 5.5, 5.5, 5.3, 4.7, 4.1, 3.9, 3.9, 2.9, 2.4, 2.3, 1.4, 1.1])


def realistic_lengths(n: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(x) for x in np.clip(rng.lognormal(np.log(300), 0.55, n), 30, 1000)]


def write_fasta(path: pathlib.Path, lengths: list[int], seed: int = 0, prefix: str = "protein") -> pathlib.Path:
    rng = np.random.default_rng(seed + 1)
    p = FREQUENCIES / FREQUENCIES.sum()
    with open(path, "w") as f:
        for i, n in enumerate(lengths):
            seq = "".join(rng.choice(list(AMINO_ACIDS), size=n, p=p))
            f.write(f">{prefix}_{i:05d} length={n}\n{seq}\n")
    return path
