"""Stand-ins for fair-esm's names whose models esm-onnx does not run (MSA Transformer, ESM-IF, fair-esm-only ESMFold files):
they import, so that scripts which only check `isinstance(model, MSATransformer)` run, and raise
UnsupportedError naming the model when used."""
from __future__ import annotations

import types
from typing import Any

from .._errors import UnsupportedError

_RUNS = "esm-onnx runs the sequence models (ESM-1, ESM-1b, ESM-1v, ESM-2, ESM C) and ESMFold (esmfold_v1)"


def unsupported_error(model: str) -> UnsupportedError:
    return UnsupportedError(f"{model}: not supported by esm-onnx ({_RUNS}); use fair-esm for it")


def unsupported_class(model: str, name: str | None = None) -> type:
    """A class that cannot be instantiated: isinstance() with it is always False."""
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise unsupported_error(model)

    return type(name or model.replace(" ", ""), (), {"__init__": __init__, "__doc__": f"{model}: not supported ({_RUNS})."})


def unsupported_function(model: str, name: str):
    def call(*args: Any, **kwargs: Any) -> Any:
        raise unsupported_error(model)

    call.__name__ = name
    call.__doc__ = f"fair-esm's {name}: {model} is not supported ({_RUNS})."
    return call


def unsupported_module(model: str, name: str) -> types.ModuleType:
    """A module whose every attribute raises UnsupportedError (esm.inverse_folding, esm.esmfold)."""
    class _Module(types.ModuleType):
        def __getattr__(self, attr: str) -> Any:
            if attr.startswith("__"):
                raise AttributeError(attr)
            raise unsupported_error(model)

    return _Module(name, f"fair-esm's {name}: {model} is not supported ({_RUNS}).")
