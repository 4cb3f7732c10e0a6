"""Variant-effect scores: predict.py's deep-mutational-scan strategies and esm-variants' every-missense-variant
matrices, computed by the C++ library. pandas is needed only by the functions that return DataFrames, matplotlib
only by plot_missense."""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from . import _args, _core, _options
from ._errors import SkippedRecordWarning, UsageError, warn_message

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from ._api import Model

_S = _options.SCORE  # the scoring jobs' defaults (esm_onnx/base/option_specs.h)
Tiling = _options.Tiling

PathLike = Union[str, "os.PathLike[str]"]

#: esm-variants' amino-acid order: the columns of every [L, 20] matrix and the rows of its CSV.
MISSENSE_ORDER: str = _core.MISSENSE_ORDER
#: The token budget of a scoring batch (the library's default).
SCORE_TOKS_PER_BATCH: int = _S["toks_per_batch"]
#: The strategy a scan is scored with unless told (ScoreRequest's own default).
DEFAULT_STRATEGY: str = _core.ScoreRequest().strategy
# esm-variants' matrices come from the wild type's pass alone.
MISSENSE_STRATEGY = "wt-marginals"
#: The column with the mean of several models' scores (the ESM-1v ensemble).
ENSEMBLE_COLUMN: str = _core.ENSEMBLE_COLUMN


def _need(module: str, what: str) -> Any:
    """An optional dependency of the `score` extra, or a UsageError saying how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"{what} needs {module.split('.')[0]}: pip install 'esm-onnx[score]' (pandas and matplotlib)") from None


def scoring_strategies() -> list[dict[str, str]]:
    """Every scoring strategy: {"name", "formula"}, in the order `--scoring-strategy` lists them."""
    return list(_core.scoring_strategies())


def _score_request(strategy: str, toks_per_batch: int, long_sequences: str, tiling: Any) -> _core.ScoreRequest:
    return _core.ScoreRequest(_args.text("strategy", strategy), _options.count("toks_per_batch", toks_per_batch, "score"),
                              _args.text("long_sequences", long_sequences), _options.tiling(tiling))


def tile_sequence(length: int, tiling: Tiling | None = None) -> list[tuple[int, int, np.ndarray]]:
    """esm-variants' tiles of a sequence of `length` residues: (start, length, weights) per tile, sorted by start,
    each residue's weights summing to 1 over the tiles that hold it; one tile when the sequence fits a tile.
    tiling: esm_onnx.Tiling; its length None (and tiling None) is esm-variants' 1,022 residues."""
    # a protein of 10 million residues is 300 times the longest known; beyond it the weights would not fit in memory
    n = _args.integer("length", length, 1, 10_000_000)
    t = _options.tiling(tiling)
    if t.length is None:
        t = Tiling(_core.TRUNCATION, t.min_overlap, t.sharpness)
    return list(_core.tile_sequence(n, t))


def score_mutants(model: Model, sequence: str, mutants: Sequence[str], strategy: str = DEFAULT_STRATEGY,
                  offset_idx: int = 0, strict: bool = _S["strict"], toks_per_batch: int = _S["toks_per_batch"],
                  long_sequences: str = _S["long_sequences"], tiling: Tiling | None = None) -> np.ndarray:
    """See Model.score."""
    mutants = _args.strings("mutants", mutants, 'mutations such as "A24C" or "A24C:G30W"')
    request = _score_request(strategy, toks_per_batch, long_sequences, tiling)
    scores, skipped, _ = _core.score_mutants(model._core, _args.text("sequence", sequence), mutants, request,
                                             _args.integer("offset_idx", offset_idx, minimum=_args.INT64[0]),
                                             _args.flag("strict", strict))
    for index, _line, mutant, reason in skipped:
        warnings.warn(f"skipped mutant {index} ('{mutant}'): {reason}", SkippedRecordWarning, stacklevel=3)
    return scores


