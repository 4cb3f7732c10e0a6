"""fair-esm's esm.pretrained loaders for local files. A .pt checkpoint is converted once (every layer,
contacts when its -contact-regression.pt is beside it, fp32) into a cache directory keyed by the
checkpoint's SHA-256: $ESM_ONNX_CACHE, else $XDG_CACHE_HOME/esm-onnx, else ~/.cache/esm-onnx."""
from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

from .._api import Model, convert
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


def load_model_and_alphabet(model_name: str | os.PathLike[str]) -> tuple[ESM, Alphabet]:
    """Local files only: pass the path of a .pt or .onnx (released weights are not downloaded here)."""
    if pathlib.Path(model_name).exists():
        return load_model_and_alphabet_local(model_name)
    raise UsageError(f"{model_name}: no such file; esm_onnx.compat loads local checkpoints only "
                     "(a fair-esm .pt or an esm-onnx .onnx)")
