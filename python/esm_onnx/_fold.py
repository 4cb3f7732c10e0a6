"""ESMFold: a converted folding model (esm-onnx convert of an ESMFold checkpoint) loaded as FoldModel, which
Model(path) returns for such a file, and the fold job. The work is the library's (esm_onnx/engines/fold_model.h,
esm_onnx/jobs/fold.h); here the arguments are checked and converted."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from . import _args, _core, _options
from ._errors import UsageError, warn_message

_F = _options.FOLD
FoldedStructure = _core.FoldedStructure
FoldSummary = _core.FoldSummary


def fold_request(num_recycles: Any = _F["num_recycles"], chunk_size: Any = _F["chunk_size"],
                 max_tokens_per_batch: Any = _F["max_tokens_per_batch"], residue_index_offset: Any = None,
                 chain_linker: Any = None) -> Any:
    """A FoldRequest from the package's keywords, each checked against its row of the option table."""
    r = _core.FoldRequest()
    if num_recycles is not None:
        r.num_recycles = _options.count("num_recycles", num_recycles, "fold")
    if chunk_size is not None:
        r.chunk_size = _options.count("chunk_size", chunk_size, "fold")
    r.max_tokens_per_batch = _options.count("max_tokens_per_batch", max_tokens_per_batch, "fold")
    if residue_index_offset is not None:
        r.residue_index_offset = _args.integer("residue_index_offset", residue_index_offset)
    if chain_linker is not None:
        r.chain_linker = _args.text("chain_linker", chain_linker)
    r.validate()
    return r


def records(sequences: Any) -> tuple[list[str], list[str]]:
    """Strings or (label, sequence) pairs; a bare string's label is its position ("0", "1", ...)."""
    if isinstance(sequences, str):
        raise UsageError("sequences: a list of sequences (or (label, sequence) pairs), not one string")
    labels, seqs = [], []
    for i, item in enumerate(sequences):
        if isinstance(item, str):
            labels.append(str(i))
            seqs.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            labels.append(_args.text("label", item[0]))
            seqs.append(_args.text("sequence", item[1]))
        else:
            raise UsageError(f"sequences[{i}]: a sequence or a (label, sequence) pair, not {type(item).__name__}")
    return labels, seqs


def fold_sequences(core: Any, sequences: Sequence[Any], num_recycles: Any, chunk_size: Any,
                   max_tokens_per_batch: Any, residue_index_offset: Any = None, chain_linker: Any = None) -> list[Any]:
    labels, seqs = records(sequences)
    return core.fold(labels, seqs, fold_request(num_recycles, chunk_size, max_tokens_per_batch, residue_index_offset,
                                                chain_linker))


def fold_fasta(model: Any, fasta: Any, outdir: Any, num_recycles: int | None = _F["num_recycles"],
               chunk_size: int | None = _F["chunk_size"], max_tokens_per_batch: int = _F["max_tokens_per_batch"],
               read_ahead: int = _F["read_ahead"], strict: bool = _F["strict"], threads: int = _F["threads"],
               device: str = _F["device"]) -> Any:
    """The `esm-onnx fold` job: every record of `fasta` folded into `outdir` as <label>.pdb (as esm-fold writes
    it), <label>.npz and summary.csv, resumable, bad records skipped with a SkippedRecordWarning (InputError when
    strict=True). `model`: a converted folding .onnx or a loaded esm_onnx.Model of one. Returns the FoldSummary."""
    from ._api import Model  # a loaded model, or a path to load

    opts = _core.FoldOptions()
    opts.fasta = _args.path("fasta", fasta)
    opts.outdir = _args.path("outdir", outdir)
    opts.request = fold_request(num_recycles, chunk_size, max_tokens_per_batch)
    opts.read_ahead = _options.count("read_ahead", read_ahead, "fold")
    opts.strict = _args.flag("strict", strict)
    if isinstance(model, Model):
        core = model._fold_core()
    else:
        core = Model(model, threads=threads, device=device)._fold_core()
    opts.model = core.path
    return core.fold_fasta(opts, warn_message)


def fold_config(core: Any) -> dict[str, Any]:
    return json.loads(core.config)