def score_missense_matrix(model: Model, sequence: str, toks_per_batch: int = _S["toks_per_batch"],
                          long_sequences: str = _S["long_sequences"], tiling: Tiling | None = None) -> np.ndarray:
    """See Model.score_missense."""
    request = _score_request(MISSENSE_STRATEGY, toks_per_batch, long_sequences, tiling)
    matrix, _ = _core.score_missense(model._core, _args.text("sequence", sequence), request)
    return matrix


def missense_frame(matrix: np.ndarray, sequence: str, seq_id: str = "") -> pandas.DataFrame:
    """An [L, 20] matrix as esm-variants' CSV rows: seq_id, mut_name ("M1K": wild type, 1-based position,
    mutant), esm_score; 20 rows per position in MISSENSE_ORDER."""
    import pandas as pd

    matrix = np.asarray(matrix)
    sequence, seq_id = _args.text("sequence", sequence), _args.text("seq_id", seq_id)
    if matrix.shape != (len(sequence), 20):
        raise UsageError(f"matrix: shape {matrix.shape}, expected ({len(sequence)}, 20) for the sequence given")
    names = [f"{wt}{i + 1}{aa}" for i, wt in enumerate(sequence) for aa in MISSENSE_ORDER]
    return pd.DataFrame({"seq_id": seq_id, "mut_name": names, "esm_score": matrix.reshape(-1)})


def score_dms(models: Union[PathLike, Model, Iterable[Union[PathLike, Model]]], sequence: str,
              dms: Union[PathLike, pandas.DataFrame], mutation_col: str = "mutant", offset_idx: int = 0,
              strategy: str = DEFAULT_STRATEGY, strict: bool = _S["strict"], toks_per_batch: int = _S["toks_per_batch"],
              long_sequences: str = _S["long_sequences"], tiling: Tiling | None = None,
              threads: int = _S["threads"]) -> pandas.DataFrame:
    """predict.py in a call: the scan `dms` (a DataFrame, or a CSV file read with pandas) with a column of scores
    per model, named as predict.py names it (the model's path as given; a Model's path), and ENSEMBLE_COLUMN, their
    mean, for several models. Rows that cannot be scored get NaN and a SkippedRecordWarning (strict: InputError).
    Returns a new DataFrame; the input is not changed."""
    pd = _need("pandas", "score_dms")

    from ._api import Model

    if isinstance(dms, (str, os.PathLike)):
        path = _args.path("dms", dms)
        if not os.path.isfile(path):
            from ._errors import FileError

            raise FileError(f"dms={path}: no such CSV file" + (" (a folder)" if os.path.isdir(path) else ""))
        try:
            frame = pd.read_csv(path)
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
            from ._errors import FormatError

            raise FormatError(f"dms={path}: not a CSV file pandas can read ({e})") from None
    elif isinstance(dms, pd.DataFrame):
        frame = dms.copy()
    else:
        raise UsageError(f"dms={dms!r}: expected a pandas DataFrame or the path of a CSV file")
    mutation_col = _args.text("mutation_col", mutation_col)
    if mutation_col not in frame.columns:
        raise UsageError(f"mutation_col {mutation_col}: no such column (the columns are: {', '.join(map(str, frame.columns))})")
    if isinstance(models, (str, os.PathLike, Model)):
        models = [models]
    try:
        models = list(models)
    except TypeError:
        raise UsageError(f"models={models!r}: expected model paths or Models") from None
    # Each model once, whatever its spelling (a relative and an absolute path, a link): the library's rule, the
    # CLI's for its ensembles, so that the mean does not weigh one model twice.
    items = [m if isinstance(m, Model) else _args.path(f"models[{i}]", m) for i, m in enumerate(models)]
    names = [m.path if isinstance(m, Model) else m for m in items]
    unique = [items[k] for k in _core.distinct_models(names, names, warn_message)]
    mutants = [str(m) for m in frame[mutation_col]]
    columns = []
    for item in unique:
        model = item if isinstance(item, Model) else Model(item, threads=threads)
        name = model.path if isinstance(item, Model) else os.fspath(item)
        frame[name] = score_mutants(model, sequence, mutants, strategy, offset_idx, strict, toks_per_batch,
                                    long_sequences, tiling)
        columns.append(name)
    if not columns:
        raise UsageError("models: at least one model is needed")
    if len(columns) > 1:
        frame[ENSEMBLE_COLUMN] = frame[columns].mean(axis=1, skipna=False)
    return frame


