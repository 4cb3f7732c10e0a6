"""Error paths, output formats, resume and inspect, through the CLI as users run it."""
from __future__ import annotations

import argparse
import json
import os
import subprocess

import h5py
import numpy as np
import pytest
import torch

import esm_checkpoints
from conftest import DATA, run_cli

FASTA = DATA / "parity.fasta"


@pytest.fixture(scope="module")
def esm2_onnx(cli, checkpoints, tmp_path_factory):
    onnx = tmp_path_factory.mktemp("m") / "esm2.onnx"
    run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", onnx, "--repr-layers", "0", "-1")
    return onnx


@pytest.fixture(scope="module")
def esm1b_onnx(cli, checkpoints, tmp_path_factory):
    onnx = tmp_path_factory.mktemp("m") / "esm1b.onnx"
    run_cli("convert", checkpoints["esm1b_t2_48_zip"], "-o", onnx)
    return onnx


# ---- convert: bad checkpoints -------------------------------------------------------------------

def test_not_a_torch_file(cli, tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("hello, this is text\n")
    p = run_cli("convert", bad, "-o", tmp_path / "x.onnx", check=False)
    assert p.returncode == 1 and str(bad) in p.stderr and "not a torch.save file" in p.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_truncated_checkpoint(cli, checkpoints, tmp_path):
    for key in ("esm2_t3_48_zip", "esm2_t2_32_legacy"):
        data = checkpoints[key].read_bytes()
        cut = tmp_path / f"{key}_cut.pt"
        cut.write_bytes(data[: len(data) // 2])
        p = run_cli("convert", cut, "-o", tmp_path / "x.onnx", check=False)
        assert p.returncode == 1, p.stderr
        assert str(cut) in p.stderr and ("truncated" in p.stderr or "corrupt" in p.stderr), p.stderr


def test_empty_checkpoint(cli, tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    p = run_cli("convert", empty, "-o", tmp_path / "x.onnx", check=False)
    assert p.returncode == 1 and "empty or truncated" in p.stderr


@pytest.mark.parametrize("arch,name", [("msa_transformer", "MSA Transformer"), ("invariant_gvp_transformer", "ESM-IF")])
def test_unsupported_architectures(cli, tmp_path, arch, name):
    path = tmp_path / "other.pt"
    torch.save({"args": argparse.Namespace(arch=arch, encoder_layers=2), "model": {"x": torch.zeros(2)}}, path)
    p = run_cli("convert", path, "-o", tmp_path / "x.onnx", check=False)
    assert p.returncode == 1 and name in p.stderr and str(path) in p.stderr


def test_esmfold_is_named(cli, tmp_path):
    path = tmp_path / "esmfold.pt"
    torch.save({"cfg": {"model": {"esm_type": "esm2_3B", "trunk": {}}}, "model": {"trunk.x": torch.zeros(1)}}, path)
    p = run_cli("convert", path, "-o", tmp_path / "x.onnx", check=False)
    assert p.returncode == 1 and "ESMFold" in p.stderr


def test_missing_and_misshaped_tensors_reported_together(cli, checkpoints, tmp_path):
    data = torch.load(checkpoints["esm2_t3_48_zip"], weights_only=False)
    del data["model"]["encoder.sentence_encoder.layers.1.fc1.bias"]
    data["model"]["encoder.sentence_encoder.layers.0.fc2.weight"] = torch.zeros(3, 3)
    path = tmp_path / "broken.pt"
    torch.save(data, path)
    p = run_cli("convert", path, "-o", tmp_path / "x.onnx", check=False)
    assert p.returncode == 1
    assert "missing tensor layers.1.fc1.bias" in p.stderr
    assert "layers.0.fc2.weight has shape [3, 3]" in p.stderr


def test_no_contact_file_is_a_notice(cli, checkpoints, tmp_path):
    p = run_cli("convert", checkpoints["esm1v_t2_32_zip"], "-o", tmp_path / "v.onnx")
    assert "notice" in p.stderr and "contact-regression" in p.stderr
    info = json.loads(run_cli("inspect", tmp_path / "v.onnx", "--json").stdout)
    assert info["contacts"] is False and info["model"] == "ESM-1v" and "contacts" not in info["outputs"]


def test_bad_layer_is_a_usage_error(cli, checkpoints, tmp_path):
    p = run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", tmp_path / "x.onnx", "--repr-layers", "7", check=False)
    assert p.returncode == 2 and "layer 7 does not exist" in p.stderr and "0..3" in p.stderr


# ---- embed: bad input ---------------------------------------------------------------------------

def test_empty_and_non_fasta_files(cli, esm2_onnx, tmp_path):
    empty = tmp_path / "empty.fasta"
    empty.write_text("")
    p = run_cli("embed", esm2_onnx, empty, tmp_path / "o", check=False)
    assert p.returncode == 1 and "empty" in p.stderr and str(empty) in p.stderr
    notfasta = tmp_path / "seqs.txt"
    notfasta.write_text("MKTAYIAKQR\n")
    p = run_cli("embed", esm2_onnx, notfasta, tmp_path / "o", check=False)
    assert p.returncode == 1 and "not a FASTA file" in p.stderr


def _bad_fasta(tmp_path):
    f = tmp_path / "bad.fasta"
    f.write_text(">good1\nMKTAYIAKQR\n>dup\nMKT\n>dup\nMKV\n>lower\nmktay\n>weird\nMKT*AY\n>good2\nGGGG\n"
                 f">too_long\n{'A' * 1030}\n")
    return f


def test_bad_records_are_skipped_and_named(cli, esm1b_onnx, tmp_path):
    p = run_cli("embed", esm1b_onnx, _bad_fasta(tmp_path), tmp_path / "o", "--truncation-seq-length", "0", check=False)
    assert p.returncode == 3, p.stderr
    assert "record 'dup' (line 5): duplicate label" in p.stderr
    assert "record 'lower'" in p.stderr and "upper case" in p.stderr
    assert "record 'weird'" in p.stderr and "'*'" in p.stderr
    assert "record 'too_long'" in p.stderr and "1030 residues" in p.stderr and "1022" in p.stderr
    assert "4 skipped" in p.stdout
    assert sorted(f.name for f in (tmp_path / "o").iterdir()) == ["dup.npz", "good1.npz", "good2.npz"]


def test_long_records_truncated_by_default(cli, esm1b_onnx, tmp_path):
    f = tmp_path / "long.fasta"
    f.write_text(f">long\n{'A' * 1030}\n")
    run_cli("embed", esm1b_onnx, f, tmp_path / "o", "--include", "per_tok")
    assert np.load(tmp_path / "o" / "long.npz")["representations/2"].shape == (1022, 48)


def test_strict_stops(cli, esm1b_onnx, tmp_path):
    p = run_cli("embed", esm1b_onnx, _bad_fasta(tmp_path), tmp_path / "o", "--strict", check=False)
    assert p.returncode == 1 and "strict mode" in p.stderr and "'dup'" in p.stderr


def test_embed_option_errors(cli, esm2_onnx, esm1b_onnx, checkpoints, tmp_path):
    p = run_cli("embed", esm2_onnx, FASTA, tmp_path / "o", "--repr-layers", "2", check=False)
    assert p.returncode == 2 and "layer 2 was not exported" in p.stderr
    noc = tmp_path / "noc.onnx"
    run_cli("convert", checkpoints["esm2_t2_32_legacy"], "-o", noc, "--no-contacts")
    p = run_cli("embed", noc, FASTA, tmp_path / "o", "--include", "contacts", check=False)
    assert p.returncode == 2 and "no contacts output" in p.stderr
    p = run_cli("embed", tmp_path / "missing.onnx", FASTA, tmp_path / "o", check=False)
    assert p.returncode == 1 and "missing.onnx" in p.stderr


def test_resume_keeps_existing_files(cli, esm2_onnx, tmp_path):
    out = tmp_path / "o"
    run_cli("embed", esm2_onnx, FASTA, out)
    first = {f.name: (f.stat().st_mtime_ns, f.read_bytes()) for f in out.iterdir()}
    (out / "short.npz").unlink()
    p = run_cli("embed", esm2_onnx, FASTA, out)
    assert "1 written" in p.stdout and "6 already present" in p.stdout
    for f in out.iterdir():
        if f.name != "short.npz":
            assert (f.stat().st_mtime_ns, f.read_bytes()) == first[f.name]
    assert not list(out.glob("*.partial"))


# ---- output formats -----------------------------------------------------------------------------

def test_pt_format_is_esm_extract_layout(cli, esm2_onnx, tmp_path):
    inc = ["mean", "per_tok", "bos", "contacts"]
    run_cli("embed", esm2_onnx, FASTA, tmp_path / "npz", "--include", *inc)
    run_cli("embed", esm2_onnx, FASTA, tmp_path / "pt", "--include", *inc, "--format", "pt")
    for f in (tmp_path / "npz").glob("*.npz"):
        ref = np.load(f)
        label = f.name[: -len(".npz")]
        d = torch.load(tmp_path / "pt" / f"{label}.pt")  # torch's default weights_only=True must accept it
        assert d["label"] == label
        assert set(d) == {"label", "representations", "mean_representations", "bos_representations", "contacts"}
        for group in ("representations", "mean_representations", "bos_representations"):
            assert sorted(d[group]) == [0, 3]
            for layer, t in d[group].items():
                assert t.dtype == torch.float32
                np.testing.assert_array_equal(t.numpy(), ref[f"{group}/{layer}"])
        np.testing.assert_array_equal(d["contacts"].numpy(), ref["contacts"])


def test_h5_format(cli, esm2_onnx, tmp_path):
    run_cli("embed", esm2_onnx, FASTA, tmp_path / "npz", "--include", "mean", "logits")
    run_cli("embed", esm2_onnx, FASTA, tmp_path / "h5", "--include", "mean", "logits", "--format", "h5")
    with h5py.File(tmp_path / "h5" / "embeddings.h5") as h:
        assert len(h) == 7
        for f in (tmp_path / "npz").glob("*.npz"):
            ref = np.load(f)
            g = h[f.name[: -len(".npz")]]
            np.testing.assert_array_equal(g["mean_representations/3"][()], ref["mean_representations/3"])
            np.testing.assert_array_equal(g["logits"][()], ref["logits"])
            assert g.attrs["length"] == ref["logits"].shape[0]
    p = run_cli("embed", esm2_onnx, FASTA, tmp_path / "h5", "--include", "mean", "--format", "h5")
    assert "7 already present" in p.stdout


def test_external_data_gives_the_same_numbers(cli, checkpoints, tmp_path):
    run_cli("convert", checkpoints["esm1_t2_48_zip"], "-o", tmp_path / "a.onnx")
    run_cli("convert", checkpoints["esm1_t2_48_zip"], "-o", tmp_path / "b.onnx", "--external-data", "always")
    assert (tmp_path / "b.onnx.data").stat().st_size > (tmp_path / "b.onnx").stat().st_size
    for m in ("a", "b"):
        run_cli("embed", tmp_path / f"{m}.onnx", FASTA, tmp_path / m, "--include", "mean", "contacts")
    for f in (tmp_path / "a").glob("*.npz"):
        a, b = np.load(f), np.load(tmp_path / "b" / f.name)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])


def test_inspect(cli, checkpoints, esm2_onnx):
    info = json.loads(run_cli("inspect", esm2_onnx, "--json").stdout)
    assert info["model"] == "ESM-2" and info["exported_layers"] == [0, 3] and info["contacts"] is True
    assert info["precision"] == "fp32" and info["opset"] == 17 and len(info["source_sha256"]) == 64
    # contacts_wanted: the fused graph computes contacts only on runs that fetch them (true unless fed).
    assert info["inputs"] == ["tokens", "contacts_wanted"] and info["outputs"] == ["representations", "logits", "contacts"]
    assert info["attention"] == "fused"
    text = run_cli("inspect", checkpoints["esm1b_t2_32_legacy"]).stdout
    assert "ESM-1b" in text and "legacy" in text and "layers:" in text


def test_precision_and_device_errors(cli, checkpoints, esm2_onnx, tmp_path):
    ckpt = checkpoints["esm2_t3_48_zip"]
    proc = run_cli("convert", ckpt, "-o", tmp_path / "m.onnx", "--precision", "int4", "--block-size", "64", check=False)
    assert proc.returncode == 2 and "--block-size 64" in proc.stderr
    proc = run_cli("convert", ckpt, "-o", tmp_path / "m.onnx", "--precision", "int3", check=False)
    assert proc.returncode == 2 and "--precision" in proc.stderr
    proc = run_cli("embed", esm2_onnx, DATA / "parity.fasta", tmp_path / "out", "--device", "cuda", check=False)
    # This CPU-only ONNX Runtime has no CUDA provider; with one, the run would succeed.
    if proc.returncode != 0:
        assert proc.returncode == 2 and "no CUDA execution provider" in proc.stderr and "--device cpu" in proc.stderr


def test_fp16_on_cpu_says_it_is_meant_for_gpus(cli, checkpoints, tmp_path):
    onnx = tmp_path / "m16.onnx"
    run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", onnx, "--precision", "fp16", "--no-contacts")
    proc = run_cli("embed", onnx, DATA / "parity.fasta", tmp_path / "out")
    assert "fp16 graph, meant for GPUs" in proc.stderr
    assert len(list((tmp_path / "out").glob("*.npz"))) == 7


@pytest.mark.parametrize("fmt", ["npz", "pt", "h5"])
def test_write_failures_are_run_errors(cli, esm2_onnx, tmp_path, fmt):
    """An output that cannot be written is an error of the run (exit 1), not of the command line (exit 2),
    and nothing is left half-written."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    p = run_cli("embed", esm2_onnx, FASTA, blocker, "--format", fmt, check=False)
    assert p.returncode == 1 and "not_a_folder" in p.stderr and "internal error" not in p.stderr, p.stderr
    p = run_cli("embed", esm2_onnx, tmp_path / "missing.fasta", tmp_path / "o", "--format", fmt, check=False)
    assert p.returncode == 1 and "missing.fasta" in p.stderr and not (tmp_path / "o").exists()
    p = run_cli("convert", tmp_path / "missing.pt", "-o", tmp_path / "m.onnx", check=False)
    assert p.returncode == 1 and "missing.pt" in p.stderr


def test_absurd_hyperparameters_are_refused_before_allocating(cli, checkpoints, tmp_path):
    """A cfg claiming a billion layers is refused at once, with the value and the limit named."""
    import resource

    import torch

    data = torch.load(checkpoints["esm2_t2_32_legacy"], weights_only=False)
    data["cfg"]["model"].encoder_layers = 10**9
    bad = tmp_path / "esm2_t2_32_absurd.pt"
    torch.save(data, bad)
    p = subprocess.run([str(cli), "convert", str(bad), "-o", str(tmp_path / "m.onnx")], capture_output=True, text=True,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)), timeout=60)
    assert p.returncode == 1, p.stderr
    assert "encoder_layers" in p.stderr and "1000000000" in p.stderr and "1..1024" in p.stderr and str(bad) in p.stderr


def test_labels_with_nul_bytes_are_skipped_not_cut(cli, esm2_onnx, tmp_path):
    fasta = tmp_path / "nul.fasta"
    fasta.write_bytes(b">dup\x00a\nMKV\n>dup\x00b\nMKT\n>\x00lead\nMKA\n>fine\nMKQ\n")
    p = run_cli("embed", esm2_onnx, fasta, tmp_path / "o", check=False)
    assert p.returncode == 3 and p.stderr.count("NUL byte") == 3, p.stderr
    assert sorted(f.name for f in (tmp_path / "o").iterdir()) == ["fine.npz"]


@pytest.mark.parametrize("layers", ["3,0", "0,99", "", "0", "0,3,3"])
def test_metadata_that_disagrees_with_the_graph_is_refused(cli, esm2_onnx, tmp_path, layers):
    import onnx

    m = onnx.load(str(esm2_onnx))
    exported = next(p.value for p in m.metadata_props if p.key == "esm_onnx.repr_layers")
    assert exported != layers
    for p in m.metadata_props:
        if p.key == "esm_onnx.repr_layers":
            p.value = layers
    edited = tmp_path / "edited.onnx"
    onnx.save(m, str(edited))
    p = run_cli("embed", edited, FASTA, tmp_path / "o", "--include", "mean", check=False)
    assert p.returncode == 1 and "disagrees with the graph" in p.stderr and "edited.onnx" in p.stderr, p.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("fmt", ["npz", "pt"])
def test_partial_files_of_a_killed_run_are_removed(cli, esm2_onnx, tmp_path, fmt):
    """Unfinished files live in OUTDIR/.partial/<host>-<pid>.<n>/: a folder whose process is gone is removed,
    one of a live process (another writer sharing OUTDIR, as Ray workers do) is kept."""
    import socket
    import subprocess

    host = socket.gethostname().replace("/", "_").replace("-", "_")
    dead = subprocess.Popen(["true"])
    dead.wait()
    out = tmp_path / "o"
    stale = out / ".partial" / f"{host}-{dead.pid}.0"
    live = out / ".partial" / f"{host}-{os.getpid()}.0"
    for d in (stale, live):
        d.mkdir(parents=True)
        (d / f"0.{fmt}").write_bytes(b"half a file")
    keep = out / f"notes.{fmt}.partial.txt"
    keep.write_text("not ours")
    run_cli("embed", esm2_onnx, FASTA, out, "--format", fmt)
    assert not stale.exists() and (live / f"0.{fmt}").exists() and keep.exists()
    assert (out / f"short.{fmt}").exists()


def test_small_command_line_mistakes(cli, esm2_onnx, checkpoints, tmp_path):
    p = run_cli("emebd", esm2_onnx, FASTA, tmp_path / "o", check=False)
    assert p.returncode == 2 and "'emebd' is not a command" in p.stderr and "embed" in p.stderr
    # --window is the read-ahead's former spelling: still taken, named by its current one
    for opt, named in (("--toks-per-batch",) * 2, ("--window", "--read-ahead"), ("--read-ahead",) * 2,
                       ("--truncation-seq-length",) * 2, ("--threads",) * 2):
        p = run_cli("embed", esm2_onnx, FASTA, tmp_path / "o", opt, "99999999999999999999", check=False)
        assert p.returncode == 2 and named in p.stderr and "whole number" in p.stderr, p.stderr
    p = run_cli("embed", esm2_onnx, FASTA, tmp_path / "o", "--toks-per-batch", "-5", check=False)
    assert p.returncode == 2
    # A conversion that fails on its input leaves no output folder behind.
    p = run_cli("convert", tmp_path / "missing.pt", "-o", tmp_path / "new" / "m.onnx", check=False)
    assert p.returncode == 1 and not (tmp_path / "new").exists()


@pytest.mark.parametrize("fmt", ["npz", "pt"])
def test_long_labels_are_written_under_names_that_fit(cli, esm2_onnx, tmp_path, fmt):
    """Labels too long for a file name are still written: a name that fits, the full label inside the file
    and in long_labels.tsv; the other records run, and a rerun finds them done."""
    labels = ["a" * 236, "b" * 237, "c" * 251, "d" * 252, "e\t" * 150 + "e", "é" * 200, "dir/" + "f" * 300]
    fasta = tmp_path / "long.fasta"
    fasta.write_text("".join(f">{l}\nMKTAYIAKQR\n" for l in labels) + ">short\nMKV\n")
    out = tmp_path / "o"
    p = run_cli("embed", esm2_onnx, fasta, out, "--format", fmt, check=False)
    assert p.returncode == 0, p.stderr
    files = [f for f in out.rglob(f"*.{fmt}")]
    assert len(files) == len(labels) + 1 and all(len(f.name.encode()) <= 255 for f in files)
    index = (out / "long_labels.tsv").read_text(encoding="utf-8").splitlines()
    assert index[0] == "file\tlabel" and len(index) == 1 + 6  # "a" * 236 fits as it is
    unescape = lambda s: s.replace("\\t", "\t").replace("\\n", "\n").replace("\\\\", "\\")  # noqa: E731
    mapped = {unescape(line.split("\t", 1)[1]): line.split("\t", 1)[0] for line in index[1:]}
    assert sorted(mapped) == sorted(labels[1:])
    for label, name in mapped.items():
        if fmt == "npz":
            assert np.load(out / name)["label"].item().decode() == label
        else:
            assert torch.load(out / name, weights_only=True)["label"] == label
    assert (out / f"{'a' * 236}.{fmt}").exists()
    p = run_cli("embed", esm2_onnx, fasta, out, "--format", fmt)
    assert "0 written, 8 already present" in p.stdout


def test_unknown_alphabet_in_metadata_names_the_file(cli, esm2_onnx, tmp_path):
    import onnx

    m = onnx.load(str(esm2_onnx))
    for p in m.metadata_props:
        if p.key == "esm_onnx.alphabet":
            p.value = "ESM-3"
    edited = tmp_path / "esm3.onnx"
    onnx.save(m, str(edited))
    p = run_cli("embed", edited, FASTA, tmp_path / "o", check=False)
    assert p.returncode == 1 and "esm3.onnx" in p.stderr and "ESM-3" in p.stderr, p.stderr
