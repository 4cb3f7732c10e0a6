#!/usr/bin/env python3
"""No include arrow runs upward. A file's layer is in its path: src/<layer>/... and include/esm_onnx/<layer>/...;
the only list here is the layers' order (ARCHITECTURE.md explains each). Every #include "..." in src/ and
include/esm_onnx/ points at the same layer or a lower one, and the two halves of the engines layer, converting
(src/engines/graph) and running (src/engines/runtime), do not include each other. Also: every source folder
belongs to exactly one of CMakeLists.txt's libraries (ESM_ONNX_*_FOLDERS). Prints each problem and exits 1; exits
0 when there is none. `--root DIR` checks another tree (the test gives it one with a planted arrow)."""
from __future__ import annotations

import argparse
import pathlib
import re
import sys

# Lowest first.
LAYERS = ["base", "formats", "tensors", "layouts", "checkpoint", "engines", "jobs", "hub"]
# Folders of one layer that must not include each other.
SIBLINGS = {("engines/graph", "engines/runtime"), ("engines/runtime", "engines/graph")}


def layer_of(rel: pathlib.PurePath) -> tuple[str, str] | None:
    """(layer, its sub-folder path) of a repository-relative path under src/ or include/esm_onnx/, else None."""
    parts = rel.parts
    if parts[:2] == ("include", "esm_onnx") and len(parts) > 3:
        return parts[2], "/".join(parts[2:-1])
    if parts[:1] == ("src",) and len(parts) > 2:
        return parts[1], "/".join(parts[1:-1])
    return None


def target_of(inc: str) -> pathlib.PurePath | None:
    """The repository path an #include "..." names (esm_onnx/... from include/, the rest from src/)."""
    if inc.startswith("esm_onnx/"):
        return pathlib.PurePath("include", inc)
    if "/" in inc:
        return pathlib.PurePath("src", inc)
    return None  # generated headers (esm_onnx_version.h) and the file's own folder


def check_includes(root: pathlib.Path) -> list[str]:
    problems = []
    files = [p for p in (root / "src").rglob("*") if p.suffix in (".h", ".cpp", ".in")]
    files += [p for p in (root / "include" / "esm_onnx").rglob("*.h")]
    for f in sorted(files):
        rel = f.relative_to(root)
        where = layer_of(rel)
        if where is None or where[0] not in LAYERS:
            problems.append(f"{rel}: not under a layer folder (src/<layer>/ or include/esm_onnx/<layer>/; layers: "
                            f"{', '.join(LAYERS)})")
            continue
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            target = target_of(m.group(1))
            if target is None:
                continue
            to = layer_of(target)
            if not (root / target).exists() or to is None or to[0] not in LAYERS:
                problems.append(f"{rel}:{n}: includes {m.group(1)}, which is in no layer (no such file under src/ "
                                "or include/esm_onnx/<layer>/)")
                continue
            if LAYERS.index(to[0]) > LAYERS.index(where[0]):
                problems.append(f"{rel}:{n}: {where[0]} includes {m.group(1)} ({to[0]}, a higher layer)")
            elif any(where[1].startswith(a) and to[1].startswith(b) for a, b in SIBLINGS):
                problems.append(f"{rel}:{n}: {where[1]} includes {m.group(1)}: converting and running do not "
                                "depend on each other")
    return problems


def check_libraries(root: pathlib.Path) -> list[str]:
    """Each folder holding sources is in exactly one library's folder list of CMakeLists.txt."""
    cmake = root / "CMakeLists.txt"
    if not cmake.exists():
        return []
    owners: dict[str, list[str]] = {}
    for m in re.finditer(r"set\((ESM_ONNX_\w+_FOLDERS)\s+([^)]*)\)", cmake.read_text()):
        for folder in m.group(2).split():
            owners.setdefault(folder, []).append(m.group(1))
    problems = []
    folders = {p.parent.relative_to(root / "src").as_posix() for p in (root / "src").rglob("*.cpp")}
    for folder in sorted(folders):
        if len(owners.get(folder, [])) != 1:
            problems.append(f"src/{folder}: in {len(owners.get(folder, []))} library folder lists of CMakeLists.txt "
                            "(ESM_ONNX_*_FOLDERS); put it in exactly one")
    return problems


def check(root: pathlib.Path) -> list[str]:
    return check_includes(root) + check_libraries(root)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parent.parent)
    args = ap.parse_args()
    problems = check(args.root)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
