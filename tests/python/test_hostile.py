"""Hostile and broken input on the newer surfaces (transformers folders, safetensors, labels, concurrent runs,
downloads): each case a crash, a hang, an untyped error or silent data loss once, now a clear error (or a kept
result) with the file, record or key named. The download cases live in test_download.py."""
from __future__ import annotations

import json
import os
import pathlib
import resource
import struct
import subprocess

import pytest
import torch

import hf_checkpoints as hf
from conftest import CLI, run_cli


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> pathlib.Path:
    return hf.save(hf.build("EsmForSequenceClassification", seed=31), tmp_path_factory.mktemp("cls") / "hf")


@pytest.fixture(scope="module")
def masked_lm(tmp_path_factory) -> pathlib.Path:
    return hf.save(hf.build("EsmForMaskedLM", seed=32), tmp_path_factory.mktemp("mlm") / "hf")


def _copy(folder: pathlib.Path, dest: pathlib.Path) -> pathlib.Path:
    dest.mkdir(parents=True)
    for p in folder.iterdir():
        (dest / p.name).write_bytes(p.read_bytes())
    return dest


def _edit_config(folder: pathlib.Path, **changes) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(changes)
    (folder / "config.json").write_text(json.dumps(cfg))


def _fails_cleanly(*args, code=1, timeout=60) -> str:
    p = run_cli(*args, check=False, timeout=timeout)
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "internal error" not in p.stderr and "terminate" not in p.stderr, p.stderr
    return p.stderr


def test_deeply_nested_config_value_is_an_error_not_a_crash(classifier, tmp_path):
    import esm_onnx

    folder = _copy(classifier, tmp_path / "deep")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["id2label"]["0"] = "@DEEP@"
    text = json.dumps(cfg).replace('"@DEEP@"', "[" * 100_000 + "]" * 100_000)
    (folder / "config.json").write_text(text)
    for cmd in (("convert", folder, "-o", tmp_path / "m.onnx"), ("inspect", folder)):
        err = _fails_cleanly(*cmd)
        assert "config.json" in err and "nested deeper" in err
    with pytest.raises(esm_onnx.FormatError, match="nested deeper"):
        esm_onnx.convert(str(folder), str(tmp_path / "m.onnx"))


def test_empty_sharded_index_is_an_error_not_a_crash(masked_lm, tmp_path):
    folder = tmp_path / "empty-index"
    folder.mkdir()
    (folder / "config.json").write_bytes((masked_lm / "config.json").read_bytes())
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": {}}))
    for cmd in (("convert", folder, "-o", tmp_path / "m.onnx"), ("inspect", folder)):
        err = _fails_cleanly(*cmd)
        assert "pytorch_model.bin.index.json" in err and "names no tensor" in err


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "pytorch_model.bin", "index", "shard"])
def test_a_fifo_in_a_model_folder_does_not_hang(masked_lm, tmp_path, name):
    folder = _copy(masked_lm, tmp_path / "fifo")
    if name == "pytorch_model.bin":
        (folder / "model.safetensors").unlink()
    if name in ("index", "shard"):
        (folder / "model.safetensors").unlink()
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": {"x": "part.safetensors"}}))
        target = folder / ("model.safetensors.index.json" if name == "index" else "part.safetensors")
        target.unlink(missing_ok=True)
    else:
        target = folder / name
        target.unlink(missing_ok=True)
    os.mkfifo(target)
    err = _fails_cleanly("convert", folder, "-o", tmp_path / "m.onnx", timeout=30)
    assert target.name in err and "FIFO" in err


@pytest.mark.parametrize("suffix", [".pt", ".safetensors", ".onnx"])
def test_a_fifo_given_as_a_file_does_not_hang(tmp_path, suffix):
    fifo = tmp_path / f"model{suffix}"
    os.mkfifo(fifo)
    if suffix == ".onnx":
        fasta = tmp_path / "x.fasta"
        fasta.write_text(">a\nMKT\n")
        err = _fails_cleanly("embed", fifo, fasta, tmp_path / "out", timeout=30)
    else:
        err = _fails_cleanly("convert", fifo, "-o", tmp_path / "m.onnx", timeout=30)
        assert "FIFO" in _fails_cleanly("inspect", fifo, timeout=30)
    assert "FIFO" in err and str(fifo) in err


@pytest.mark.parametrize("key,value,expect", [
    ("model_type", 5, "'model_type' is an integer, expected a string"),
    ("model_type", None, "model_type ''"),
    ("position_embedding_type", None, "position_embedding_type null"),
    ("num_hidden_layers", "2", "'num_hidden_layers' is a string"),
    ("token_dropout", "yes", "'token_dropout' is a string, expected true or false"),
    ("architectures", [3], "'architectures' holds an integer"),
    ("layer_norm_eps", -1, "layer_norm_eps = -1"),
])
def test_config_values_of_the_wrong_type_are_named(masked_lm, tmp_path, key, value, expect):
    import esm_onnx

    folder = _copy(masked_lm, tmp_path / "typed")
    _edit_config(folder, **{key: value})
    err = _fails_cleanly("convert", folder, "-o", tmp_path / "m.onnx")
    assert expect in err and "config.json" in err
    with pytest.raises(esm_onnx.Error, match=".") as e:
        esm_onnx.convert(str(folder), str(tmp_path / "m.onnx"))
    assert "internal error" not in str(e.value)
    assert not (tmp_path / "m.onnx").exists()


