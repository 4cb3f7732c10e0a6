"""The OpenVINO engine: fp32 within 1e-4 of fair-esm on the graph `convert --engine openvino` writes, bf16
compute held to its floors against fair-esm (mean-embedding cosine >= 0.9999, logits argmax >= 99%) on the
briefly trained models, the refusals that keep numbers from changing unseen, the compiled-model cache,
and the embed job's resume and bad-record handling unchanged."""
from __future__ import annotations

import json

import numpy as np
import pytest

import esm_checkpoints
from cpu_flags import cpu_has_bf16
from conftest import DATA, MODELS, run_cli
from oracle import read_fasta, reference_outputs
from test_parity import _compare, _record as _record_parity
from test_precisions import _fidelity, _record as _record_fidelity, fasta, trained  # noqa: F401 (fixtures)

BF16_FLOOR = (0.9999, 0.99)


def _embed_json(*args) -> dict:
    return json.loads(run_cli("embed", *args, "--json").stdout)


@pytest.mark.parametrize("key", [k for k in MODELS if k.endswith("_zip")])
def test_openvino_fp32_parity_with_fair_esm(cli, checkpoints, tmp_path, key):
    ckpt = checkpoints[key]
    onnx = tmp_path / "model.onnx"
    run_cli("convert", ckpt, "-o", onnx, "--repr-layers", "all", "--engine", "openvino")
    has_contacts = MODELS[key][5]
    include = ["mean", "per_tok", "bos", "logits"] + (["contacts"] if has_contacts else [])
    s = _embed_json(onnx, DATA / "parity.fasta", tmp_path / "out", "--include", *include, "--toks-per-batch", "400",
                    "--engine", "openvino", "--compute", "fp32")
    assert (s["engine"], s["compute"]) == ("openvino", "fp32")
    model, alphabet = esm_checkpoints.load_with_fair_esm(ckpt)
    expected = reference_outputs(model, alphabet, read_fasta(DATA / "parity.fasta"), has_contacts)
    worst = _compare(tmp_path / "out", expected)
    _record_parity(f"{key} (openvino fp32)", worst)


@pytest.mark.parametrize("key", ["esm2", "esm1b", "esm1"])
def test_bf16_floor_against_fair_esm(cli, trained, fasta, tmp_path, key):
    path, model, alphabet = trained[key]
    onnx = tmp_path / "m.onnx"
    run_cli("convert", path, "-o", onnx, "--engine", "openvino")
    args = (onnx, fasta, tmp_path / "out", "--include", "mean", "logits", "contacts", "--toks-per-batch", "1000",
            "--engine", "openvino", "--compute", "bf16")
    if not cpu_has_bf16():
        proc = run_cli("embed", *args, check=False)
        assert proc.returncode == 2 and "AVX512_BF16" in proc.stderr and "AMX-BF16" in proc.stderr, proc.stderr
        return
    assert _embed_json(*args)["compute"] == "bf16"
    expected = reference_outputs(model, alphabet, read_fasta(fasta), has_contacts=True)
    cos, agree = _fidelity(tmp_path / "out", expected, model.num_layers)
    _record_fidelity(f"{key} bf16 (openvino)", {"min_cosine": cos, "argmax_agreement": agree})
    assert cos >= BF16_FLOOR[0], f"bf16: min cosine of mean embeddings {cos:.6f} < {BF16_FLOOR[0]}"
    assert agree >= BF16_FLOOR[1], f"bf16: argmax agreement {agree:.4f} < {BF16_FLOOR[1]}"
    worst = max(float(np.abs(np.load(tmp_path / "out" / f"{lab}.npz")["contacts"] - ref["contacts"]).max())
                for lab, ref in expected.items())
    assert worst < 0.02, f"bf16: contacts differ by {worst:.3g}"


