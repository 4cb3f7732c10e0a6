"""`cmake --install` then find_package(esm_onnx) from another project: both libraries link and work, and
the numbers are fair-esm's."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np

import esm_checkpoints
from conftest import ROOT
from oracle import reference_outputs

DEMO = ROOT / "demo" / "esm2_t4_64_RANDOM_WEIGHTS_demo.pt"


def test_installed_package_works_for_another_cmake_project(tmp_path):
    prefix, build = tmp_path / "prefix", tmp_path / "consumer"
    subprocess.run(["cmake", "--install", str(ROOT / "build"), "--prefix", str(prefix)], check=True, capture_output=True)
    assert (prefix / "lib" / "cmake" / "esm_onnx" / "esm_onnxConfig.cmake").exists()
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", str(ROOT / "tests" / "cmake_consumer"), "-B", str(build), *gen,
                    f"-DCMAKE_PREFIX_PATH={prefix}"], check=True, capture_output=True)
    p = subprocess.run(["cmake", "--build", str(build)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    onnx = tmp_path / "demo.onnx"
    p = subprocess.run([str(build / "convert_and_embed"), str(DEMO), str(onnx)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.split() == ["ESM-2", "4"], p.stdout + p.stderr
    p = subprocess.run([str(build / "embed_runtime"), str(onnx)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = {line.split()[0]: np.array([float(v) for v in line.split()[1:]]) for line in p.stdout.splitlines()}
    model, alphabet = esm_checkpoints.load_with_fair_esm(DEMO)
    ref = reference_outputs(model, alphabet, [("p1", "MKTAYIAKQR"), ("p2", "KALTARQQEV")])
    for label in ("p1", "p2"):
        np.testing.assert_allclose(got[label], ref[label]["mean_representations/4"], atol=1e-4, rtol=0)
    # The runtime library does not pull in the converter's ONNX / protobuf dependencies.
    ldd = subprocess.run(["ldd", str(build / "embed_runtime")], capture_output=True, text=True).stdout
    assert "libesm_onnx_runtime" in ldd and "libprotobuf" not in ldd and "libonnx.so" not in ldd
    # The installed CLI runs from the prefix.
    assert subprocess.run([str(prefix / "bin" / "esm-onnx"), "--version"], capture_output=True).returncode == 0
