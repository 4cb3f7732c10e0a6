"""fair-esm's model objects, `model(tokens, repr_layers=[...], need_head_weights=..., return_contacts=...)`, on an
esm-onnx Model: ESM2 and ProteinBertModel (ESM-1, ESM-1b, ESM-1v) as fair-esm's loaders return them, and the
nn.Module methods scripts call. MSATransformer is a stand-in (see _unsupported)."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._api import Model
from .._args import layers as _layers
from .._args import token_ids
from .._errors import UnsupportedError, UsageError
from ._arrays import is_torch, warn_once
from ._unsupported import unsupported_class
from .data import Alphabet

MSATransformer = unsupported_class("MSA Transformer", "MSATransformer")


class _LayerStandIn:
    """One transformer layer of the converted graph: it exists (len(model.layers) is right), it cannot be run alone."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsupportedError(f"model.layers[{self.index}]: esm-onnx runs the whole converted model, not one layer; "
                               "call model(tokens, repr_layers=[...]) for a layer's output")

    def __repr__(self) -> str:
        return f"<esm-onnx layer {self.index}>"


class _EmbedTokensStandIn:
    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int) -> None:
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx

    @property
    def weight(self) -> Any:
        raise UnsupportedError("model.embed_tokens.weight: the weights live inside the converted ONNX graph; read "
                               "them from the checkpoint with torch.load, or take representations[0] from model(tokens)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsupportedError("model.embed_tokens(...): call model(tokens, repr_layers=[0]) for the embeddings")


class ESM:
    """Behaves as fair-esm's ESM2 / ProteinBertModel for inference (see the README's drop-in section for what
    is covered). Results are torch tensors when the tokens are, numpy arrays otherwise."""

    def __init__(self, model: Any = None, alphabet: Any = None, with_attentions: Callable[[], Model] | None = None,
                 **kwargs: Any) -> None:
        if not isinstance(model, Model):
            raise UnsupportedError(f"{type(self).__name__}(...) builds a PyTorch model; esm-onnx runs converted "
                                   "ones: load one with esm_onnx.compat.pretrained.load_model_and_alphabet(...)")
        self.onnx_model = model
        self.alphabet = alphabet
        self._with_attentions = with_attentions
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
        self.layers = tuple(_LayerStandIn(i) for i in range(self.num_layers))
        self.embed_tokens = _EmbedTokensStandIn(self.alphabet_size, self.embed_dim, self.padding_idx)
        self.training = False

    def _attention_model(self) -> Model:
        """A graph with the attentions output: this one, or the same checkpoint converted once with it (which
        then replaces this one, so that one copy of the weights is loaded)."""
        if self.onnx_model.info.has_attentions:
            return self.onnx_model
        if self._with_attentions is None:
            raise UsageError(f"need_head_weights=True: {self.onnx_model.path} has no attentions output; convert the "
                             "checkpoint with `esm-onnx convert --attentions` (or load the .pt itself)")
        self.onnx_model = self._with_attentions()
        return self.onnx_model

    def __call__(self, tokens: Any, repr_layers: Iterable[int] = (), need_head_weights: bool = False,
                 return_contacts: bool = False) -> dict[str, Any]:
        as_torch = is_torch(tokens)
        arr = token_ids(tokens)  # integer ids only, as fair-esm's embedding takes them: a UsageError naming them
        return_contacts, need_head_weights = bool(return_contacts), bool(need_head_weights)
        max_tokens = self.onnx_model.info.max_residues + int(self.prepend_bos) + int(self.append_eos)
        if arr.ndim == 2 and self.onnx_model.info.max_residues > 0 and arr.shape[1] > max_tokens:
            # fair-esm's LearnedPositionalEmbedding, word for word (ESM-1b, ESM-1v).
            raise UsageError(f"Sequence length {arr.shape[1]} above maximum  sequence length of {max_tokens}")
        model = self._attention_model() if need_head_weights else self.onnx_model
        # fair-esm's forward takes set(repr_layers) and keeps the layers 0..num_layers found in it: any other
        # number (a negative, a layer beyond the model) is ignored, not an error (esm-variants passes [33] to every
        # model). A layer the model has but this .onnx did not export is still refused by resolve_layers.
        wanted = sorted({n for n in _layers(repr_layers) if 0 <= n <= self.num_layers})
        layers = model.resolve_layers(wanted) if wanted else []
        out = model.forward(arr, repr_layers=layers, logits=True, contacts=return_contacts,
                            attentions=need_head_weights)
        result: dict[str, Any] = {"logits": out["logits"], "representations": {}}
        for k, layer in enumerate(out["layers"]):
            result["representations"][layer] = out["representations"][k]
        if need_head_weights:
            result["attentions"] = out["attentions"]
        if return_contacts:
            result["contacts"] = out["contacts"]
        if as_torch:
            import torch

            def convert(a: Any) -> Any:
                return torch.from_numpy(a).to(tokens.device)

            result = {k: ({l: convert(t) for l, t in v.items()} if isinstance(v, dict) else convert(v))
                      for k, v in result.items()}
        return result

    forward = __call__

    def predict_contacts(self, tokens: Any) -> Any:
        return self(tokens, return_contacts=True)["contacts"]

    # nn.Module methods fair-esm scripts call. Inference needs none of them; each says what it does here.
    def eval(self) -> ESM:
        return self

    def train(self, mode: bool = True) -> ESM:
        if mode:
            raise UsageError("train(): esm-onnx models are for inference only")
        return self

    def requires_grad_(self, requires_grad: bool = True) -> ESM:
        return self

    def to(self, *args: Any, **kwargs: Any) -> ESM:
        """nn.Module.to(device, dtype), either or both, positional or named: a CUDA device as cuda() takes it,
        float16 as half() takes it, anything else (the CPU, float32) as it is."""
        said = [str(a) for a in (*args, kwargs.get("device"), kwargs.get("dtype")) if a is not None]
        if any("cuda" in s for s in said):
            self.cuda()
        if "torch.float16" in said:
            self.half()
        return self

    def cpu(self) -> ESM:
        return self

    def cuda(self, device: Any = None) -> ESM:
        """The CUDA engine when torch sees a GPU and this ONNX Runtime has CUDA; otherwise a no-op with one warning
        (fair-esm's scripts call it behind torch.cuda.is_available(), or unconditionally)."""
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            try:
                self.onnx_model = Model(self.onnx_model.path, device="cuda")
                return self
            except Exception as e:  # this ONNX Runtime has no CUDA provider, or it cannot start
                warn_once("model.cuda", f"model.cuda(): the model stays on the CPU ({e})")
                return self
        warn_once("model.cuda", "model.cuda(): no GPU here; esm-onnx runs the model on the CPU")
        return self

    def half(self) -> ESM:
        """A no-op with one warning: the model keeps computing fair-esm's fp32 numbers (the fp16 graph,
        `esm-onnx convert --precision fp16`, is for GPUs and runs no faster on a CPU)."""
        warn_once("model.half", "model.half(): esm-onnx keeps computing in fp32 (fair-esm's fp32 numbers, fp32 "
                                "results); for fp16 on a GPU, convert with --precision fp16")
        return self

    def float(self) -> ESM:
        return self

    def parameters(self) -> Iterator[Any]:
        raise UnsupportedError("parameters(): the weights live inside the converted ONNX graph; read them from the "
                               "checkpoint with torch.load (esm-onnx models are for inference only)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(esm-onnx {self.onnx_model.path!r})"


class ESM2(ESM):
    """fair-esm's ESM2 (esm.model.esm2.ESM2), as its loaders return it for ESM-2 checkpoints."""


class ProteinBertModel(ESM):
    """fair-esm's ProteinBertModel, as its loaders return it for ESM-1, ESM-1b and ESM-1v checkpoints."""

    def __init__(self, model: Any = None, alphabet: Any = None, with_attentions: Callable[[], Model] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(model, alphabet, with_attentions, **kwargs)
        variant = model.info.variant if isinstance(model, Model) else ""
        self.model_version = "ESM-1" if variant == "ESM-1" else "ESM-1b"


def model_class(family: str) -> type[ESM]:
    """The fair-esm class a family's checkpoints load as."""
    return {"ESM-2": ESM2, "ESM-1": ProteinBertModel, "ESM-1b": ProteinBertModel}.get(family, ESM)
