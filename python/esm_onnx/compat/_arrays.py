"""Which arrays the drop-in hands out: torch tensors when torch is importable (every fair-esm script imports
it), numpy arrays otherwise. Token batches are a torch.Tensor subclass whose .cuda() and .to("cuda") stay on
the CPU, with one warning, where torch has no GPU: fair-esm's scripts move tokens to CUDA unconditionally
(variant-prediction/predict.py) although the model runs on the CPU here."""
from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np

_HAS_TORCH: bool | None = None


def torch_available() -> bool:
    global _HAS_TORCH
    if _HAS_TORCH is None:
        try:
            import torch  # noqa: F401  (fair-esm's scripts have imported it already)

            _HAS_TORCH = True
        except ImportError:
            _HAS_TORCH = False
    return _HAS_TORCH


def is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def tokens_out(tokens: np.ndarray) -> Any:
    """A token batch as the batch converter returns it."""
    if not torch_available():
        return tokens
    from ._torch_tokens import Tokens

    return Tokens.from_numpy(tokens)


def as_numpy(x: Any) -> np.ndarray:
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
