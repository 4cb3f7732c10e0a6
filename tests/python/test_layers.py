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
    ("src/engines/runtime/model.cpp", '#include "engines/graph/builder.h"', "converting and running"),
    ("src/formats/io/fasta.cpp", '#include "esm_onnx/engines/model.h"', "a higher layer"),
    ("src/tensors/layout.cpp", '#include "layouts/layouts.h"', "a higher layer"),
    ("include/esm_onnx/base/tiles.h", '#include "esm_onnx/jobs/score.h"', "a higher layer"),
    ("src/base/util/tiles.cpp", '#include "util/numbers.h"', "in no layer"),
    ("src/base/newfolder/x.cpp", "", "library folder lists"),
    ("src/misc/x.cpp", "", "not under a layer folder"),
])
def test_the_check_catches_a_planted_arrow(tmp_path, file, line, says):
    """The layers come from the paths: an arrow to a higher layer's folder, an include spelled without its layer,
    a source folder no library takes, a folder outside the layers, each caught and named."""
    for d in ("src", "include"):
        shutil.copytree(ROOT / d, tmp_path / d)
    shutil.copy(ROOT / "CMakeLists.txt", tmp_path / "CMakeLists.txt")
    target = tmp_path / file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(line + "\n" + (target.read_text() if target.exists() else ""))
    p = _run(tmp_path)
    assert p.returncode == 1 and file.rsplit("/", 1)[0] in p.stdout and says in p.stdout, p.stdout


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


def _module_imports(package: "pathlib.Path") -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports when it is imported (module-level statements only: an import
    inside a function runs later and closes no cycle). `from . import name` of a name that is no module (neither
    a .py nor the extension's .pyi) imports the package itself."""
    import ast
    import pathlib

    mods: dict[str, pathlib.Path] = {}
    for f in [*package.rglob("*.py"), *package.rglob("*.pyi")]:
        parts = f.relative_to(package.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    graph: dict[str, set[str]] = {}
    for name, f in mods.items():
        pkg = name if f.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps: set[str] = set()
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in mods:
                        deps.add(sub)
                    elif target in mods:
                        deps.add(target)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in mods}
        graph[name] = deps - {name}
    return graph


def test_no_python_import_cycle():
    """A package's __init__ importing its modules is how packages work; a module importing back the package (or
    another module) that imports it is a cycle (distributed/score.py once imported helpers from
    distributed/__init__.py, which imported score.py)."""
    graph = _module_imports(ROOT / "python" / "esm_onnx")
    cycles = []

    def walk(node, path):
        for dep in graph[node]:
            if dep in path:
                cycles.append(path[path.index(dep):] + [dep])
            else:
                walk(dep, path + [dep])

    for start in graph:
        walk(start, [start])
    # parent -> child edges are the package importing its own modules; a cycle needs a child -> ancestor edge
    real = [c for c in cycles if any(b != a and a.startswith(b + ".") for a, b in zip(c, c[1:]))]
    assert not real, "\n".join(" -> ".join(c) for c in real[:5])
