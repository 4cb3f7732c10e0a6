"""The Python API over the C++ library: argument checking and conversion here, the work in _core with
the GIL released."""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Union

from . import _args, _core, _options
from ._errors import SkippedRecordWarning, UsageError, warn_message
from ._options import CONVERT as _C
from ._options import EMBED as _E
from ._options import FOLD as _FOLD
from ._options import SCORE as _S
from ._score import DEFAULT_STRATEGY as _STRATEGY

ModelInfo = _core.ModelInfo
Alphabet = _core.Alphabet
# The defaults of the shared options for embedding (toks_per_batch, truncation_seq_length, read_ahead, ...): one
# value each, in C++ (esm_onnx/base/option_specs.h); esm_onnx.options() lists every row.
DEFAULTS: dict[str, Any] = dict(_E)
Tiling = _options.Tiling
Embedding = _core.Embedding
EmbedSummary = _core.EmbedSummary

PathLike = Union[str, "os.PathLike[str]"]
Record = Union[str, tuple[str, str]]

_int = _args.integer
_names = _args.names
_layers = _args.layers
_path = _args.path
_str = _args.text


def _runtime(threads: Any, device: Any, engine: Any, compute: Any, cache_dir: PathLike | None,
             cache: Any) -> _core.RuntimeOptions:
    return _core.RuntimeOptions(_options.count("threads", threads), _str("device", device), _str("engine", engine),
                                _str("compute", compute), _args.optional_path("cache_dir", cache_dir),
                                _args.flag("cache", cache))


def _request(include: Any, repr_layers: Any, toks_per_batch: Any, truncation_seq_length: Any,
             long_sequences: Any = None, tiling: Any = None) -> _core.EmbedRequest:
    return _core.EmbedRequest(_names("include", include), _layers(repr_layers), _options.count("toks_per_batch", toks_per_batch),
                              None if truncation_seq_length is None else _options.count("truncation_seq_length", truncation_seq_length),
                              _args.optional_text("long_sequences", long_sequences), _options.tiling(tiling))


def _records(sequences: Sequence[Record]) -> tuple[list[str], list[str]]:
    if isinstance(sequences, (str, bytes)):
        raise UsageError("sequences: pass a list of sequences (or of (label, sequence) pairs), not one string")
    try:
        items = list(sequences)
    except TypeError:
        raise UsageError(f"sequences={sequences!r}: expected a list of sequences (or of (label, sequence) pairs)") from None
    labels, seqs = [], []
    for i, item in enumerate(items):
        if isinstance(item, str):
            labels.append(str(i))
            seqs.append(_str(f"sequences[{i}]", item))
        elif isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
            labels.append(_str(f"sequences[{i}] label", item[0]))
            seqs.append(_str(f"sequences[{i}] sequence", item[1]))
        else:
            raise UsageError(f"sequences[{i}]: expected a sequence string or a (label, sequence) pair of strings, "
                             f"got {type(item).__name__}")
    return labels, seqs


