"""fair-esm's Alphabet and BatchConverter (esm/data.py), over esm-onnx's tokenizer."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import _core


class Alphabet:
    """fair-esm's vocabulary: the same tokens, indices and special-token flags."""

    def __init__(self, core: _core.Alphabet) -> None:
        self._core = core
        self.all_toks: list[str] = list(core.tokens)
        self.tok_to_idx: dict[str, int] = {t: i for i, t in enumerate(self.all_toks)}
        self.padding_idx: int = core.padding_idx
        self.cls_idx: int = core.cls_idx
        self.eos_idx: int = core.eos_idx
        self.mask_idx: int = core.mask_idx
        self.unk_idx: int = core.unk_idx
        self.prepend_bos: bool = core.prepend_bos
        self.append_eos: bool = core.append_eos
        self.use_msa = False

    @classmethod
    def from_architecture(cls, name: str) -> Alphabet:
        """"ESM-1b" (also "roberta_large", "ESM-2"-style models) or "ESM-1"."""
        key = {"roberta_large": "ESM-1b", "protein_bert_base": "ESM-1", "ESM-2": "ESM-1b"}.get(name, name)
        return cls(_core.Alphabet.from_name(key))

    def __len__(self) -> int:
        return len(self.all_toks)

    def get_idx(self, tok: str) -> int:
        return self.tok_to_idx.get(tok, self.unk_idx)

    def get_tok(self, ind: int) -> str:
        return self.all_toks[ind]

    def to_dict(self) -> dict[str, int]:
        return dict(self.tok_to_idx)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; inline special tokens such as <mask> are one token. A character outside the
        alphabet raises esm_onnx.InputError naming it."""
        return list(self._core.encode(text))

    def get_batch_converter(self, truncation_seq_length: int | None = None) -> BatchConverter:
        return BatchConverter(self, truncation_seq_length)


class BatchConverter:
    """(label, sequence) pairs in; labels, sequences and a padded [batch, length] int64 token array out,
    laid out as fair-esm lays them (BOS, ids, EOS, padding)."""

    def __init__(self, alphabet: Alphabet, truncation_seq_length: int | None = None) -> None:
        self.alphabet = alphabet
        self.truncation_seq_length = truncation_seq_length

    def __call__(self, raw_batch: Sequence[tuple[str, str]]) -> tuple[list[str], list[str], np.ndarray]:
        a = self.alphabet
        labels = [label for label, _ in raw_batch]
        strs = [seq for _, seq in raw_batch]
        encoded = [a.encode(s) for s in strs]
        if self.truncation_seq_length:
            encoded = [e[: self.truncation_seq_length] for e in encoded]
        longest = max((len(e) for e in encoded), default=0)
        width = longest + int(a.prepend_bos) + int(a.append_eos)
        tokens = np.full((len(encoded), width), a.padding_idx, dtype=np.int64)
        for i, e in enumerate(encoded):
            start = int(a.prepend_bos)
            if a.prepend_bos:
                tokens[i, 0] = a.cls_idx
            tokens[i, start:start + len(e)] = e
            if a.append_eos:
                tokens[i, start + len(e)] = a.eos_idx
        return labels, strs, tokens
