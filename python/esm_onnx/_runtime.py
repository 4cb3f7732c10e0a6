"""Loads the ONNX Runtime library of the `onnxruntime` package before the extension needs it, so that
esm-onnx and `import onnxruntime` use the files of one installation, and no second copy ships with us."""
from __future__ import annotations

import ctypes
import importlib.util
import os
import pathlib


def onnxruntime_library() -> pathlib.Path | None:
    """$ESM_ONNX_ORT_LIBRARY, else the libonnxruntime.so.* inside the installed onnxruntime (or
    onnxruntime-gpu) package, else None (the extension then finds the library it was built against)."""
    explicit = os.environ.get("ESM_ONNX_ORT_LIBRARY")
    if explicit:
        path = pathlib.Path(explicit)
        if not path.is_file():
            raise ImportError(f"ESM_ONNX_ORT_LIBRARY={explicit}: no such file; point it at a libonnxruntime.so")
        return path
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(pathlib.Path(location, "capi").glob("libonnxruntime.so*"))
        if found:
            return found[-1]
    return None


def load() -> pathlib.Path | None:
    path = onnxruntime_library()
    if path is not None:
        # RTLD_GLOBAL: the extension's DT_NEEDED libonnxruntime.so.1 then resolves to this loaded copy.
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    return path
