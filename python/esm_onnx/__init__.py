"""esm-onnx: Meta's ESM protein language models with ONNX Runtime, without PyTorch.

    import esm_onnx
    info = esm_onnx.convert("esm2_t33_650M_UR50D.pt", "esm2.onnx")
    model = esm_onnx.Model("esm2.onnx")
    for e in model.embed(["MKTAYIAKQR", ("p2", "KALTARQQEV")], include=("mean",)):
        print(e.label, e.mean[33].shape)

`esm_onnx.compat` runs fair-esm scripts unchanged apart from their import.
"""
from __future__ import annotations

from . import _runtime

ONNXRUNTIME_LIBRARY = _runtime.load()

from . import _core  # noqa: E402
from ._errors import (  # noqa: E402
    ALL as _ALL_ERRORS,
    Error,
    FileError,
    FormatError,
    InputError,
    InternalError,
    RuntimeFailure,
    SkippedRecordWarning,
    UnsupportedError,
    UsageError,
)

_core._set_errors(_ALL_ERRORS)

from ._api import (  # noqa: E402
    DEFAULTS, Alphabet, Embedding, EmbedSummary, FastaEmbeddings, Model, ModelInfo, cached_model, check_engine_options,
    check_request, convert, download, embed_to_dir, graph_outputs, inspect, model_cache_root, options, outputs,
    read_model_info, releases, Tiling,
)
from ._fold import FoldedStructure, FoldSummary, fold_fasta  # noqa: E402
from ._score import (  # noqa: E402
    ENSEMBLE_COLUMN, MISSENSE_ORDER, missense_frame, plot_missense, read_matrix, score_dms, score_missense, scoring_strategies,
    tile_sequence,
)

__version__ = "0.1.0"

__all__ = [
    "Model", "ModelInfo", "Embedding", "EmbedSummary", "FastaEmbeddings", "convert", "download", "embed_to_dir", "inspect",
    "outputs", "graph_outputs", "releases", "read_model_info", "check_request", "check_engine_options", "Alphabet", "DEFAULTS",
    "Tiling", "options",
    "Error", "UsageError", "InputError", "FormatError", "UnsupportedError", "FileError", "RuntimeFailure", "InternalError",
    "SkippedRecordWarning", "ONNXRUNTIME_LIBRARY", "score_dms", "score_missense", "scoring_strategies", "missense_frame",
    "plot_missense", "read_matrix", "tile_sequence", "MISSENSE_ORDER", "ENSEMBLE_COLUMN", "cached_model", "model_cache_root",
    "fold_fasta", "FoldedStructure", "FoldSummary",
]