class FastaEmbeddings(Iterator["Embedding"]):
    """Embeddings of a FASTA file's records, computed one batch at a time as you iterate, so memory is
    bounded by the batch. Records come shortest first within each `read_ahead` records (esm-extract's
    packing); `Embedding.index` is the record's position in the file. Bad records are skipped with a
    SkippedRecordWarning (or raise InputError when strict=True) and listed in `skipped`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._warned = 0

    def __iter__(self) -> FastaEmbeddings:
        return self

    def __next__(self) -> Embedding:
        try:
            return next(self._inner)
        finally:
            if self._inner.skipped_count > self._warned:
                new = self._inner.skipped_since(self._warned)
                for label, line, reason in new:
                    warnings.warn(f"skipped record '{label}' (line {line}): {reason}", SkippedRecordWarning, stacklevel=2)
                self._warned += len(new)

    @property
    def skipped(self) -> list[tuple[str, int, str]]:
        """(label, line, reason) of every record skipped so far."""
        return self._inner.skipped_since(0)

    @property
    def records_seen(self) -> int:
        return self._inner.records_seen


class Model:
    """A converted model (.onnx from `convert`), loaded once.

    A Model may be used from several threads at once: each call releases the GIL while the engine runs.

    engine: "ort" (ONNX Runtime, every graph) or "openvino" (graphs from convert(..., engine="openvino")).
    compute (OpenVINO): "bf16", "fp32", or "auto" (bf16 where the CPU has AVX512_BF16 or AMX-BF16).
    cache_dir / cache (OpenVINO): where compiled models are cached (None: $ESM_ONNX_CACHE/openvino, else
    ~/.cache/esm-onnx/openvino); cache=False compiles at every load.
    """

    def __init__(self, path: PathLike, threads: int = _E["threads"], device: str = _E["device"], engine: str = _E["engine"],
                 compute: str = _E["compute"], cache_dir: PathLike | None = _E["cache_dir"], cache: bool = _E["cache"]) -> None:
        p = _path("path", path)
        options = _runtime(threads, device, engine, compute, cache_dir, cache)
        self._folding = None
        self._embedding = None
        if _core.is_fold_model(p):  # ESMFold: fold() runs it; its stem (stem_path) is the model to embed with
            self._folding = _core.FoldModel(p, options)
        else:
            self._embedding = _core.Model(p, options)

    @property
    def _core(self) -> Any:
        # A folding model has no embedding surface: name its stem instead of failing inside the library.
        if self._folding is not None:
            raise UsageError(f"{self._folding.path}: an ESMFold model: use Model.fold() (or fold_fasta), or load its "
                             f"stem {self._folding.stem_path} to embed and score")
        return self._embedding

    def _fold_core(self) -> Any:
        if self._folding is None:
            raise UsageError(f"{self.path}: not a folding model: fold() runs a model converted from an ESMFold checkpoint "
                             "(such as facebook/esmfold_v1)")
        return self._folding

    @property
    def is_folding(self) -> bool:
        """Whether this is an ESMFold model (fold() runs it)."""
        return self._folding is not None

    @property
    def stem_path(self) -> str:
        """A folding model's ESM-2 stem, an ordinary model beside it (embed and score run it)."""
        return self._fold_core().stem_path

    def fold(self, sequences: Sequence[Record], num_recycles: int | None = _FOLD["num_recycles"],
             chunk_size: int | None = _FOLD["chunk_size"], max_tokens_per_batch: int = _FOLD["max_tokens_per_batch"],
             residue_index_offset: int = 512, chain_linker: str = "G" * 25) -> list[Any]:
        """Predicts structures (ESMFold): one FoldedStructure per item of `sequences` (strings or (label, sequence)
        pairs; chains of a multimer joined by ':'), in input order, with positions [L, 37, 3] (Angstrom, atom37),
        atom_mask, plddt [L] (0-100, CA), plddt_atoms, ptm, predicted_aligned_error [L, L], distogram_logits,
        mean_plddt and the .pdb text as esm-fold writes it. num_recycles: recycles after the first pass (None:
        the model's, 4 passes as released); chunk_size: rows of triangle attention at a time (None: bounded
        automatically; exact at any size). A record that cannot be folded raises InputError naming it."""
        from ._fold import fold_sequences

        return fold_sequences(self._fold_core(), sequences, num_recycles, chunk_size, max_tokens_per_batch,
                              residue_index_offset, chain_linker)

    @property
    def engine(self) -> dict[str, Any]:
        """What runs the model: {"engine", "version", "compute", "cache_dir", "from_cache"}, every auto resolved."""
        return self._core.engine

    @property
    def load_seconds(self) -> float:
        """Seconds spent reading and compiling the model (or loading it from OpenVINO's cache)."""
        return self._folding.load_seconds if self._folding is not None else self._core.load_seconds

    @property
    def alphabet(self) -> Alphabet:
        """The model's vocabulary (tokens, special indices, encode)."""
        return self._core.alphabet

    def resolve_layers(self, repr_layers: Iterable[int]) -> list[int]:
        """fair-esm's layer numbers (negatives from the end) as this model's layers, checked against what it
        exports (UsageError naming the layer otherwise)."""
        return self._core.resolve_layers(_layers(repr_layers))

    @property
    def info(self) -> ModelInfo:
        """What the model is: family, num_layers, embed_dim, repr_layers, has_contacts, precision, ..."""
        return self._core.info

    @property
    def path(self) -> str:
        return self._folding.path if self._folding is not None else self._core.path

    def embed(self, sequences: Sequence[Record], include: str | Iterable[str] = _E["include"],
              repr_layers: int | Iterable[int] | None = None, toks_per_batch: int = _E["toks_per_batch"],
              truncation_seq_length: int | None = _E["truncation_seq_length"],
              long_sequences: str | None = _E["long_sequences"], tiling: Tiling | None = None) -> list[Embedding]:
        """Embeds sequences (strings, or (label, sequence) pairs) and returns one Embedding per item, in input
        order. A bare string's label is its position in the list ("0", "1", ...).

        include: any of "mean", "per_tok", "bos", "logits", "contacts", "attentions". repr_layers: fair-esm numbering
        (0 = embeddings, -1 = last); None = every layer the model exports. toks_per_batch and
        truncation_seq_length as in esm-extract (0 = no truncation; None: 1022 with long_sequences="truncate", none
        with "tile" and "full"). long_sequences: what records longer than one pass take get: "truncate"
        (esm-extract's), "tile" (esm-variants' overlapping windows as `tiling` says: esm_onnx.Tiling(length, min_overlap,
        sharpness), None for the model's length and esm-variants' overlap and edges) or "full" (one pass; ESM-2, ESM C);
        None: the model's default (ESM C tiles at 2,048, the others truncate). A bad sequence raises InputError.
        """
        labels, seqs = _records(sequences)
        return self._core.embed(labels, seqs, _request(include, repr_layers, toks_per_batch, truncation_seq_length,
                                                       long_sequences, tiling))

    def embed_fasta(self, path: PathLike, include: str | Iterable[str] = _E["include"],
                    repr_layers: int | Iterable[int] | None = None, toks_per_batch: int = _E["toks_per_batch"],
                    truncation_seq_length: int | None = _E["truncation_seq_length"], strict: bool = _E["strict"],
                    read_ahead: int = _E["read_ahead"], long_sequences: str | None = _E["long_sequences"], tiling: Tiling | None = None) -> FastaEmbeddings:
        """Streams the embeddings of a FASTA file's records (see FastaEmbeddings); long_sequences and the tile
        options as for embed."""
        inner = self._core.embed_fasta(_path("path", path), _request(include, repr_layers, toks_per_batch,
                                                                     truncation_seq_length, long_sequences, tiling),
                                       _args.flag("strict", strict), _options.count("read_ahead", read_ahead))
        return FastaEmbeddings(inner)

    def embed_to_dir(self, fasta: PathLike, outdir: PathLike, include: str | Iterable[str] = _E["include"],
                     format: str = _E["format"], repr_layers: int | Iterable[int] | None = None, toks_per_batch: int = _E["toks_per_batch"],
                     truncation_seq_length: int | None = _E["truncation_seq_length"], strict: bool = _E["strict"],
                     read_ahead: int = _E["read_ahead"], long_sequences: str | None = _E["long_sequences"],
                     tiling: Tiling | None = None) -> EmbedSummary:
        """esm_onnx.embed_to_dir with this already loaded model (a worker that embeds many files loads it once)."""
        options = _core.EmbedOptions("", _path("fasta", fasta), _path("outdir", outdir),
                                     _request(include, None, toks_per_batch, truncation_seq_length, long_sequences, tiling),
                                     [str(i) for i in _layers(repr_layers)], _str("format", format), _core.RuntimeOptions(),
                                     _args.flag("strict", strict), _options.count("read_ahead", read_ahead))
        return self._core.embed_to_dir(options, warn_message)

    def score(self, sequence: str, mutants: Sequence[str], strategy: str = _STRATEGY, offset_idx: int = 0,
              strict: bool = _S["strict"], toks_per_batch: int = _S["toks_per_batch"],
              long_sequences: str = _S["long_sequences"], tiling: Tiling | None = None) -> Any:
        """Scores mutations of `sequence` as predict.py does: a float64 numpy array, one score per mutant, in order.

        mutants: "A24C" (wild type, position, mutant) or "A24C:G30W"; a position minus offset_idx indexes the
        sequence (offset_idx=1 for 1-based positions). strategy: one of esm_onnx.scoring_strategies() ("wt-marginals",
        "masked-marginals", "pseudo-ppl", "joint-masked-marginals", "mutant-marginals", "pseudo-ll"). A mutant that
        cannot be scored (wrong wild type, outside the sequence, not an amino acid) is NaN with a
        SkippedRecordWarning naming it (strict=True: InputError). Sequences longer than the tile length (1,022
        residues; ESM C 2,048) are tiled as esm-variants tiles them; long_sequences="full" runs them in one pass
        (ESM-2, ESM C).
        """
        from ._score import score_mutants
        return score_mutants(self, sequence, mutants, strategy, offset_idx, strict, toks_per_batch, long_sequences,
                             tiling)

    def score_missense(self, sequence: str, toks_per_batch: int = _S["toks_per_batch"],
                       long_sequences: str = _S["long_sequences"], tiling: Tiling | None = None) -> Any:
        """esm-variants' matrix of one protein: [L, 20] float32, log p(mutant) - log p(wild type) at each position
        from the wild type's pass, amino acids in esm_onnx.MISSENSE_ORDER (the wild type's entry 0). Tiled as
        esm-variants tiles beyond the tile length. InputError for a residue outside the 20 amino acids."""
        from ._score import score_missense_matrix
        return score_missense_matrix(self, sequence, toks_per_batch, long_sequences, tiling)

    def forward(self, tokens: Any, repr_layers: Iterable[int] = (), logits: bool = True,
                contacts: bool = False, attentions: bool = False) -> dict[str, Any]:
        """fair-esm's model(tokens) on one batch of token ids ([batch, length] int64, BOS/EOS/padding laid
        out as fair-esm's batch converter does). Returns {"layers", "representations" ([layers, B, T, E]),
        "logits" ([B, T, V]), "contacts" ([B, L, L]), "attentions" ([B, layers, H, T, T], fair-esm's
        need_head_weights)}, with None for what was not asked."""
        arr = _args.token_ids(tokens)
        layers = _layers(repr_layers)
        wanted = {"per_tok": bool(layers), "logits": _args.flag("logits", logits),
                  "contacts": _args.flag("contacts", contacts), "attentions": _args.flag("attentions", attentions)}
        include = [name for name, on in wanted.items() if on]
        if not include:
            return {"layers": [], **{g["name"]: None for g in _core.graph_output_specs()}}
        return self._core.forward(arr, include, layers)

    def __repr__(self) -> str:
        return f"esm_onnx.Model({self.path!r})"


