"""fair-esm's model call, `model(tokens, repr_layers=[...], return_contacts=...)`, on an esm-onnx Model."""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._api import Model
from .._errors import UsageError
from .data import Alphabet


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


class ESM:
    """Behaves as fair-esm's ESM2 / ProteinBertModel for inference. Not available: attention maps
    (need_head_weights=True, results["attentions"]), gradients and training."""

    def __init__(self, model: Model, alphabet: Alphabet) -> None:
        self.onnx_model = model
        self.alphabet = alphabet
        info = model.info
        self.num_layers: int = info.num_layers
        self.embed_dim: int = info.embed_dim
        self.attention_heads: int = info.attention_heads
        self.alphabet_size = len(alphabet)
        self.padding_idx = alphabet.padding_idx
        self.mask_idx = alphabet.mask_idx
        self.cls_idx = alphabet.cls_idx
        self.eos_idx = alphabet.eos_idx
        self.prepend_bos = alphabet.prepend_bos
        self.append_eos = alphabet.append_eos

    def __call__(self, tokens: Any, repr_layers: Iterable[int] = (), need_head_weights: bool = False,
                 return_contacts: bool = False) -> dict[str, Any]:
        if need_head_weights:
            raise UsageError("need_head_weights: esm-onnx models do not export attention maps; "
                             "use return_contacts=True for contacts")
        as_torch = _is_torch(tokens)
        arr = tokens.detach().cpu().numpy() if as_torch else np.asarray(tokens)
        # fair-esm's numbering (negatives from the end), checked as esm-onnx checks it everywhere.
        wanted = list(repr_layers)
        layers = self.onnx_model._core.resolve_layers(wanted) if wanted else []
        out = self.onnx_model.forward(arr, repr_layers=layers, logits=True, contacts=return_contacts)
        result: dict[str, Any] = {"logits": out["logits"], "representations": {}}
        for k, layer in enumerate(out["layers"]):
            result["representations"][layer] = out["representations"][k]
        if return_contacts:
            result["contacts"] = out["contacts"]
        if as_torch:
            import torch

            convert = lambda a: torch.from_numpy(a).to(tokens.device)  # noqa: E731
            result["logits"] = convert(result["logits"])
            result["representations"] = {k: convert(v) for k, v in result["representations"].items()}
            if return_contacts:
                result["contacts"] = convert(result["contacts"])
        return result

    forward = __call__

    def predict_contacts(self, tokens: Any) -> Any:
        return self(tokens, return_contacts=True)["contacts"]

    # Module methods fair-esm scripts call; inference needs none of them.
    def eval(self) -> ESM:
        return self

    def train(self, mode: bool = True) -> ESM:
        if mode:
            raise UsageError("train(): esm-onnx models are for inference only")
        return self

    def to(self, *args: Any, **kwargs: Any) -> ESM:
        return self

    def cpu(self) -> ESM:
        return self

    def requires_grad_(self, requires_grad: bool = True) -> ESM:
        return self
