"""The Python API (esm_onnx.Model, embed, embed_fasta, embed_to_dir, convert) against fair-esm, the oracle,
for every family, with several records per padded batch."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import esm_checkpoints
import esm_onnx
from conftest import CLI, DATA, MODELS, run_cli
from oracle import read_fasta, reference_outputs

TOL = 1e-4
FASTA = DATA / "parity.fasta"
ALL = ("mean", "per_tok", "bos", "logits")


def _reference(checkpoints, key):
    model, alphabet = esm_checkpoints.load_with_fair_esm(checkpoints[key])
    return reference_outputs(model, alphabet, read_fasta(FASTA), MODELS[key][5])


def _check(e, ref, include, layers):
    for layer in layers:
        if "mean" in include:
            np.testing.assert_allclose(e.mean[layer], ref[f"mean_representations/{layer}"], atol=TOL, rtol=0)
        if "per_tok" in include:
            np.testing.assert_allclose(e.per_tok[layer], ref[f"representations/{layer}"], atol=TOL, rtol=0)
        if "bos" in include:
            np.testing.assert_allclose(e.bos[layer], ref[f"bos_representations/{layer}"], atol=TOL, rtol=0)
    if "logits" in include:
        np.testing.assert_allclose(e.logits, ref["logits"], atol=TOL, rtol=0)
    if "contacts" in include:
        np.testing.assert_allclose(e.contacts, ref["contacts"], atol=TOL, rtol=0)


@pytest.mark.parametrize("key", list(MODELS))
def test_embed_matches_fair_esm(checkpoints, onnx_models, key):
    ref = _reference(checkpoints, key)
    records = read_fasta(FASTA)
    include = ALL + (("contacts",) if MODELS[key][5] else ())
    model = esm_onnx.Model(onnx_models[key], threads=1)
    layers = list(range(model.info.num_layers + 1))
    # A small token budget: several padded batches of several records each.
    out = model.embed(records, include=include, toks_per_batch=300)
    assert [e.label for e in out] == [label for label, _ in records]  # input order
    for e, (label, seq) in zip(out, records):
        assert e.length == ref[label]["logits"].shape[0]
        assert sorted(e.mean) == layers
        _check(e, ref[label], include, layers)
        assert all(a.dtype == np.float32 for a in e.per_tok.values())
    if "contacts" not in include:
        assert out[0].contacts is None


@pytest.mark.parametrize("key", ["esm2_t3_48_zip", "esm1b_t2_32_legacy", "esm1_t2_48_zip", "esm1v_t2_32_zip"])
def test_embed_fasta_matches_fair_esm(checkpoints, onnx_models, key):
    ref = _reference(checkpoints, key)
    model = esm_onnx.Model(onnx_models[key], threads=1)
    include = ("mean", "per_tok", "logits") + (("contacts",) if MODELS[key][5] else ())
    it = model.embed_fasta(FASTA, include=include, repr_layers=[0, -1], toks_per_batch=300)
    seen = {}
    for e in it:
        seen[e.label] = e.index
        _check(e, ref[e.label], include, [0, model.info.num_layers])
        assert sorted(e.per_tok) == [0, model.info.num_layers]
    labels = [label for label, _ in read_fasta(FASTA)]
    assert sorted(seen) == sorted(labels)
    assert all(labels[i] == label for label, i in seen.items())  # index = position in the file
    assert it.skipped == []


def test_repr_layers_and_sequence_forms(onnx_models):
    model = esm_onnx.Model(onnx_models["esm2_t3_48_zip"], threads=1)
    out = model.embed(["MKTAYIAKQR", ("p2", "KALTARQQEV")], include="mean", repr_layers=-1)
    assert [e.label for e in out] == ["0", "p2"]
    assert list(out[0].mean) == [3] and out[0].per_tok == {} and out[0].logits is None
    trunc = model.embed(["MKTAYIAKQR"], include="per_tok", repr_layers=[1], truncation_seq_length=4)
    assert trunc[0].length == 4 and trunc[0].per_tok[1].shape == (4, 48)
    info = model.info
    assert (info.family, info.num_layers, info.embed_dim, info.repr_layers) == ("ESM-2", 3, 48, [0, 1, 2, 3])
    assert info.has_contacts and info.precision == "fp32"


def test_embed_to_dir_is_the_cli_job(onnx_models, tmp_path):
    onnx = onnx_models["esm1b_t2_48_zip"]
    summary = esm_onnx.embed_to_dir(onnx, FASTA, tmp_path / "py", include=("mean", "per_tok", "contacts"))
    run_cli("embed", onnx, FASTA, tmp_path / "cli", "--include", "mean", "per_tok", "contacts")
    files = sorted(p.name for p in (tmp_path / "cli").glob("*.npz"))
    assert files and sorted(p.name for p in (tmp_path / "py").glob("*.npz")) == files
    assert summary.written == len(files) and summary.skipped == []
    for f in files:
        a, b = np.load(tmp_path / "py" / f), np.load(tmp_path / "cli" / f)
        assert a.files == b.files
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])
    again = esm_onnx.embed_to_dir(onnx, FASTA, tmp_path / "py", include=("mean", "per_tok", "contacts"))
    assert again.written == 0 and again.already_present == len(files)


def test_convert_returns_model_info(checkpoints, tmp_path):
    info = esm_onnx.convert(checkpoints["esm2_t2_32_legacy"], tmp_path / "m.onnx", repr_layers=(0, -1),
                            precision="int8", contacts=False)
    assert isinstance(info, esm_onnx.ModelInfo)
    assert info.repr_layers == [0, 2] and info.precision == "int8" and not info.has_contacts
    assert esm_onnx.inspect(tmp_path / "m.onnx")["precision"] == "int8"


def test_two_threads_share_one_model(onnx_models):
    model = esm_onnx.Model(onnx_models["esm2_t3_48_zip"], threads=1)
    records = read_fasta(FASTA) * 8
    alone = model.embed(records, include=("mean", "logits"), toks_per_batch=200)
    results, errors = [None, None], []

    def work(i):
        try:
            for _ in range(3):
                results[i] = model.embed(records, include=("mean", "logits"), toks_per_batch=200)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for res in results:
        for a, b in zip(alone, res):
            assert a.label == b.label
            np.testing.assert_array_equal(a.mean[3], b.mean[3])
            np.testing.assert_array_equal(a.logits, b.logits)


def test_bad_input_raises_typed_errors(onnx_models, checkpoints, tmp_path):
    onnx = onnx_models["esm2_t2_32_legacy"]
    model = esm_onnx.Model(onnx, threads=1)
    cases = [
        (lambda: model.embed(["MKV", ("bad", "MK*V")]), esm_onnx.InputError, ValueError, "'bad'"),
        (lambda: model.embed([("empty", "")]), esm_onnx.InputError, ValueError, "no residues"),
        (lambda: model.embed(["MKV"], include=("means",)), esm_onnx.UsageError, ValueError, "means"),
        (lambda: model.embed(["MKV"], repr_layers=[7]), esm_onnx.UsageError, ValueError, "layer 7"),
        (lambda: model.embed(["MKV"], toks_per_batch=0), esm_onnx.UsageError, ValueError, "toks_per_batch"),
        (lambda: model.embed("MKV"), esm_onnx.UsageError, ValueError, "list"),
        (lambda: model.embed([42]), esm_onnx.UsageError, ValueError, "sequences[0]"),
        (lambda: esm_onnx.Model(onnx, device="tpu"), esm_onnx.UsageError, ValueError, "tpu"),
        (lambda: esm_onnx.Model(tmp_path / "missing.onnx"), esm_onnx.FileError, OSError, "missing.onnx"),
        (lambda: esm_onnx.Model(FASTA), esm_onnx.FormatError, ValueError, "parity.fasta"),
        (lambda: esm_onnx.convert(tmp_path / "none.pt", tmp_path / "o.onnx"), esm_onnx.FileError, OSError, "none.pt"),
        (lambda: esm_onnx.convert(checkpoints["esm2_t2_32_legacy"], tmp_path / "o.onnx", precision="fp8"),
         esm_onnx.UsageError, ValueError, "fp8"),
        (lambda: list(model.embed_fasta(tmp_path / "missing.fasta")), esm_onnx.FileError, OSError, "missing.fasta"),
        (lambda: esm_onnx.embed_to_dir(onnx, FASTA, tmp_path / "o", format="csv"), esm_onnx.UsageError, ValueError, "csv"),
    ]
    for call, cls, builtin, fragment in cases:
        with pytest.raises(cls) as info:
            call()
        assert isinstance(info.value, esm_onnx.Error) and isinstance(info.value, builtin)
        assert fragment in str(info.value), (fragment, str(info.value))
    noc = tmp_path / "noc.onnx"
    esm_onnx.convert(checkpoints["esm2_t2_32_legacy"], noc, contacts=False)
    with pytest.raises(esm_onnx.UsageError, match="no contacts output"):
        esm_onnx.Model(noc).embed(["MKV"], include="contacts")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(esm_onnx.FormatError, match="corrupt.pt"):
        esm_onnx.convert(corrupt, tmp_path / "c.onnx")


def test_embed_fasta_skips_bad_records_with_a_warning(onnx_models, tmp_path):
    fasta = tmp_path / "bad.fasta"
    fasta.write_text(">ok\nMKTAYIAKQR\n>bad\nMK*\n>ok2\nKALTARQQEV\n")
    model = esm_onnx.Model(onnx_models["esm2_t2_32_legacy"], threads=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it = model.embed_fasta(fasta)
        labels = sorted(e.label for e in it)
    assert labels == ["ok", "ok2"]
    assert [s[0] for s in it.skipped] == ["bad"] and it.skipped[0][1] == 3
    assert any(issubclass(w.category, esm_onnx.SkippedRecordWarning) and "'bad'" in str(w.message) for w in caught)
    with pytest.raises(esm_onnx.InputError, match="'bad'"):
        list(model.embed_fasta(fasta, strict=True))


def test_arrays_are_owned_by_numpy(onnx_models):
    """Arrays outlive the Model and the Embedding list (numpy owns the buffers handed over)."""
    model = esm_onnx.Model(onnx_models["esm2_t2_32_legacy"], threads=1)
    per_tok = model.embed(["MKTAYIAKQR"], include="per_tok")[0].per_tok[2]
    del model
    import gc

    gc.collect()
    assert per_tok.shape == (10, 32) and np.isfinite(per_tok).all()
    assert per_tok.flags.writeable


def test_cli_is_installed_with_the_package(tmp_path):
    """`python -m esm_onnx` (the package's esm-onnx script) runs the same command line as the binary."""
    import subprocess
    import sys

    from conftest import PYPKG

    env = {"PYTHONPATH": str(PYPKG), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([sys.executable, "-m", "esm_onnx", "--version"], capture_output=True, text=True, env=env)
    q = subprocess.run([str(CLI), "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout == q.stdout
    p = subprocess.run([sys.executable, "-m", "esm_onnx", "embed", "x.onnx"], capture_output=True, text=True, env=env)
    assert p.returncode == 2


def test_embed_fasta_iterator_abandoned_midway(onnx_models, tmp_path):
    """Dropping an iterator while its worker computes the next batch neither hangs nor leaks a thread."""
    import gc

    fasta = tmp_path / "many.fasta"
    fasta.write_text("".join(f">r{i}\n{'MKTAYIAKQR' * (1 + i % 7)}\n" for i in range(300)))
    model = esm_onnx.Model(onnx_models["esm2_t3_48_zip"], threads=1)
    def os_threads():
        import os

        return len(os.listdir("/proc/self/task"))

    before = os_threads()
    for _ in range(5):
        it = model.embed_fasta(fasta, include=("per_tok",), toks_per_batch=100)
        assert next(it).length >= 10
        del it
        gc.collect()
    assert os_threads() == before
    # And a strict error raised on the worker reaches the caller after the records before it.
    bad = tmp_path / "bad_late.fasta"
    bad.write_text(">a\nMKTAYIAKQR\n>b\nMKV\n>c\nMK*\n")
    got = []
    with pytest.raises(esm_onnx.InputError, match="'c'"):
        for e in model.embed_fasta(bad, strict=True, read_ahead=2):
            got.append(e.label)
    assert sorted(got) == ["a", "b"]


def test_one_report_for_the_cli_and_python(onnx_models, tmp_path):
    """embed's summary is built once (EmbedSummary::to_json): `embed --json` prints it, Python returns it."""
    import json

    from conftest import run_cli

    fasta = tmp_path / "in.fasta"
    fasta.write_text(">a\nMKTAYIAKQR\n>bad\nMK*\n")
    p = run_cli("embed", onnx_models["esm2_t3_48_zip"], fasta, tmp_path / "cli", "--json", check=False)
    cli = json.loads(p.stdout)
    with pytest.warns(esm_onnx.SkippedRecordWarning):
        summary = esm_onnx.embed_to_dir(onnx_models["esm2_t3_48_zip"], fasta, tmp_path / "py")
    py = json.loads(summary.to_json())
    assert list(py) == list(cli) and py["written"] == cli["written"] == 1 and py["skipped"] == cli["skipped"]
    assert py["tokens_per_second"] > 0 and py["format"] == "npz"
