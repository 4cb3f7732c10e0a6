"""The README's Python examples run as written, and print what the README says they print."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import PYPKG, ROOT


def _blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Python\n", 1)[1].split("\n## C++ library\n", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_python_examples_run(tmp_path):
    blocks = _blocks()
    assert len(blocks) == 3
    (tmp_path / "demo").symlink_to(ROOT / "demo")
    env = dict(os.environ, PYTHONPATH=str(PYPKG), ESM_ONNX_CACHE=str(tmp_path / "cache"))
    for code in blocks:
        p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stderr
        # Lines of the form "# <output>" at the start of a line are what the print before them shows.
        expected = [l[2:] for l in code.splitlines() if l.startswith("# ")]
        printed = p.stdout.splitlines()
        pos = 0
        for want in expected:
            while pos < len(printed) and printed[pos] != want:
                pos += 1
            assert pos < len(printed), f"README says {want!r}; the example printed:\n{p.stdout}"
    assert len(list((tmp_path / "out").glob("*.npz"))) > 0