@pytest.mark.parametrize("compute", ["fp32", "bf16"])
def test_openvino_int8_meets_the_int8_floor(cli, trained, fasta, tmp_path, compute):
    """convert --engine openvino --precision int8: int8 weights behind standard DequantizeLinear ops, which
    OpenVINO keeps compressed; held to int8's floors (cosine >= 0.99, argmax >= 95%)."""
    if compute == "bf16" and not cpu_has_bf16():
        compute = "fp32"
    path, model, alphabet = trained["esm2"]
    onnx = tmp_path / "m.onnx"
    run_cli("convert", path, "-o", onnx, "--engine", "openvino", "--precision", "int8", "--no-contacts")
    info = json.loads(run_cli("inspect", onnx, "--json").stdout)
    assert (info["precision"], info["attention"]) == ("int8", "explicit")
    s = _embed_json(onnx, fasta, tmp_path / "out", "--include", "mean", "logits", "--engine", "openvino",
                    "--compute", compute)
    assert s["compute"] == compute
    expected = reference_outputs(model, alphabet, read_fasta(fasta), has_contacts=False)
    cos, agree = _fidelity(tmp_path / "out", expected, model.num_layers)
    _record_fidelity(f"esm2 int8 (openvino, {compute} compute)", {"min_cosine": cos, "argmax_agreement": agree})
    assert cos >= 0.99 and agree >= 0.95, (cos, agree)


def test_verify_runs_the_candidate_on_openvino(cli, trained, tmp_path):
    proc = run_cli("convert", trained["esm2"][0], "-o", tmp_path / "m.onnx", "--engine", "openvino", "--verify")
    line = proc.stdout.strip().splitlines()[-1]
    compute = "bf16" if cpu_has_bf16() else "fp32"
    assert f"on openvino, {compute} compute" in line and "within the floor" in line, line
    assert ("bf16 compute: cosine >= 0.9999" if compute == "bf16" else "fp32: max abs error <= 1e-4") in line


def test_auto_compute_follows_the_cpu_and_is_reported(cli, ov_models, tmp_path):
    s = _embed_json(ov_models["esm2_t3_48_zip"], DATA / "parity.fasta", tmp_path / "out", "--engine", "openvino")
    assert s["compute"] == ("bf16" if cpu_has_bf16() else "fp32")
    assert s["engine_version"].startswith("2026.")
    text = run_cli("embed", ov_models["esm2_t3_48_zip"], DATA / "parity.fasta", tmp_path / "out2").stdout
    assert "engine: ort 1." in text


@pytest.mark.parametrize("graph", [["--no-contacts"], ["--precision", "int8"], ["--precision", "int4"]])
def test_graphs_with_onnx_runtime_ops_are_refused(cli, checkpoints, tmp_path, graph):
    onnx = tmp_path / "m.onnx"
    run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", onnx, *graph)
    proc = run_cli("embed", onnx, DATA / "parity.fasta", tmp_path / "out", "--engine", "openvino", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "com.microsoft" in proc.stderr and "--engine openvino" in proc.stderr and str(onnx) in proc.stderr
    assert not (tmp_path / "out").exists()


def test_refusals_name_the_option(cli, checkpoints, onnx_models, tmp_path):
    proc = run_cli("embed", onnx_models["esm2_t3_48_zip"], DATA / "parity.fasta", tmp_path / "o", "--compute", "bf16",
                   check=False)
    assert proc.returncode == 2 and "--compute bf16" in proc.stderr and "--engine openvino" in proc.stderr
    proc = run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", tmp_path / "m.onnx", "--engine", "openvino",
                   "--precision", "int4", check=False)
    assert proc.returncode == 2 and "--engine openvino --precision int4" in proc.stderr
    proc = run_cli("embed", onnx_models["esm2_t3_48_zip"], DATA / "parity.fasta", tmp_path / "o", "--engine", "tvm",
                   check=False)
    assert proc.returncode == 2 and "--engine tvm" in proc.stderr
    proc = run_cli("embed", onnx_models["esm2_t3_48_zip"], DATA / "parity.fasta", tmp_path / "o", "--engine", "openvino",
                   "--device", "cuda", check=False)
    assert proc.returncode == 2 and "--engine ort" in proc.stderr


