"""The structure ARCHITECTURE.md describes holds: no include arrow runs upward (scripts/check_layers.py, on this
tree and on a copy with an arrow planted, which it must catch), and the converter's library links no network
code (only esm_onnx::hub needs libcurl)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

CHECK = ROOT / "scripts" / "check_layers.py"


def _run(root):
    return subprocess.run([sys.executable, str(CHECK), "--root", str(root)], capture_output=True, text=True)


def test_no_include_runs_upward():
    p = _run(ROOT)
    assert p.returncode == 0, p.stdout


@pytest.mark.parametrize("file,line,says", [
    ("src/runtime/model.cpp", '#include "graph/builder.h"', "converting and running"),
    ("src/io/fasta.cpp", '#include "esm_onnx/model.h"', "a higher layer"),
    ("src/tensors/layout.cpp", '#include "layouts/layouts.h"', "a higher layer"),
])
def test_the_check_catches_a_planted_arrow(tmp_path, file, line, says):
    for d in ("src", "include"):
        shutil.copytree(ROOT / d, tmp_path / d)
    target = tmp_path / file
    target.write_text(line + "\n" + target.read_text())
    p = _run(tmp_path)
    assert p.returncode == 1 and file in p.stdout and says in p.stdout, p.stdout


def test_the_converter_links_no_network_code():
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.fail("readelf (binutils) is needed to read the libraries' dependencies")
    libs = {name: ROOT / "build" / "lib" / f"lib{name}.so" for name in ("esm_onnx_runtime", "esm_onnx", "esm_onnx_hub")}
    needed = {}
    for name, path in libs.items():
        out = subprocess.run([readelf, "-d", str(path)], capture_output=True, text=True, check=True).stdout
        needed[name] = [l for l in out.splitlines() if "NEEDED" in l]
    assert any("libcurl" in l for l in needed["esm_onnx_hub"])
    assert not any("libcurl" in l for l in needed["esm_onnx"] + needed["esm_onnx_runtime"]), needed