def convert(checkpoint: PathLike, output: PathLike, repr_layers: Iterable[int | str] = (-1,), precision: str = _C["precision"],
            contacts: bool = _C["contacts"], optimize: bool = _C["optimize"], int4_block: int = _C["int4_block"],
            engine: str = _C["engine"],
            attentions: bool = False) -> ModelInfo:
    """Converts a checkpoint into an ONNX model at `output` and returns its ModelInfo.

    checkpoint: a fair-esm .pt, a transformers model folder (ESM or ESM C), an ESM C .pth; or a released
    name / hub repository id, downloaded into its cache first (see `download`).

    repr_layers: the layers the model exports (fair-esm numbering, negatives from the end, or "all").
    precision: fp32, fp16, int8 or int4. contacts: include the contact head when the checkpoint has its
    regression weights. attentions: add fair-esm's need_head_weights output (every layer's attention maps;
    the graph then computes them with standard ops). optimize: ONNX Runtime's fused ops where the outputs
    allow. engine: "ort", or "openvino" for a graph OpenVINO runs (standard ops, fp32 weights)."""
    if repr_layers is None or isinstance(repr_layers, bool):
        raise UsageError(f"repr_layers={repr_layers!r}: expected layer numbers or 'all'")
    specs = [repr_layers] if isinstance(repr_layers, str) or hasattr(repr_layers, "__index__") else list(repr_layers)
    specs = [s if isinstance(s, str) else _args.integer("repr_layers", s, minimum=_args.INT64[0]) for s in specs]
    options = _core.ConvertOptions(_path("checkpoint", checkpoint), _path("output", output), [str(s) for s in specs],
                                   _str("precision", precision), _args.flag("contacts", contacts),
                                   ["attentions"] if _args.flag("attentions", attentions) else [],
                                   _args.flag("optimize", optimize), _options.count("int4_block", int4_block, "convert"), _str("engine", engine))
    return _core.convert(options)


