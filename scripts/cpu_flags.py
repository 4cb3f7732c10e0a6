"""The CPU's flags as the kernel reports them (/proc/cpuinfo): the reference the tests check esm-onnx's own
CPUID reading against, and what the benchmark decides its bf16 rows by."""
from __future__ import annotations

import pathlib


def cpu_has_bf16() -> bool:
    """AVX512_BF16 or AMX-BF16, the instructions `--compute bf16` needs."""
    flags: set[str] = set()
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})
