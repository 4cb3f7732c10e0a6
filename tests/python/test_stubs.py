"""python/esm_onnx/_core.pyi is what nanobind's stubgen makes of the built extension: a binding changed without
its stubs (`make stubs`) fails here, with the difference."""
from __future__ import annotations

import difflib
import os
import subprocess
import sys

from conftest import PYPKG, ROOT

STUBS = ROOT / "python" / "esm_onnx" / "_core.pyi"


def test_stubs_match_the_extension(tmp_path):
    out = tmp_path / "_core.pyi"
    env = dict(os.environ, PYTHONPATH=str(PYPKG))
    p = subprocess.run([sys.executable, "-m", "nanobind.stubgen", "-q", "-m", "esm_onnx._core", "-o", str(out)],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    want, have = out.read_text().splitlines(), STUBS.read_text().splitlines()
    diff = "\n".join(difflib.unified_diff(have, want, "checked in", "generated", lineterm="", n=1))
    assert want == have, f"python/esm_onnx/_core.pyi is out of date; run `make stubs`:\n{diff}"
