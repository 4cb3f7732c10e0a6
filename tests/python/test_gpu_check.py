"""bench/gpu_check.py, the CUDA check, run on the CPU (`--device cpu`): every step it takes on a GPU machine
(conversions of every family, both precisions, the comparisons, fair-esm's loop, the report), so that the
script works when a session has a GPU."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import CLI, ROOT


def test_the_gpu_check_runs_every_step_on_the_cpu(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--cli", str(CLI), "--out", str(tmp_path / "out"),
                        "--work", str(tmp_path / "work"), "--device", "cpu", "--models", "esm2_t12_35M", "--sequences", "4"],
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    res = json.loads((tmp_path / "out" / "gpu_results.json").read_text())
    assert {r["family"] for r in res["parity"]} == {"ESM-1", "ESM-1b", "ESM-2", "ESM C"}
    assert {r["precision"] for r in res["parity"]} == {"fp32", "fp16"} and all(r["ok"] for r in res["parity"])
    # fp16 against fp32 on the same CPU is not exact: the comparison sees the precision, so it can fail.
    assert all(max(r["max_abs"].values()) > 0 for r in res["parity"] if r["precision"] == "fp16")
    (row,) = res["throughput"]
    assert row["model"] == "esm2_t12_35M" and min(row[k] for k in ("fair-esm .half()", "esm-onnx fp32", "esm-onnx fp16")) > 0
    assert "| esm2_t12_35M |" in (tmp_path / "out" / "gpu_results.md").read_text()
    fold = res["fold"]
    assert fold["parity"]["ok"] and [r["length"] for r in fold["speed"]] == [30]
    assert fold["speed"][0]["esm-onnx cpu"] > 0 and fold["speed"][0]["transformers cpu"] > 0
    assert "## Folding (ESMFold)" in (tmp_path / "out" / "gpu_results.md").read_text()
