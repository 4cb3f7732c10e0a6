"""embed_fasta streams: peak memory is set by the batch, not by the number of records."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from conftest import PYPKG

SCRIPT = """
import json, resource, sys
import esm_onnx
model = esm_onnx.Model(sys.argv[1], threads=1, engine=sys.argv[3])
n = 0
total = 0.0
for e in model.embed_fasta(sys.argv[2], include=("mean",)):
    n += 1
    total += float(e.mean[2][0])
print(json.dumps({"records": n, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _fasta(path, n, seed=0):
    rng = random.Random(seed)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    with open(path, "w") as f:
        for i in range(n):
            f.write(f">r{i}\n{''.join(rng.choice(aa) for _ in range(rng.randint(20, 200)))}\n")


def _peak(onnx, fasta, engine):
    env = dict(os.environ, PYTHONPATH=str(PYPKG))
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(onnx), str(fasta), engine], capture_output=True, text=True, env=env,
                       check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("engine", ["ort", "openvino"])
def test_peak_rss_does_not_grow_with_the_input(onnx_models, ov_models, tmp_path, engine):
    small, large = tmp_path / "2k.fasta", tmp_path / "20k.fasta"
    _fasta(small, 2_000)
    _fasta(large, 20_000)
    onnx = (ov_models if engine == "openvino" else onnx_models)["esm2_t2_32_legacy"]
    a, b = _peak(onnx, small, engine), _peak(onnx, large, engine)
    assert a["records"] == 2_000 and b["records"] == 20_000
    print(f"{engine} peak RSS: 2,000 records {a['peak_kib']} KiB, 20,000 records {b['peak_kib']} KiB")
    assert b["peak_kib"] <= 1.10 * a["peak_kib"], f"2,000 records: {a['peak_kib']} KiB; 20,000: {b['peak_kib']} KiB"
