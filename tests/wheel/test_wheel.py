"""The wheel from `make wheel`, installed into a new virtual environment: `import esm_onnx` and the
`esm-onnx` script work there, and give fair-esm's numbers."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "python"))

import esm_checkpoints  # noqa: E402
from oracle import read_fasta, reference_outputs  # noqa: E402

FASTA = ROOT / "tests" / "data" / "parity.fasta"

USE = """
import json, sys
import numpy as np
import esm_onnx
from esm_onnx import compat
# Each engine its own graph: ONNX Runtime's fused layers, OpenVINO's standard ops.
graphs = {"ort": sys.argv[2], "openvino": sys.argv[2] + ".openvino.onnx"}
info = esm_onnx.convert(sys.argv[1], graphs["ort"], repr_layers=("all",))
esm_onnx.convert(sys.argv[1], graphs["openvino"], repr_layers=("all",), engine="openvino")
records = [(l, s) for l, s in json.loads(sys.argv[3])]
out = {}
for engine in ("ort", "openvino"):
    model = esm_onnx.Model(graphs[engine], threads=1, engine=engine, compute="fp32", cache=False)
    out[engine] = {e.label: {"mean": e.mean[info.num_layers].tolist(), "logits": e.logits.tolist()}
                   for e in model.embed(records, include=("mean", "logits"))}
print(json.dumps({"lib": str(esm_onnx.ONNXRUNTIME_LIBRARY), "core": esm_onnx._core.__file__, "out": out}))
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> pathlib.Path:
    wheels = sorted((ROOT / "dist").glob("esm_onnx-*manylinux*.whl"))
    assert wheels, "no manylinux wheel in dist/: run `make wheel` (make test-wheel does)"
    d = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(d)], check=True)
    subprocess.run([str(d / "bin" / "pip"), "install", "-q", str(wheels[-1])], check=True)
    return d


def test_wheel_vendors_its_libraries_but_not_onnxruntime_or_openvino(venv):
    site = next((venv / "lib").glob("python*/site-packages"))
    core = next((site / "esm_onnx").glob("_core*.so"))
    ldd = subprocess.run(["ldd", str(core)], capture_output=True, text=True, env={"LD_LIBRARY_PATH": ""}).stdout
    for line in ldd.splitlines():
        if "=>" in line and "not found" not in line:
            lib = line.split("=>")[1].split()[0]
            if "/openvino/libs/" in lib:  # libopenvino and its TBB, from the openvino package (RUNPATH)
                assert os.path.realpath(lib).startswith(str(site / "openvino" / "libs")), lib
                continue
            # Only the C library family from the system; the rest comes with the wheel.
            assert "esm_onnx.libs" in lib or any(s in lib for s in ("libc.so", "libm.so", "libstdc++", "libgcc_s",
                                                                      "libpthread", "libdl.so", "librt.so", "libz.so",
                                                                      "libresolv.so", "libnsl.so", "libutil.so")), lib
    assert "libonnxruntime.so.1 => not found" in ldd  # loaded from the onnxruntime package at import


def test_installed_package_converts_and_embeds_like_fair_esm(venv, tmp_path):
    ckpt = esm_checkpoints.save_checkpoint("esm2", 2, 32, 4, tmp_path / "esm2_t2_32_wheel.pt", seed=7)
    records = read_fasta(FASTA)
    p = subprocess.run([str(venv / "bin" / "python"), "-c", USE, str(ckpt), str(tmp_path / "m.onnx"), json.dumps(records)],
                       capture_output=True, text=True, cwd=tmp_path, env={"PATH": os.environ["PATH"]})
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert "/onnxruntime/capi/libonnxruntime.so" in res["lib"] and str(venv) in res["core"]
    model, alphabet = esm_checkpoints.load_with_fair_esm(ckpt)
    ref = reference_outputs(model, alphabet, records)
    for engine in ("ort", "openvino"):
        for label, want in ref.items():
            got = res["out"][engine][label]
            np.testing.assert_allclose(got["mean"], want["mean_representations/2"], atol=1e-4, rtol=0, err_msg=engine)
            np.testing.assert_allclose(got["logits"], want["logits"], atol=1e-4, rtol=0, err_msg=engine)


def test_installed_cli(venv, tmp_path):
    cli = venv / "bin" / "esm-onnx"
    demo = ROOT / "demo" / "esm2_t4_64_RANDOM_WEIGHTS_demo.pt"
    run = lambda *a: subprocess.run([str(cli), *map(str, a)], capture_output=True, text=True,  # noqa: E731
                                    env={"PATH": os.environ["PATH"]})
    assert run("--version").stdout.startswith("esm-onnx ")
    p = run("convert", demo, "-o", tmp_path / "demo.onnx", "-q")
    assert p.returncode == 0, p.stderr
    p = run("embed", tmp_path / "demo.onnx", ROOT / "demo" / "example.fasta", tmp_path / "out", "--include", "mean")
    assert p.returncode == 0, p.stderr
    assert len(list((tmp_path / "out").glob("*.npz"))) == sum(1 for l in open(ROOT / "demo" / "example.fasta") if l.startswith(">"))
    p = run("embed", tmp_path / "missing.onnx", ROOT / "demo" / "example.fasta", tmp_path / "out")
    assert p.returncode == 1 and "missing.onnx" in p.stderr
    # scoring, and the heatmaps' command saying what it needs where matplotlib is absent
    p = run("score", tmp_path / "demo.onnx", "--input-fasta-file", ROOT / "demo" / "example.fasta", "--output-csv-file",
            tmp_path / "missense.csv")
    assert p.returncode == 3 and "gfp_fragment_masked" in p.stderr, p.stderr  # the record with <mask>
    assert (tmp_path / "missense.csv").read_text().startswith("seq_id,mut_name,esm_score\nubiquitin_human,M1K,")
    heat = subprocess.run([str(venv / "bin" / "esm-onnx-heatmap"), str(tmp_path / "missense.csv.d")],
                          capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    has_matplotlib = subprocess.run([str(venv / "bin" / "python"), "-c", "import matplotlib"]).returncode == 0
    assert heat.returncode == 0 if has_matplotlib else (heat.returncode == 2 and "esm-onnx[score]" in heat.stderr), heat.stderr
