"""The options every front end shares, read from the library's one table (esm_onnx/base/option_specs.h): each
option's keyword, command-line spellings, default, bounds and help. The package's signatures take their
defaults from EMBED and SCORE, its argument checks their bounds from `count`, and the Ray command line its
arguments from `add_arguments`, so a default or a spelling changes in C++ alone."""
from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from . import _args, _core
from ._errors import UsageError

JOBS = ("embed", "score", "convert", "fold")
# {job: {keyword: row}}: the rows each job takes, chosen by the library (a job's own row, else the shared one).
ROWS: dict[str, dict[str, dict[str, Any]]] = {job: {r["key"]: r for r in _core.option_specs(job)} for job in JOBS}


def spec(key: str, job: str) -> dict[str, Any]:
    """The row of `key` for `job` ("embed", "score", "convert" or "fold")."""
    return ROWS[job][key]


def defaults(job: str) -> dict[str, Any]:
    """{keyword: default} for `job`; None where the model or the job decides."""
    return {key: r["default"] for key, r in ROWS[job].items()}


EMBED: dict[str, Any] = defaults("embed")
SCORE: dict[str, Any] = defaults("score")
CONVERT: dict[str, Any] = defaults("convert")
FOLD: dict[str, Any] = defaults("fold")


def count(key: str, value: Any, job: str = "embed") -> int:
    """An integer option within its row's bounds (UsageError naming the keyword)."""
    r = spec(key, job)
    return _args.integer(key, value, minimum=r["minimum"], maximum=r["maximum"])


class Tiling(_core.Tiling):
    """How records longer than one pass are tiled (esm-variants' windows), passed whole as `tiling=`:
    length residues per tile (None: the model's: its family's training length, at most its positions),
    neighbouring tiles sharing at least min_overlap residues, stitched with sigmoid edges of sharpness s.
    The defaults are the library's (esm_onnx.options()); a wrong value is a UsageError naming the field."""

    def __init__(self, length: int | None = None, min_overlap: int | None = None, sharpness: float | None = None) -> None:
        super().__init__(None if length is None else count("tile_length", length),
                         count("tile_overlap", EMBED["tile_overlap"] if min_overlap is None else min_overlap),
                         _args.number("tile_sharpness", EMBED["tile_sharpness"] if sharpness is None else sharpness))


def tiling(value: Any) -> Any:
    """The `tiling` argument: an esm_onnx.Tiling, a mapping of its fields ({"length": 800}), or None (the
    defaults: the model's tile length, esm-variants' overlap and sharpness)."""
    if value is None:
        return Tiling()
    if isinstance(value, _core.Tiling):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"length", "min_overlap", "sharpness"}
        if unknown:
            raise UsageError(f"tiling: unknown field(s) {sorted(unknown)}; use length, min_overlap, sharpness")
        length = value.get("length")
        return Tiling(length, value.get("min_overlap"), value.get("sharpness"))
    raise UsageError(f"tiling={value!r}: expected esm_onnx.Tiling(length=..., min_overlap=..., sharpness=...), "
                     "a dict of those fields, or None")


def tiling_of(run: Mapping[str, Any]) -> Any:
    """The Tiling of a run's stored options (tile_length, tile_overlap, tile_sharpness; absent: the defaults)."""
    return Tiling(run.get("tile_length") or None, run.get("tile_overlap"), run.get("tile_sharpness"))


def tiling_fields(t: Any) -> dict[str, Any]:
    """A Tiling as a run's stored options spell it (the table's keys)."""
    return {"tile_length": t.length, "tile_overlap": t.min_overlap, "tile_sharpness": t.sharpness}


def add_arguments(parser: argparse.ArgumentParser, job: str, keys: Iterable[str],
                  notes: Mapping[str, str] | None = None) -> None:
    """The options `keys` on an argparse parser, spelled, defaulted and explained as the CLI does; `notes` adds
    a front end's own remark to an option's help."""
    for key in keys:
        r = spec(key, job)
        flags, default, shown = r["flags"], r["default"], r["shown"]
        help_text = f"{r['help']} (default: {shown})" if shown and "default" not in r["help"] else r["help"]
        if notes and key in notes:
            help_text += f"; {notes[key]}"
        if isinstance(default, bool):
            clears = flags[0].startswith("--no-")
            parser.add_argument(*flags, dest=key, action="store_false" if clears else "store_true", help=r["help"])
        elif isinstance(default, float):
            parser.add_argument(*flags, dest=key, type=float, default=default, help=help_text)
        elif isinstance(default, int) or r["minimum"] != _args.INT64[0]:
            parser.add_argument(*flags, dest=key, type=int, default=default, help=help_text)
        else:
            parser.add_argument(*flags, dest=key, default=default, help=help_text)