def embed_to_dir(model: PathLike, fasta: PathLike, outdir: PathLike, include: str | Iterable[str] = _E["include"],
                 format: str = _E["format"], repr_layers: int | Iterable[int] | None = None, toks_per_batch: int = _E["toks_per_batch"],
                 truncation_seq_length: int | None = _E["truncation_seq_length"], threads: int = _E["threads"], device: str = _E["device"],
                 strict: bool = _E["strict"], read_ahead: int = _E["read_ahead"], engine: str = _E["engine"],
                 compute: str = _E["compute"], cache_dir: PathLike | None = _E["cache_dir"], cache: bool = _E["cache"],
                 long_sequences: str | None = _E["long_sequences"], tiling: Tiling | None = None) -> EmbedSummary:
    """The `esm-onnx embed` job: every record of `fasta` embedded into `outdir` as npz, pt or h5, resumable
    (records already written are left as they are), bad records skipped with a SkippedRecordWarning (or
    InputError when strict=True). engine, compute, cache_dir and cache as for Model. Returns the summary
    (written, already_present, skipped, tokens, engine, ...). long_sequences and tiling as for Model.embed."""
    options = _core.EmbedOptions(_path("model", model), _path("fasta", fasta), _path("outdir", outdir),
                                 _request(include, None, toks_per_batch, truncation_seq_length,
                                          long_sequences, tiling),
                                 [str(i) for i in _layers(repr_layers)], _str("format", format),
                                 _runtime(threads, device, engine, compute, cache_dir, cache), _args.flag("strict", strict),
                                 _options.count("read_ahead", read_ahead))
    return _core.embed_to_dir(options, warn_message)


