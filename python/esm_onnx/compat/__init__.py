"""A drop-in for fair-esm: existing scripts run unchanged apart from their import.

    from esm_onnx import compat as esm
    model, alphabet = esm.pretrained.load_model_and_alphabet_local("esm2_t33_650M_UR50D.pt")  # or an .onnx
    batch_converter = alphabet.get_batch_converter()
    labels, strs, tokens = batch_converter([("p1", "MKTAYIAKQR"), ("p2", "KALTARQQEV")])
    results = model(tokens, repr_layers=[33], return_contacts=True)

Tokens and results are numpy arrays, or torch tensors when the caller passes torch tensors (torch is
never required). A .pt checkpoint is converted once into a cache keyed by its SHA-256.
"""
from __future__ import annotations

from . import pretrained
from .data import Alphabet, BatchConverter
from .model import ESM

__all__ = ["pretrained", "Alphabet", "BatchConverter", "ESM"]
