"""fair-esm's esm.pretrained loaders. A .pt checkpoint is converted once (every layer, contacts when its
-contact-regression.pt is beside it, fp32) into the library's model cache (esm_onnx.cached_model), which the CLI
shares. The named loaders
(`esm2_t33_650M_UR50D()`, ...) fetch the released files first, into torch hub's folder as fair-esm does."""
from __future__ import annotations

import os
import pathlib

from .._api import Model, cached_model, download, model_cache_root, releases
from .._errors import UsageError
from .data import Alphabet
from ._unsupported import unsupported_error
from .model import ESM, model_class


def cache_dir() -> pathlib.Path:
    """The model cache's folder (the library's rule: $ESM_ONNX_CACHE, else $XDG_CACHE_HOME/esm-onnx, else
    ~/.cache/esm-onnx)."""
    return pathlib.Path(model_cache_root())


def converted_model(checkpoint: str | os.PathLike[str], attentions: bool = False) -> pathlib.Path:
    """The cached .onnx of a fair-esm checkpoint, converted on first use by the library's model cache (with the
    attentions output when asked: a graph of its own, since the engine computes every output of a graph at
    each call)."""
    return pathlib.Path(cached_model(checkpoint, "attentions" if attentions else "everything"))


def load_model_and_alphabet_local(model_location: str | os.PathLike[str], threads: int = 0,
                                  device: str = "cpu") -> tuple[ESM, Alphabet]:
    """fair-esm's loader for a local file: a fair-esm .pt (converted once, cached) or an esm-onnx .onnx. The
    model is fair-esm's class for its family (ESM2, ProteinBertModel)."""
    path = pathlib.Path(model_location)
    onnx = path if path.suffix == ".onnx" else converted_model(path)
    model = Model(onnx, threads=threads, device=device)
    alphabet = Alphabet(model.alphabet)
    with_attentions = None
    if path.suffix != ".onnx":
        def with_attentions() -> Model:
            return Model(converted_model(path, attentions=True), threads=threads, device=device)
    return model_class(model.info.family)(model, alphabet, with_attentions), alphabet


# fair-esm's released sequence models, each also a loader function of this module (as in esm.pretrained):
# the library's release catalog, shared with `esm-onnx download`.
RELEASED = tuple(releases()["fair-esm"])
UNSUPPORTED = {name: ("MSA Transformer" if "msa" in name else "ESM-IF" if "if1" in name else
                      f"{name} (fair-esm's files only; esm-onnx folds esmfold_v1)")
               for name in releases()["unsupported"]}
FOLDING = tuple(releases()["esmfold"])
# fair-esm's esm1v_t33_650M_UR90S() loads the first of the five.
ALIASES = {"esm1v_t33_650M_UR90S": "esm1v_t33_650M_UR90S_1"}


def load_model_and_alphabet_hub(model_name: str) -> tuple[ESM, Alphabet]:
    """A released name: its files fetched into torch hub's checkpoint folder (when not there yet), then loaded."""
    if model_name in UNSUPPORTED:
        raise unsupported_error(UNSUPPORTED[model_name])
    return load_model_and_alphabet_local(download(ALIASES.get(model_name, model_name)))


def load_model_and_alphabet(model_name: str | os.PathLike[str]) -> tuple[ESM, Alphabet]:
    """A local .pt or .onnx, or a released name (downloaded as fair-esm does)."""
    if pathlib.Path(model_name).exists():
        return load_model_and_alphabet_local(model_name)
    name = str(model_name)
    if name in RELEASED or name in ALIASES or name in UNSUPPORTED:
        return load_model_and_alphabet_hub(name)
    raise UsageError(f"{model_name}: no such file, nor a released fair-esm model name")


# fair-esm's loaders of model data already read by torch.load: esm-onnx converts files, not torch objects.
_FROM_TORCH_DATA = ("load_model_and_alphabet_core", "load_hub_workaround", "load_regression_hub",
                    "has_emb_layer_norm_before")


def __getattr__(name: str):
    if name in FOLDING:
        from .esmfold import ESMFold

        return lambda: ESMFold(name)
    if name in RELEASED or name in ALIASES or name in UNSUPPORTED:
        return lambda: load_model_and_alphabet_hub(name)
    if name in _FROM_TORCH_DATA:
        def refuse(*args, **kwargs):
            raise UsageError(f"pretrained.{name}(...) takes model data already loaded by torch; esm-onnx converts "
                             "the checkpoint file: use load_model_and_alphabet_local(path)")
        return refuse
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *RELEASED, *ALIASES, *UNSUPPORTED, *FOLDING, *_FROM_TORCH_DATA])