def test_null_name_or_path_means_no_name(masked_lm, tmp_path):
    folder = _copy(masked_lm, tmp_path / "null-name")
    _edit_config(folder, _name_or_path=None)
    run_cli("convert", folder, "-o", tmp_path / "m.onnx")


def test_a_symlink_loop_is_named(masked_lm, tmp_path):
    folder = _copy(masked_lm, tmp_path / "loop")
    (folder / "model.safetensors").unlink()
    os.symlink("model.safetensors", folder / "model.safetensors")
    err = _fails_cleanly("convert", folder, "-o", tmp_path / "m.onnx")
    assert "model.safetensors" in err and "link loop" in err
    loop = tmp_path / "self.pt"
    os.symlink("self.pt", loop)
    assert "link loop" in _fails_cleanly("convert", loop, "-o", tmp_path / "m.onnx")


@pytest.mark.parametrize("labels", ["many", "long"])
def test_convert_refuses_the_labels_embed_would_refuse(classifier, tmp_path, labels):
    folder = _copy(classifier, tmp_path / "labels")
    cfg = json.loads((folder / "config.json").read_text())
    if labels == "many":
        cfg["id2label"] = {str(i): f"label{i}" for i in range(70_000)}
        cfg["label2id"] = {}
    else:
        cfg["id2label"]["0"] = "x" * 5_000_000
    (folder / "config.json").write_text(json.dumps(cfg))
    err = _fails_cleanly("convert", folder, "-o", tmp_path / "m.onnx")
    assert "config.json" in err and ("65536" in err or "4096" in err)
    assert not (tmp_path / "m.onnx").exists()


def test_a_weight_stored_twice_is_refused(masked_lm, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = _copy(masked_lm, tmp_path / "twice")
    state = load_file(str(folder / "model.safetensors"))
    name = "esm.encoder.layer.0.attention.self.query.weight"
    state[name[len("esm."):]] = state[name].clone() + 1
    save_file(state, str(folder / "model.safetensors"))
    err = _fails_cleanly("convert", folder, "-o", tmp_path / "m.onnx")
    assert name in err and name[len("esm."):] in err and "same weight" in err


def _safetensors_with_extra(path: pathlib.Path, extra_numbers: int) -> None:
    t = torch.zeros(4, dtype=torch.float32)
    header = {"embed.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16],
                               "extra": "@EXTRA@"}}
    text = json.dumps(header).replace('"@EXTRA@"', "[" + ",".join(["1"] * extra_numbers) + "]").encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + t.numpy().tobytes())


def test_a_large_safetensors_header_costs_no_more_than_its_size(tmp_path):
    path = tmp_path / "big-header.safetensors"
    _safetensors_with_extra(path, 10_000_000)
    size = path.stat().st_size
    p = subprocess.run(["/usr/bin/time", "-f", "%M", str(CLI), "inspect", str(path)], capture_output=True, text=True,
                       timeout=120)
    peak_kb = int(p.stderr.strip().splitlines()[-1])
    assert "internal error" not in p.stderr
    # The header is read in place (mapped) and its extra member parsed without being kept.
    assert peak_kb * 1024 < 3 * size + (150 << 20), (peak_kb, size, p.stderr)
    # An array inside an entry where a shape stands is bounded too.
    header = {"embed.weight": {"dtype": "F32", "shape": "@SHAPE@", "data_offsets": [0, 4]}}
    text = json.dumps(header).replace('"@SHAPE@"', "[" + ",".join(["1"] * 100_000) + "]").encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"\0" * 4)
    err = _fails_cleanly("inspect", path)
    assert "more than 64 values" in err


def test_out_of_memory_in_convert_does_not_blame_the_batch(tmp_path):
    path = tmp_path / "big-header.safetensors"
    _safetensors_with_extra(path, 20_000)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (600 << 20, 600 << 20))

    p = subprocess.run([str(CLI), "convert", str(path), "-o", str(tmp_path / "m.onnx")], capture_output=True, text=True,
                       preexec_fn=limit, timeout=60)
    assert p.returncode == 1
    assert "--toks-per-batch" not in p.stderr


# -- labels and outputs ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_model(tmp_path_factory) -> pathlib.Path:
    from conftest import ROOT

    out = tmp_path_factory.mktemp("demo") / "demo.onnx"
    run_cli("convert", ROOT / "demo" / "esm2_t4_64_RANDOM_WEIGHTS_demo.pt", "-o", out, "--no-contacts")
    return out


