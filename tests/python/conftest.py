"""Shared fixtures: the built CLI, random-weight checkpoints made with fair-esm, and the oracle."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
# The Python package as `make build` leaves it (the extension beside links to python/esm_onnx);
# ESM_ONNX_PYTHONPATH points elsewhere, e.g. at an installed wheel's site-packages.
PYPKG = pathlib.Path(os.environ.get("ESM_ONNX_PYTHONPATH", ROOT / "build" / "python"))
sys.path.insert(0, str(PYPKG))

import esm_checkpoints  # noqa: E402

CLI = pathlib.Path(os.environ.get("ESM_ONNX_CLI", ROOT / "build" / "bin" / "esm-onnx"))
SHARED = pathlib.Path(os.environ.get("ESM_ONNX_SHARED", ROOT.parent / "shared"))
DATA = ROOT / "tests" / "data"
# OpenVINO's compiled-model cache goes to a folder of this run, not the user's ~/.cache.
os.environ.setdefault("ESM_ONNX_CACHE", tempfile.mkdtemp(prefix="esm-onnx-test-cache-"))


def run_cli(*args, check=True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"esm-onnx {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    assert CLI.exists(), f"{CLI} is not built: run `make build`"
    return CLI


# name -> (family, layers, dim, heads, legacy serialization, contact file)
MODELS = {
    "esm2_t3_48_zip": ("esm2", 3, 48, 4, False, True),
    "esm2_t2_32_legacy": ("esm2", 2, 32, 4, True, True),
    "esm1b_t2_48_zip": ("esm1b", 2, 48, 4, False, True),
    "esm1b_t2_32_legacy": ("esm1b", 2, 32, 2, True, True),
    "esm1v_t2_32_zip": ("esm1v", 2, 32, 4, False, False),
    "esm1v_t2_32_legacy": ("esm1v", 2, 32, 4, True, False),
    "esm1_t2_48_zip": ("esm1", 2, 48, 4, False, True),
    "esm1_t2_32_legacy": ("esm1", 2, 32, 4, True, True),
}


@pytest.fixture(scope="session")
def onnx_models(checkpoints, tmp_path_factory) -> dict[str, pathlib.Path]:
    """Every checkpoint converted with every layer exported (contacts where the checkpoint has them)."""
    d = tmp_path_factory.mktemp("onnx")
    out = {}
    for key, ckpt in checkpoints.items():
        out[key] = d / f"{key}.onnx"
        run_cli("convert", ckpt, "-o", out[key], "--repr-layers", "all")
    return out


@pytest.fixture(scope="session")
def ov_models(checkpoints, tmp_path_factory) -> dict[str, pathlib.Path]:
    """The ESM-2 checkpoints converted for OpenVINO (standard ops, contacts included), every layer exported."""
    d = tmp_path_factory.mktemp("openvino")
    out = {}
    for key in ("esm2_t3_48_zip", "esm2_t2_32_legacy"):
        out[key] = d / f"{key}.onnx"
        run_cli("convert", checkpoints[key], "-o", out[key], "--repr-layers", "all", "--engine", "openvino")
    return out


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Each model saved under a released-style name (fair-esm picks its loader from the name)."""
    d = tmp_path_factory.mktemp("checkpoints")
    out = {}
    for i, (key, (family, layers, dim, heads, legacy, contacts)) in enumerate(MODELS.items()):
        path = d / f"{family}_t{layers}_{dim}_{key.split('_')[-1]}_test.pt"
        out[key] = esm_checkpoints.save_checkpoint(family, layers, dim, heads, path, legacy=legacy,
                                                   contacts=contacts, seed=100 + i)
    return out
