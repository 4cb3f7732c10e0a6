"""fair-esm's esm.data: Alphabet, BatchConverter, FastaBatchedDataset and the FASTA readers, behaving as
fair-esm's do (their quirks included), over esm-onnx's vocabulary tables. The MSA and structure datasets
import and raise UnsupportedError when used."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .._api import Alphabet as _EngineAlphabet
from .._errors import InputError
from ._arrays import tokens_out
from ._unsupported import unsupported_class, unsupported_error

# fair-esm's amino-acid tokens (esm.constants.proteinseq_toks), in the order of the vocabulary.
PROTEINSEQ_TOKS = ["L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y", "M", "H", "W",
                   "C", "X", "B", "U", "Z", "O", ".", "-"]
proteinseq_toks = {"toks": PROTEINSEQ_TOKS}


class UnknownTokenError(InputError, KeyError):
    """A character outside the alphabet. A KeyError, as fair-esm's encode raises, and an esm_onnx.InputError."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Alphabet:
    """fair-esm's vocabulary: the same tokens, indices, special-token flags and tokenizer."""

    def __init__(self, core: _EngineAlphabet) -> None:
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
        # fair-esm's three groups: the specials before the amino acids, the amino acids, and what follows
        # them (padding <null_N> to a multiple of 8, then <cls>/<mask>/<sep>...).
        first = self.all_toks.index(PROTEINSEQ_TOKS[0])
        self.prepend_toks: list[str] = self.all_toks[:first]
        self.standard_toks: list[str] = self.all_toks[first:first + len(PROTEINSEQ_TOKS)]
        self.append_toks: list[str] = [t for t in self.all_toks[first + len(PROTEINSEQ_TOKS):]
                                       if not t.startswith("<null_")]
        self.all_special_tokens = ["<eos>", "<unk>", "<pad>", "<cls>", "<mask>"]
        self.unique_no_split_tokens = self.all_toks
        # Multi-character tokens (<mask>, <cls>, ...), longest first.
        self._long_toks = sorted((t for t in self.all_toks if len(t) > 1), key=len, reverse=True)

    @classmethod
    def from_architecture(cls, name: str) -> Alphabet:
        """"ESM-1b" (also "roberta_large", "ESM-2"-style models) or "ESM-1" ("protein_bert_base")."""
        if "invariant_gvp" in name or name == "msa_transformer" or "MSA" in name:
            raise unsupported_error("MSA Transformer" if "msa" in name.lower() else "ESM-IF")
        key = {"roberta_large": "ESM-1b", "protein_bert_base": "ESM-1", "ESM-2": "ESM-1b"}.get(name, name)
        return cls(_EngineAlphabet.from_name(key))

    def __len__(self) -> int:
        return len(self.all_toks)

    def get_idx(self, tok: str) -> int:
        return self.tok_to_idx.get(tok, self.unk_idx)

    def get_tok(self, ind: int) -> str:
        return self.all_toks[ind]

    def to_dict(self) -> dict[str, int]:
        return dict(self.tok_to_idx)

    def tokenize(self, text: str, **kwargs: Any) -> list[str]:
        """fair-esm's tokenizer: every vocabulary token (inline <mask> included) is one token, white space
        around tokens is dropped, and a run of other characters is kept whole (encode then refuses it)."""
        out: list[str] = []
        i, n = 0, len(text)

        def token_at(k: int) -> str | None:
            if text[k] in self.tok_to_idx:
                return text[k]
            return next((t for t in self._long_toks if text.startswith(t, k)), None)

        while i < n:
            if text[i].isspace():
                i += 1
                continue
            tok = token_at(i)
            if tok is not None:
                out.append(tok)
                i += len(tok)
                continue
            j = i + 1
            while j < n and not text[j].isspace() and token_at(j) is None:
                j += 1
            out.append(text[i:j])
            i = j
        return out

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`. A token outside the vocabulary raises UnknownTokenError, a KeyError as in fair-esm."""
        ids = []
        for tok in self.tokenize(text):
            if tok not in self.tok_to_idx:
                raise UnknownTokenError(f"{tok!r} is not in the alphabet (sequence {text[:40]!r}"
                                        f"{'...' if len(text) > 40 else ''})")
            ids.append(self.tok_to_idx[tok])
        return ids

    def get_batch_converter(self, truncation_seq_length: int | None = None) -> BatchConverter:
        if self.use_msa:
            raise unsupported_error("MSA Transformer")
        return BatchConverter(self, truncation_seq_length)


class BatchConverter:
    """(label, sequence) pairs in; labels, sequences and a padded [batch, length] int64 token batch out, laid
    out as fair-esm lays them (BOS, ids, EOS, padding): a torch tensor when torch is importable, else numpy."""

    def __init__(self, alphabet: Alphabet, truncation_seq_length: int | None = None) -> None:
        self.alphabet = alphabet
        self.truncation_seq_length = truncation_seq_length

    def __call__(self, raw_batch: Sequence[tuple[str, str]]) -> tuple[list[str], list[str], Any]:
        a = self.alphabet
        labels = [label for label, _ in raw_batch]
        strs = [seq for _, seq in raw_batch]
        encoded = [a.encode(s) for s in strs]
        if self.truncation_seq_length:
            encoded = [e[: self.truncation_seq_length] for e in encoded]
        longest = max(len(e) for e in encoded)  # an empty batch fails here, as in fair-esm
        width = longest + int(a.prepend_bos) + int(a.append_eos)
        tokens = np.full((len(encoded), width), a.padding_idx, dtype=np.int64)
        for i, e in enumerate(encoded):
            start = int(a.prepend_bos)
            if a.prepend_bos:
                tokens[i, 0] = a.cls_idx
            tokens[i, start:start + len(e)] = e
            if a.append_eos:
                tokens[i, start + len(e)] = a.eos_idx
        return labels, strs, tokens_out(tokens)


class FastaBatchedDataset:
    """fair-esm's FASTA dataset: labels are the header lines without '>' (an empty one becomes
    "seqnum<line>"), sequences their lines joined; duplicate labels fail an assertion; lines before the first
    header join the first record's sequence. get_batch_indices batches by length as esm-extract does."""

    def __init__(self, sequence_labels: Iterable[str], sequence_strs: Iterable[str]) -> None:
        self.sequence_labels = list(sequence_labels)
        self.sequence_strs = list(sequence_strs)

    @classmethod
    def from_file(cls, fasta_file: Any) -> FastaBatchedDataset:
        labels: list[str] = []
        strs: list[str] = []
        label: str | None = None
        lines: list[str] = []
        with open(fasta_file) as f:
            for number, line in enumerate(f):
                if line.startswith(">"):
                    if label is not None:
                        labels.append(label)
                        strs.append("".join(lines))
                        lines = []
                    header = line[1:].strip()
                    label = header if header else f"seqnum{number:09d}"
                else:
                    lines.append(line.strip())
        if label is not None:
            labels.append(label)
            strs.append("".join(lines))
        assert len(set(labels)) == len(labels), "Found duplicate sequence labels"
        return cls(labels, strs)

    def __len__(self) -> int:
        return len(self.sequence_labels)

    def __getitem__(self, idx: int) -> tuple[str, str]:
        return self.sequence_labels[idx], self.sequence_strs[idx]

    def get_batch_indices(self, toks_per_batch: int, extra_toks_per_seq: int = 0) -> list[list[int]]:
        """Indices sorted by length, cut where the padded batch would pass toks_per_batch (a record longer
        than the budget gets a batch of its own)."""
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for size, i in sorted((len(s), i) for i, s in enumerate(self.sequence_strs)):
            size += extra_toks_per_seq
            if max(size, longest) * (len(current) + 1) > toks_per_batch and current:
                batches.append(current)
                current, longest = [], 0
            longest = max(longest, size)
            current.append(i)
        if current:
            batches.append(current)
        return batches


def read_alignment_lines(lines: Iterable[str], keep_gaps: bool = True, keep_insertions: bool = True,
                         to_upper: bool = False) -> Iterator[tuple[str, str]]:
    """(description, sequence) for each record of FASTA lines, as fair-esm's reader yields them."""
    import re

    def parse(s: str) -> str:
        if not keep_gaps:
            s = s.replace("-", "")
        if not keep_insertions:
            s = re.sub("[a-z]", "", s)
        return s.upper() if to_upper else s

    seq = desc = None
    for line in lines:
        if len(line) > 0 and line[0] == ">":
            if seq is not None:
                yield desc, parse(seq)
            desc = line.strip().lstrip(">")
            seq = ""
        else:
            assert isinstance(seq, str)
            seq += line.strip()
    assert isinstance(seq, str) and isinstance(desc, str)
    yield desc, parse(seq)


def read_fasta(path: Any, keep_gaps: bool = True, keep_insertions: bool = True,
               to_upper: bool = False) -> Iterator[tuple[str, str]]:
    with open(path) as f:
        yield from read_alignment_lines(f, keep_gaps=keep_gaps, keep_insertions=keep_insertions, to_upper=to_upper)


MSABatchConverter = unsupported_class("MSA Transformer", "MSABatchConverter")
ESMStructuralSplitDataset = unsupported_class("ESM structural split datasets", "ESMStructuralSplitDataset")
RawMSA = Sequence[tuple[str, str]]
