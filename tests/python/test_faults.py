"""Faults during `embed`, per output format: kill -9 at several points, then a rerun gives exactly what one
clean run gives, with no temporary file left; a full disk is exit 1 with a clear message (no crash, no flood of
library diagnostics) and a rerun with space completes. The full disk is a small tmpfs where this machine lets
the tests mount one (root), else a file-size limit (RLIMIT_FSIZE)."""
from __future__ import annotations

import os
import pathlib
import random
import resource
import signal
import subprocess
import time
import uuid

import h5py
import numpy as np
import pytest
import torch

from conftest import CLI, ROOT, run_cli

FORMATS = ["npz", "pt", "h5"]
INCLUDE = ["mean", "per_tok", "contacts", "logits"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    onnx = d / "demo.onnx"
    run_cli("convert", ROOT / "demo" / "esm2_t4_64_RANDOM_WEIGHTS_demo.pt", "-o", onnx, "--repr-layers", "all")
    return onnx


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    rng = random.Random(7)
    path = tmp_path_factory.mktemp("faults_in") / "many.fasta"
    path.write_text("".join(f">rec{i}\n{''.join(rng.choice('ACDEFGHIKLMNPQRSTVWY') for _ in range(rng.randint(50, 300)))}\n"
                            for i in range(300)))
    return path


def embed_cmd(model, fasta, out, fmt):
    return [str(CLI), "embed", str(model), str(fasta), str(out), "--format", fmt, "--include", *INCLUDE,
            "--toks-per-batch", "512", "--window", "64", "--no-progress", "--threads", "1"]


def read_outputs(out: pathlib.Path, fmt: str) -> dict[str, dict[str, np.ndarray]]:
    res = {}
    if fmt == "h5":
        with h5py.File(out / "embeddings.h5", "r") as f:
            for label in f:
                arrays = {}
                f[label].visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
                res[label] = arrays
        return res
    for p in out.iterdir():
        if p.suffix == ".npz":
            z = np.load(p)
            assert z["label"].item().decode() == p.stem  # every file says which record it holds
            res[p.stem] = {k: z[k] for k in z.files if k != "label"}
        elif p.suffix == ".pt":
            d = torch.load(p, weights_only=True)
            res[p.stem] = {f"{k}/{l}" if isinstance(v, dict) else k: (v[l] if isinstance(v, dict) else v).numpy()
                           for k, v in d.items() if k != "label" for l in (v if isinstance(v, dict) else [None])}
    return res


def leftovers(out: pathlib.Path, fmt: str) -> list[str]:
    bad = [p.name for p in out.iterdir() if ".partial" in p.name]
    if fmt == "h5" and (out / "embeddings.h5").exists():
        with h5py.File(out / "embeddings.h5", "r") as f:
            bad += [k for k in f if k.endswith(".partial")]
    return bad


def progress(out: pathlib.Path, fmt: str) -> int:
    if fmt == "h5":
        p = out / "embeddings.h5"
        return p.stat().st_size if p.exists() else 0
    return sum(1 for p in out.iterdir() if p.suffix in (".npz", ".pt")) if out.exists() else 0


@pytest.fixture(scope="module")
def clean(model, fasta, tmp_path_factory):
    out = {}
    for fmt in FORMATS:
        d = tmp_path_factory.mktemp(f"clean_{fmt}") / "out"
        subprocess.run(embed_cmd(model, fasta, d, fmt), check=True, capture_output=True)
        out[fmt] = read_outputs(d, fmt)
        assert len(out[fmt]) == 300
    return out


def same(a: dict, b: dict) -> None:
    """Every record, every array; equal up to the padding of the batch a record happened to be in (a resumed
    run batches the remaining records differently)."""
    assert sorted(a) == sorted(b)
    for label in a:
        assert sorted(a[label]) == sorted(b[label]), label
        for k in a[label]:
            assert a[label][k].shape == b[label][k].shape, f"{label}/{k}"
            assert np.abs(a[label][k] - b[label][k]).max(initial=0) <= 1e-5, f"{label}/{k}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_kill_9_at_several_points_then_rerun_equals_a_clean_run(model, fasta, clean, tmp_path, fmt):
    out = tmp_path / "out"
    # Points: as soon as the first output appears, about a third of the way, about two thirds.
    marks = [1, 100, 200] if fmt != "h5" else [1, 1 << 20, 3 << 20]
    for mark in marks:
        proc = subprocess.Popen(embed_cmd(model, fasta, out, fmt), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while proc.poll() is None and progress(out, fmt) < mark and time.time() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    p = subprocess.run(embed_cmd(model, fasta, out, fmt), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert not leftovers(out, fmt)
    same(read_outputs(out, fmt), clean[fmt])


def small_disk(tmp_path: pathlib.Path, size: int):
    """(folder, make_room, preexec): a tmpfs of `size` bytes when mounting is allowed, else a plain folder
    with a file-size limit applied to the child."""
    mnt = tmp_path / f"disk_{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True).returncode == 0:
        def grow():
            subprocess.run(["mount", "-o", "remount,size=512m", str(mnt)], check=True)

        return mnt, grow, None, lambda: subprocess.run(["umount", "-l", str(mnt)])

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return mnt, lambda: None, limit, lambda: None


@pytest.mark.parametrize("fmt", FORMATS)
def test_full_disk_is_a_clear_error_and_the_rerun_completes(model, fasta, clean, tmp_path, fmt):
    disk, grow, preexec, cleanup = small_disk(tmp_path, 3 << 20)
    try:
        out = disk / "out"
        p = subprocess.run(embed_cmd(model, fasta, out, fmt), capture_output=True, text=True, preexec_fn=preexec)
        assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
        lines = p.stderr.strip().splitlines()
        assert len(lines) < 20, f"{len(lines)} lines of diagnostics"
        assert any(w in p.stderr for w in ("disk is full", "No space left", "File too large", "file-size limit")), p.stderr
        grow()
        p = subprocess.run(embed_cmd(model, fasta, out, fmt), capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert not leftovers(out, fmt)
        same(read_outputs(out, fmt), clean[fmt])
    finally:
        cleanup()