def score_missense(model: Union[PathLike, Model], fasta: PathLike, output_csv: PathLike,
                   matrix_dir: PathLike | None = None, read_ahead: int = _S["read_ahead"], strict: bool = _S["strict"],
                   toks_per_batch: int = _S["toks_per_batch"], long_sequences: str = _S["long_sequences"],
                   tiling: Tiling | None = None, heatmaps: bool = False, threads: int = _S["threads"]) -> dict[str, Any]:
    """esm-variants' job: every missense variant of every protein of `fasta`, written to `output_csv` (seq_id,
    mut_name, esm_score) and to matrix_dir/<seq_id>.npz (default: output_csv + ".d"; a rerun skips the proteins
    found there). heatmaps: also a <seq_id>.png beside each matrix (matplotlib). Returns the summary: scored,
    already_present, skipped [(label, line, reason)], csv_rows, matrix_dir, passes, tokens, batches, seconds."""
    from ._api import Model

    if not isinstance(model, Model):
        model = Model(model, threads=threads)
    request = _score_request(MISSENSE_STRATEGY, toks_per_batch, long_sequences, tiling)
    summary = dict(_core.score_missense_file(model._core, _args.path("fasta", fasta), _args.path("output_csv", output_csv),
                                             _args.optional_path("matrix_dir", matrix_dir), request,
                                             _options.count("read_ahead", read_ahead, "score"), _args.flag("strict", strict), warn_message))
    if heatmaps:
        summary["heatmaps"] = plot_matrix_dir(summary["matrix_dir"])
    return summary


def read_matrix(path: PathLike) -> dict[str, Any]:
    """A matrix file of score_missense: {"label", "sequence", "scores" ([L, 20]), "amino_acids", "provenance"}."""
    from ._errors import FileError, FormatError

    where = _args.path("path", path)
    if not os.path.isfile(where):
        raise FileError(f"{where}: no such matrix file")
    try:
        with np.load(where) as z:
            return {k: (z[k].item().decode() if z[k].dtype.kind == "S" else z[k]) for k in z.files}
    except (ValueError, OSError, EOFError, __import__("zipfile").BadZipFile) as e:
        raise FormatError(f"{where}: not a matrix file of score_missense ({e})") from None


