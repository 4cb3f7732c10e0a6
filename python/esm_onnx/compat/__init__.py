"""A drop-in for fair-esm: existing scripts run unchanged apart from their import.

    from esm_onnx import compat as esm
    model, alphabet = esm.pretrained.load_model_and_alphabet_local("esm2_t33_650M_UR50D.pt")  # or an .onnx
    batch_converter = alphabet.get_batch_converter()
    labels, strs, tokens = batch_converter([("p1", "MKTAYIAKQR"), ("p2", "KALTARQQEV")])
    results = model(tokens, repr_layers=[33], return_contacts=True)

Everything fair-esm's `esm`, `esm.data` and `esm.pretrained` export is here under the same names. Arrays:
when torch is importable (every fair-esm script imports it) the batch converter returns torch tensors and
results are torch tensors; without torch, numpy arrays. A .pt checkpoint is converted once into a cache
keyed by its SHA-256. ESMFold (esm.pretrained.esmfold_v1(), esm.esmfold.ESMFold) folds with a converted folding
model. MSA Transformer and ESM-IF import and raise UnsupportedError when used.
"""
from __future__ import annotations

import sys

from . import data, esmfold, pretrained
from ._unsupported import unsupported_module
from .data import Alphabet, BatchConverter, FastaBatchedDataset
from .model import ESM, ESM2, MSATransformer, ProteinBertModel

__version__ = "2.0.0"  # the fair-esm release whose surface this mirrors

# fair-esm's package for ESM-IF, which esm-onnx does not run: `import esm_onnx.compat.inverse_folding` works,
# using anything in it raises UnsupportedError.
inverse_folding = unsupported_module("ESM-IF", f"{__name__}.inverse_folding")
sys.modules[inverse_folding.__name__] = inverse_folding
sys.modules[f"{__name__}.esmfold.v1"] = esmfold
sys.modules[f"{__name__}.esmfold.v1.esmfold"] = esmfold
sys.modules[f"{__name__}.esmfold.v1.pretrained"] = esmfold

__all__ = ["pretrained", "data", "Alphabet", "BatchConverter", "FastaBatchedDataset", "ProteinBertModel", "ESM2",
           "MSATransformer", "ESM", "inverse_folding", "esmfold", "__version__"]