def test_compiled_models_are_cached(cli, ov_models, tmp_path):
    onnx, cache = ov_models["esm2_t2_32_legacy"], tmp_path / "cache"
    args = ("--engine", "openvino", "--compute", "fp32", "--include", "mean", "logits", "--cache-dir", cache)
    first = _embed_json(onnx, DATA / "parity.fasta", tmp_path / "a", *args)
    second = _embed_json(onnx, DATA / "parity.fasta", tmp_path / "b", *args)
    assert (first["from_cache"], second["from_cache"]) == (False, True)
    assert first["cache_dir"] == second["cache_dir"] == str(cache) and any(cache.iterdir())
    for f in (tmp_path / "a").glob("*.npz"):
        a, b = np.load(f), np.load(tmp_path / "b" / f.name)
        assert all(np.array_equal(a[k], b[k]) for k in a.files)
    off = _embed_json(onnx, DATA / "parity.fasta", tmp_path / "c", "--engine", "openvino", "--no-cache")
    assert off["cache_dir"] is None and off["from_cache"] is False


def test_a_model_converted_again_into_the_same_file_is_not_served_from_the_cache(cli, checkpoints, tmp_path):
    """The cache is keyed on the graph and its weights, not on the file's name, size and mtime."""
    onnx, cache = tmp_path / "m.onnx", tmp_path / "cache"
    outs = []
    for i, key in enumerate(["esm2_t3_48_zip", "esm1b_t2_48_zip"]):
        run_cli("convert", checkpoints[key], "-o", onnx, "--engine", "openvino")
        s = _embed_json(onnx, DATA / "parity.fasta", tmp_path / f"o{i}", "--engine", "openvino", "--compute", "fp32",
                        "--cache-dir", cache)
        assert s["from_cache"] is False
        model, alphabet = esm_checkpoints.load_with_fair_esm(checkpoints[key])
        last = model.num_layers
        want = reference_outputs(model, alphabet, read_fasta(DATA / "parity.fasta"), False)
        for label, ref in want.items():
            got = np.load(tmp_path / f"o{i}" / f"{label}.npz")[f"mean_representations/{last}"]
            assert np.abs(got - ref[f"mean_representations/{last}"]).max() <= 1e-4
        outs.append(s)
    # One folder per model file, holding only its current version's compiled form.
    per_file = list(cache.iterdir())
    assert len(per_file) == 1 and len(list(per_file[0].iterdir())) == 1


def test_resume_and_bad_records_match_onnx_runtime(cli, ov_models, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">a\nMKTAYIAKQR\n>bad\nMK*JX1\n>c\nMLKKVAEEL\n>empty\n\n>d\nMSTNPKPQRK\n")
    onnx = ov_models["esm2_t3_48_zip"]
    runs = {}
    for engine in ("ort", "openvino"):
        out = tmp_path / engine
        proc = run_cli("embed", onnx, fasta, out, "--engine", engine, check=False)
        assert proc.returncode == 3, proc.stderr
        skipped = sorted(line.split("'")[1] for line in proc.stderr.splitlines() if line.startswith("skipped"))
        again = json.loads(run_cli("embed", onnx, fasta, out, "--engine", engine, "--json", check=False).stdout)
        runs[engine] = (skipped, sorted(p.name for p in out.iterdir()), again["already_present"], again["written"])
    assert runs["ort"] == runs["openvino"]
    assert runs["ort"][2] == 3 and runs["ort"][3] == 0


def test_python_api(ov_models, tmp_path):
    import esm_onnx

    path = ov_models["esm2_t3_48_zip"]
    ov = esm_onnx.Model(path, engine="openvino", compute="fp32", cache_dir=tmp_path / "cache")
    ort = esm_onnx.Model(path)
    assert ov.engine["engine"] == "openvino" and ov.engine["compute"] == "fp32" and ort.engine["engine"] == "ort"
    seqs = ["MKTAYIAKQRQISFVKSHFSRQ", "MLKKV"]
    for a, b in zip(ov.embed(seqs, include=["mean", "logits"]), ort.embed(seqs, include=["mean", "logits"])):
        assert np.abs(a.logits - b.logits).max() <= 1e-4
        assert all(np.abs(a.mean[k] - b.mean[k]).max() <= 1e-4 for k in b.mean)
    s = esm_onnx.embed_to_dir(path, DATA / "parity.fasta", tmp_path / "out", engine="openvino", compute="fp32",
                              cache=False)
    assert s.engine["engine"] == "openvino" and s.engine["cache_dir"] is None
    with pytest.raises(esm_onnx.UsageError, match="compute"):
        esm_onnx.Model(path, engine="openvino", compute="fp8")