def options(job: str = "embed") -> list[dict[str, Any]]:
    """The options every front end shares (keywords here, flags of `esm-onnx` and `esm-onnx-ray`), from the library's
    one table, as `job` ("embed" or "score") takes them: each a dict with "key" (the keyword), "flags", "default"
    (None: the model or the job decides, "shown" says how), "help", "minimum" and "maximum"."""
    job = _str("job", job)
    if job not in _options.ROWS:
        raise UsageError(f"job={job!r}: use one of {', '.join(_options.ROWS)}")
    return list(_options.ROWS[job].values())


def outputs() -> list[dict[str, Any]]:
    """The outputs embed can produce, from the library's registry, in the order writers store them: each a
    dict with "name" (as include= and Embedding attributes spell it), "source" (the graph output it is cut
    from, a key of Model.forward's result), "key" (its array name in npz, pt and h5 files, followed by
    "/<layer>" when "per_layer"), "per_layer" and "shape" (per record)."""
    return _core.output_specs()


def graph_outputs() -> list[dict[str, Any]]:
    """The outputs a converted graph can have: "name", "layout" (the batch's), "on_request" (convert builds
    it only when asked, as attentions=True) and "needs_attention_maps" (the graph then uses standard ops)."""
    return _core.graph_output_specs()


def releases() -> dict[str, list[str]]:
    """The release catalog `download` and the drop-in share: {"fair-esm": fair-esm's sequence models,
    "esmc": ESM C's, "esmfold": the ESMFold releases folded (fetched as their transformers folder),
    "unsupported": fair-esm's names of models esm-onnx does not run (MSA Transformer, ESM-IF, fair-esm-only
    ESMFold files)}."""
    return {"fair-esm": _core.fair_esm_releases(), "esmc": _core.esmc_releases(), "esmfold": _core.fold_releases(),
            "unsupported": _core.unsupported_releases()}


