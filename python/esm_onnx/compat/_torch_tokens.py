"""The drop-in's token batches as torch tensors (imported only where torch is)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._arrays import warn_once

_CPU_NOTE = ("esm-onnx runs the model on the CPU here (torch sees no GPU): the tokens stay on the CPU; "
             "fair-esm's script would stop at this call")


def _asks_for_cuda(args: tuple, kwargs: dict) -> bool:
    device = kwargs.get("device", args[0] if args else None)
    if isinstance(device, (str, torch.device)):
        return torch.device(device).type == "cuda"
    return False


class Tokens(torch.Tensor):
    """fair-esm's int64 [batch, length] token batch; .cuda() and .to("cuda") are no-ops without a GPU."""

    @classmethod
    def from_numpy(cls, tokens: np.ndarray) -> Tokens:
        return torch.from_numpy(tokens).as_subclass(cls)

    def cuda(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        if torch.cuda.is_available():
            return super().cuda(*args, **kwargs)
        warn_once("tokens.cuda", f"tokens.cuda(): {_CPU_NOTE}")
        return self

    def to(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not torch.cuda.is_available() and _asks_for_cuda(args, kwargs):
            warn_once("tokens.cuda", f"tokens.to('cuda'): {_CPU_NOTE}")
            # What else was asked (a dtype) still applies; the device move does not.
            args = args[1:] if "device" not in kwargs else args
            kwargs = {k: v for k, v in kwargs.items() if k not in ("device", "non_blocking", "copy")}
            return super().to(*args, **kwargs) if args or kwargs else self
        return super().to(*args, **kwargs)
