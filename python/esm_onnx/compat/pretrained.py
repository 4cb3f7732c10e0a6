"""fair-esm's esm.pretrained loaders. A .pt checkpoint is converted once (every layer, contacts when its
-contact-regression.pt is beside it, fp32) into a cache directory keyed by the checkpoint's SHA-256:
$ESM_ONNX_CACHE, else $XDG_CACHE_HOME/esm-onnx, else ~/.cache/esm-onnx. The named loaders
(`esm2_t33_650M_UR50D()`, ...) fetch the released files first, into torch hub's folder as fair-esm does."""
from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

from .._api import Model, convert, download
from .._digest import sha256_file
from .._errors import FileError, UsageError
from .data import Alphabet
from .model import ESM


def cache_dir() -> pathlib.Path:
    if os.environ.get("ESM_ONNX_CACHE"):
        return pathlib.Path(os.environ["ESM_ONNX_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "esm-onnx"


def converted_model(checkpoint: str | os.PathLike[str]) -> pathlib.Path:
    """The cached .onnx of a fair-esm checkpoint, converted on first use."""
    ckpt = pathlib.Path(checkpoint)
    if not ckpt.is_file():
        raise FileError(f"{ckpt}: no such checkpoint file")
    regression = ckpt.with_name(ckpt.stem + "-contact-regression.pt")
    key = sha256_file(ckpt)
    if regression.is_file():
        key += "-" + sha256_file(regression)[:16]
    final = cache_dir() / key
    model = final / "model.onnx"
    if model.is_file():
        return model
    final.parent.mkdir(parents=True, exist_ok=True)
    # Converted in a private folder and renamed into place: a concurrent or interrupted conversion never
    # leaves a half-written model under the final name.
    work = pathlib.Path(tempfile.mkdtemp(prefix=key[:16] + ".", dir=final.parent))
    try:
        convert(ckpt, work / "model.onnx", repr_layers=("all",), precision="fp32", contacts=True)
        try:
            os.rename(work, final)
        except OSError:
            if not model.is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return model


def load_model_and_alphabet_local(model_location: str | os.PathLike[str], threads: int = 0,
                                  device: str = "cpu") -> tuple[ESM, Alphabet]:
    """fair-esm's loader for a local file: a fair-esm .pt (converted once, cached) or an esm-onnx .onnx."""
    path = pathlib.Path(model_location)
    onnx = path if path.suffix == ".onnx" else converted_model(path)
    model = Model(onnx, threads=threads, device=device)
    alphabet = Alphabet(model._core.alphabet)
    return ESM(model, alphabet), alphabet


# fair-esm's released sequence models, each also a loader function of this module (as in esm.pretrained).
RELEASED = ("esm1_t34_670M_UR50S", "esm1_t34_670M_UR50D", "esm1_t34_670M_UR100", "esm1_t12_85M_UR50S",
            "esm1_t6_43M_UR50S", "esm1b_t33_650M_UR50S", "esm1v_t33_650M_UR90S_1", "esm1v_t33_650M_UR90S_2",
            "esm1v_t33_650M_UR90S_3", "esm1v_t33_650M_UR90S_4", "esm1v_t33_650M_UR90S_5", "esm2_t6_8M_UR50D",
            "esm2_t12_35M_UR50D", "esm2_t30_150M_UR50D", "esm2_t33_650M_UR50D", "esm2_t36_3B_UR50D",
            "esm2_t48_15B_UR50D")


def load_model_and_alphabet_hub(model_name: str) -> tuple[ESM, Alphabet]:
    """A released name: its files fetched into torch hub's checkpoint folder (when not there yet), then loaded."""
    return load_model_and_alphabet_local(download(model_name))


def load_model_and_alphabet(model_name: str | os.PathLike[str]) -> tuple[ESM, Alphabet]:
    """A local .pt or .onnx, or a released name (downloaded as fair-esm does)."""
    if pathlib.Path(model_name).exists():
        return load_model_and_alphabet_local(model_name)
    if str(model_name) in RELEASED:
        return load_model_and_alphabet_hub(str(model_name))
    raise UsageError(f"{model_name}: no such file, nor a released fair-esm model name")


def __getattr__(name: str):
    if name in RELEASED:
        return lambda: load_model_and_alphabet_hub(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
