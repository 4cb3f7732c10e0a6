#!/usr/bin/env python3
"""No include arrow runs upward: every #include "..." in src/ and include/esm_onnx/ points at the same layer or
a lower one (ARCHITECTURE.md lists the layers), and the two halves above the checkpoint (graph: converting;
runtime: running) do not include each other. Prints each offending arrow and exits 1; exits 0 when there is
none. `--root DIR` checks another tree (the test gives it one with a planted arrow)."""
from __future__ import annotations

import argparse
import pathlib
import re
import sys

# Folder (src/<folder>) or public header (include/esm_onnx/<name>.h) -> layer, lowest first.
LAYERS: list[tuple[str, set[str], set[str]]] = [
    ("base", {"util", "outputs"},
     {"errors", "options", "option_specs", "outputs", "layers", "record", "message", "architecture", "tensor_role", "model_config", "alphabet",
      "runtime_options", "model_info", "traits", "tiles", "mutations"}),
    ("formats", {"pickle", "torch", "source", "io", "vocab"}, {"batching", "fasta", "writer"}),
    ("tensors", {"tensors", "families"}, set()),
    ("layouts", {"layouts"}, set()),
    ("checkpoint", {"checkpoint"}, {"checkpoint"}),
    ("engines", {"graph", "runtime"}, {"convert", "model"}),
    ("jobs", {"jobs", "scoring"}, {"embed", "verify", "inspect", "score"}),
    ("hub", {"hub"}, {"download", "model_cache"}),
]
SIBLINGS = {("graph", "runtime"), ("runtime", "graph")}


def unit_of(path: pathlib.Path, root: pathlib.Path) -> str:
    rel = path.relative_to(root)
    if rel.parts[0] == "include":
        return "inc:" + path.stem
    return rel.parts[1] if len(rel.parts) > 2 else "src:" + path.stem


def rank_of(unit: str) -> int | None:
    for rank, (_, folders, headers) in enumerate(LAYERS):
        if unit.startswith("inc:") and unit[4:] in headers:
            return rank
        if unit in folders:
            return rank
    return None


def check(root: pathlib.Path) -> list[str]:
    problems = []
    files = [p for p in (root / "src").rglob("*") if p.suffix in (".h", ".cpp", ".in")]
    files += list((root / "include" / "esm_onnx").glob("*.h"))
    for f in sorted(files):
        src = unit_of(f, root)
        src_rank = rank_of(src)
        if src_rank is None:
            problems.append(f"{f.relative_to(root)}: not in any layer of scripts/check_layers.py (add its folder)")
            continue
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            inc = m.group(1)
            if inc.startswith("esm_onnx/"):
                dst = "inc:" + pathlib.PurePath(inc).stem
            elif "/" in inc:
                dst = inc.split("/")[0]
            else:
                continue  # generated headers (esm_onnx_version.h) and the file's own folder
            dst_rank = rank_of(dst)
            if dst_rank is None:
                if (root / "src" / inc).exists() or (root / "include" / inc).exists():
                    problems.append(f"{f.relative_to(root)}:{n}: includes {inc}, which is in no layer")
                continue
            if dst_rank > src_rank:
                problems.append(f"{f.relative_to(root)}:{n}: {LAYERS[src_rank][0]} includes {inc} "
                                f"({LAYERS[dst_rank][0]}, a higher layer)")
            elif (src, dst) in SIBLINGS:
                problems.append(f"{f.relative_to(root)}:{n}: {src} includes {inc}: converting and running "
                                "do not depend on each other")
    return problems


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