def plot_missense(matrix: Union[np.ndarray, PathLike], sequence: str | None = None, path: PathLike | None = None,
                  title: str | None = None, max_positions_per_row: int = 250) -> Any:
    """A heatmap of an [L, 20] matrix (or a matrix file): positions along x, the 20 amino acids in MISSENSE_ORDER
    along y, a diverging colour scale centred on 0 (blue: damaging, red: favoured), the wild type marked with a dot.
    Long proteins wrap into rows of `max_positions_per_row` positions. Saved to `path` (PNG, SVG, PDF by its
    extension) when given; returns the matplotlib Figure."""
    matplotlib = _need("matplotlib", "plot_missense")
    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.ticker import MaxNLocator

    if not isinstance(matrix, np.ndarray):
        stored = read_matrix(matrix)
        matrix, sequence = stored["scores"], sequence or stored["sequence"]
        title = title or stored["label"]
    matrix = np.asarray(matrix, dtype=np.float32)
    if sequence is None or matrix.shape != (len(sequence), 20):
        raise UsageError(f"plot_missense: a [{'L' if sequence is None else len(sequence)}, 20] matrix and its sequence are needed")
    n = len(sequence)
    rows = max(1, -(-n // max_positions_per_row))
    width = min(n, max_positions_per_row)
    lo, hi = float(np.nanmin(matrix)), float(np.nanmax(matrix))
    norm = TwoSlopeNorm(vcenter=0.0, vmin=min(lo, -1e-6), vmax=max(hi, 1e-6))
    fig, axes = plt.subplots(rows, 1, figsize=(max(6.0, 0.06 * width + 2.5), 2.6 * rows + 0.6), squeeze=False)
    image = None
    for r in range(rows):
        ax = axes[r][0]
        start, stop = r * max_positions_per_row, min(n, (r + 1) * max_positions_per_row)
        image = ax.imshow(matrix[start:stop].T, aspect="auto", cmap="RdBu_r", norm=norm, interpolation="nearest",
                          extent=(start + 0.5, stop + 0.5, 19.5, -0.5))
        wt = [(i + 1, MISSENSE_ORDER.index(sequence[i])) for i in range(start, stop) if sequence[i] in MISSENSE_ORDER]
        if wt:
            ax.scatter([p for p, _ in wt], [k for _, k in wt], s=4 if width > 100 else 10, c="black", marker="o",
                       linewidths=0)
        ax.set_yticks(range(20))
        ax.set_yticklabels(list(MISSENSE_ORDER), fontsize=6)
        ax.set_xlim(start + 0.5, start + width + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("mutant")
        if r == rows - 1:
            ax.set_xlabel("position (wild type marked)")
    if title:
        axes[0][0].set_title(title)
    fig.colorbar(image, ax=[a[0] for a in axes], label="log-likelihood ratio (mutant vs wild type)", shrink=0.9)
    if path is not None:
        fig.savefig(os.fspath(path), dpi=150, bbox_inches="tight")
        plt.close(fig)
    return fig


def plot_matrix_dir(matrix_dir: PathLike) -> list[str]:
    """plot_missense for every matrix file of a folder, each to a .png beside it; returns the pictures' paths."""
    out = []
    for root, _dirs, files in os.walk(os.fspath(matrix_dir)):
        if ".partial" in root.split(os.sep):
            continue
        for name in sorted(files):
            if name.endswith(".npz"):
                src = os.path.join(root, name)
                png = src[:-4] + ".png"
                plot_missense(src, path=png)
                out.append(png)
    return out


def heatmap_main(argv: list[str] | None = None) -> int:
    """`esm-onnx-heatmap MATRIX [MATRIX|DIR ...]`: a PNG beside each matrix file of `esm-onnx score
    --input-fasta-file` (or of every one in a folder)."""
    import argparse

    parser = argparse.ArgumentParser(prog="esm-onnx-heatmap", description=heatmap_main.__doc__)
    parser.add_argument("paths", nargs="+", help="matrix files (.npz) or folders of them (--matrix-dir)")
    parser.add_argument("--output", help="with one matrix file: where the picture goes (.png, .svg, .pdf)")
    args = parser.parse_args(argv)
    if args.output and (len(args.paths) != 1 or os.path.isdir(args.paths[0])):
        parser.error("--output takes one matrix file")
    import sys

    from ._errors import Error

    codes = _core.EXIT_CODES  # the CLI's exit codes, one home (tools/esm-onnx/cli.h)
    try:
        for p in args.paths:
            if os.path.isdir(p):
                for png in plot_matrix_dir(p):
                    print(png)
            elif not os.path.isfile(p):
                raise UsageError(f"{p}: no such matrix file or folder")
            else:
                out = args.output or (p[:-4] if p.endswith(".npz") else p) + ".png"
                plot_missense(p, path=out)
                print(out)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return codes["usage"]
    except (Error, OSError, ValueError) as e:  # a file that is not a matrix of score_missense
        print(f"error: {e}", file=sys.stderr)
        return codes["error"]
    return codes["ok"]