def _embed(model, records, outdir, *extra, check=True):
    fasta = outdir.parent / f"{outdir.name}.fasta"
    fasta.write_text("".join(f">{label}\n{seq}\n" for label, seq in records))
    return run_cli("embed", model, fasta, outdir, *extra, check=check)


@pytest.mark.parametrize("fmt", ["npz", "pt"])
def test_labels_naming_one_file_are_refused_not_overwritten(demo_model, tmp_path, fmt):
    import numpy as np

    records = [("x", "MKTAYIAK"), ("./x", "GGGGGG"), ("p/q", "MKV"), ("p//q", "MKVL"), ("p/./q", "MKVLA"), ("p/", "MK"),
               ("y~0123456789abcdef", "MKT")]
    p = _embed(demo_model, records, tmp_path / "out", "--format", fmt, "--include", "mean", "per_tok", check=False)
    assert p.returncode == 3, p.stderr  # finished, with skipped records
    assert "1 written" not in p.stderr
    for bad in ("./x", "p//q", "p/./q", "p/", "y~0123456789abcdef"):
        assert f"'{bad}'" in p.stderr, bad
    files = sorted(str(f.relative_to(tmp_path / "out")) for f in (tmp_path / "out").rglob(f"*.{fmt}"))
    assert files == [f"p/q.{fmt}", f"x.{fmt}"]
    # Each file holds its own record, and says so.
    if fmt == "npz":
        d = np.load(tmp_path / "out" / "x.npz")
        assert d["label"].item().decode() == "x" and d["representations/4"].shape[0] == 8
    else:
        d = torch.load(tmp_path / "out" / "x.pt", weights_only=True)
        assert d["label"] == "x" and d["representations"][4].shape[0] == 8


def test_a_label_inside_the_scratch_area_is_refused(demo_model, tmp_path):
    p = _embed(demo_model, [(".partial/host-999999/x", "MKT"), ("ok", "MKV")], tmp_path / "out", check=False)
    assert p.returncode == 3 and ".partial/" in p.stderr
    assert not (tmp_path / "out" / ".partial").exists()
    _embed(demo_model, [("ok", "MKV"), ("more", "MKVL")], tmp_path / "out")
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["more.npz", "ok.npz"]


def test_two_h5_runs_into_one_folder_keep_every_record(demo_model, tmp_path):
    import h5py
    import random

    rng = random.Random(5)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    small = [(f"s{i}", "".join(rng.choice(aa) for _ in range(rng.randint(5, 30)))) for i in range(6)]
    big = [(f"b{i}", "".join(rng.choice(aa) for _ in range(rng.randint(5, 30)))) for i in range(4000)]
    out = tmp_path / "out"
    procs = []
    for name, recs in (("big", big), ("small", small)):
        fasta = tmp_path / f"{name}.fasta"
        fasta.write_text("".join(f">{label}\n{seq}\n" for label, seq in recs))
        procs.append(subprocess.Popen([str(CLI), "embed", str(demo_model), str(fasta), str(out), "--format", "h5",
                                       "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    with h5py.File(out / "embeddings.h5", "r") as f:
        assert set(f) == {label for label, _ in small + big}
    assert not (out / ".embeddings.h5.staging").exists()
    assert not (out / "embeddings.h5.partial").exists()


@pytest.mark.parametrize("what", ["dev-zero", "folder", "huge-line"])
def test_a_fasta_that_cannot_be_read_is_not_taken_for_its_end(demo_model, tmp_path, what):
    if what == "dev-zero":
        fasta = pathlib.Path("/dev/zero")
    elif what == "folder":
        fasta = tmp_path / "dir.fasta"
        fasta.mkdir()
    else:
        fasta = tmp_path / "huge.fasta"
        with open(fasta, "w") as f:
            f.write(">first\nMKT\n>huge\n")
            chunk = "ACDEFGHIKL" * 100_000
            for _ in range(135):
                f.write(chunk)
            f.write("\n>after\nMKV\n")
    err = _fails_cleanly("embed", demo_model, fasta, tmp_path / "out", timeout=120)
    assert str(fasta) in err and "empty" not in err and "no residues" not in err
    if what == "folder":
        assert "is a folder" in err
    else:
        assert "longer than" in err and "not read" in err


def test_a_fifo_as_extracts_model_location_does_not_hang(tmp_path, monkeypatch):
    # The model cache hashes the checkpoint before converting it: the hash opens it as an untrusted file too.
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    fifo = tmp_path / "model.pt"
    os.mkfifo(fifo)
    fasta = tmp_path / "x.fasta"
    fasta.write_text(">a\nMKT\n")
    p = run_cli("extract", fifo, fasta, tmp_path / "out", "--include", "mean", check=False, timeout=30,
                env=dict(os.environ))
    assert p.returncode == 1 and "FIFO" in p.stderr and str(fifo) in p.stderr, p.stderr