def cached_model(location: PathLike, graph: str = "everything") -> str:
    """The converted model for `location` from the model cache that the CLI and the drop-in share: an .onnx as it
    is; a checkpoint (file or folder) or a released name converted once, fp32, into
    <cache root>/<SHA-256 of the checkpoint>[...]/model.onnx. graph: "everything" (every layer, contacts when the
    checkpoint has them), "logits" (what scoring reads) or "attentions" (everything plus the attention maps). An
    entry that is damaged or is not what its name says is converted again, with a UserWarning."""
    path, notices = _core.cached_model(_path("location", location), _str("graph", graph))
    for notice in notices:
        warnings.warn(notice, UserWarning, stacklevel=2)
    return path


def model_cache_root() -> str:
    """The model cache's folder: $ESM_ONNX_CACHE, else $XDG_CACHE_HOME/esm-onnx, else ~/.cache/esm-onnx."""
    return _core.model_cache_root()


def read_model_info(path: PathLike) -> ModelInfo:
    """A converted model's metadata, read without loading its weights."""
    return _core.read_model_info(_path("path", path))


def check_request(model: PathLike, include: str | Iterable[str] = _E["include"],
                  repr_layers: int | Iterable[int] | None = None) -> list[int]:
    """The layers `include` and `repr_layers` would give on the model at `model`, checked against its metadata
    without loading it (UsageError for a layer it did not export or an output it lacks)."""
    path = _path("model", model)
    return _core.resolve_request(_core.read_model_info(path), path, _names("include", include), _layers(repr_layers))


def check_engine_options(engine: str = _E["engine"], compute: str = _E["compute"]) -> None:
    """The engine options as the CLI checks them, without a model or this machine's CPU: UsageError for an unknown
    name, or for bf16 compute on ONNX Runtime."""
    _core.check_engine_options(_str("engine", engine), _str("compute", compute))


def download(name: str, dir: PathLike | None = None, revision: str = "main") -> str:
    """Fetches released weights (`esm-onnx download`): a fair-esm name (esm2_t33_650M_UR50D, ...) into torch
    hub's checkpoint folder, esmc_300m / esmc_600m or a hub repository id into the hub cache, so that
    fair-esm and transformers find the same files. Returns what `convert` takes (a file or a folder).
    Raises FileError (an OSError) when the server refuses or the download keeps failing."""
    return _core.download(_str("name", name), _args.optional_path("dir", dir), _str("revision", revision))


def inspect(path: PathLike) -> dict[str, Any]:
    """What a checkpoint (file or transformers folder) or a converted model holds, as `esm-onnx inspect --json`
    prints it."""
    return json.loads(_core.inspect_json(_path("path", path)))
