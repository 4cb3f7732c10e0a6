"""The Python boundary's argument checks, in one place: each public function turns its arguments into the
binding's types here, so that a wrong type or value is a UsageError naming the argument, never a TypeError,
ValueError or OverflowError from the binding or from numpy."""
from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any, Union

from ._errors import UsageError

PathLike = Union[str, "os.PathLike[str]"]

INT64 = (-(2**63), 2**63 - 1)


def integer(name: str, value: Any, minimum: int = 0, maximum: int = INT64[1]) -> int:
    """A Python or numpy integer (not a bool, not a float, not an array) from `minimum` to `maximum`."""
    if isinstance(value, bool) or not hasattr(value, "__index__") or isinstance(value, float):
        raise UsageError(f"{name}={value!r}: expected an integer")
    try:
        value = value.__index__()
    except (TypeError, ValueError):  # a numpy array of several values, an __index__ returning no int
        raise UsageError(f"{name}={value!r}: expected one integer") from None
    if not isinstance(value, int):
        raise UsageError(f"{name}={value!r}: expected an integer")
    if not (max(minimum, INT64[0]) <= value <= min(maximum, INT64[1])):
        most = "fit in 64 bits" if maximum >= INT64[1] else f"at most {maximum}"
        raise UsageError(f"{name}={value}: must be at least {minimum} ({most})")
    return value


def optional_integer(name: str, value: Any, minimum: int = 0) -> int | None:
    return None if value is None else integer(name, value, minimum)


def number(name: str, value: Any) -> float:
    """A finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise UsageError(f"{name}={value!r}: expected a number")
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{name}={value!r}: expected a number") from None
    if not math.isfinite(out):
        raise UsageError(f"{name}={value!r}: expected a finite number")
    return out


def _encodable(name: str, value: str) -> str:
    """A string the library can take: UTF-8 (a lone surrogate, as os.fsdecode makes of undecodable bytes, is not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{name}={value!r}: not valid text (a lone surrogate); pass UTF-8 text") from None
    return value


def text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{name}={value!r}: expected a string")
    return _encodable(name, value)


def optional_text(name: str, value: Any) -> str | None:
    return None if value is None else text(name, value)


def flag(name: str, value: Any) -> bool:
    """True or False (1 and 0, numpy's bools too)."""
    numpy_bool = type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool")
    if numpy_bool or isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise UsageError(f"{name}={value!r}: expected True or False")


def names(name: str, value: Any) -> list[str]:
    """One name or several (a list, tuple or other iterable of strings)."""
    if isinstance(value, str):
        return [value]
    try:
        items = list(value)
    except TypeError:
        raise UsageError(f"{name}={value!r}: expected a name or a list of names") from None
    if not all(isinstance(i, str) for i in items):
        raise UsageError(f"{name}={value!r}: expected names (strings)")
    return [_encodable(name, i) for i in items]


def strings(name: str, value: Any, example: str) -> list[str]:
    """A list of strings (not one string: a sequence of its characters is never what was meant)."""
    if isinstance(value, (str, bytes)):
        raise UsageError(f"{name}: pass a list ({example}), not one string")
    try:
        items = list(value)
    except TypeError:
        raise UsageError(f"{name}={value!r}: expected a list ({example})") from None
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise UsageError(f"{name}[{i}]={item!r}: expected a string ({example})")
        _encodable(f"{name}[{i}]", item)
    return items


def layers(value: int | Iterable[int] | None) -> list[int]:
    """repr_layers: None, one layer number or several (fair-esm numbering, negatives from the end)."""
    if value is None:
        return []
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        raise UsageError(f"repr_layers={value!r}: expected layer numbers")
    if hasattr(value, "__index__") and not hasattr(value, "__len__"):
        return [integer("repr_layers", value, minimum=INT64[0])]
    try:
        items = list(value)
    except TypeError:
        raise UsageError(f"repr_layers={value!r}: expected layer numbers") from None
    return [integer("repr_layers", i, minimum=INT64[0]) for i in items]


def path(name: str, value: Any) -> str:
    try:
        out = os.fspath(value)
    except TypeError:
        raise UsageError(f"{name}={value!r}: expected a path") from None
    if isinstance(out, bytes):
        raise UsageError(f"{name}={value!r}: expected a path as text, not bytes")
    if "\0" in out:
        raise UsageError(f"{name}={value!r}: a path cannot hold a NUL character")
    return _encodable(name, out)


def optional_path(name: str, value: Any) -> str:
    """The binding's spelling of "none given": an empty string."""
    return "" if value is None else path(name, value)


def token_ids(value: Any) -> Any:
    """fair-esm's batch of token ids as an int64 [batch, length] array: integers only (fair-esm's embedding
    refuses float ids), each within int64, the rows of one length."""
    import numpy as np

    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise UsageError(f"tokens: not an array of token ids ({e}); pass a [batch, length] array of integers") from None
    if arr.dtype == object:
        # Python ints beyond int64, mixed types or ragged rows
        raise UsageError("tokens: expected a [batch, length] array of integer token ids with rows of one length, "
                         "each within 64 bits")
    if arr.dtype.kind not in "iu":
        raise UsageError(f"tokens: token ids must be integers, got {arr.dtype} (fair-esm's embedding refuses "
                         "float ids); pass the batch converter's tokens")
    if arr.ndim != 2:
        raise UsageError(f"tokens: expected a [batch, length] array, got shape {arr.shape}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > INT64[1]:
        raise UsageError(f"tokens: id {int(arr.max())} is beyond any vocabulary (and beyond int64)")
    return np.ascontiguousarray(arr, dtype=np.int64)
