"""Every output of `esm-onnx embed` within 1e-4 of fair-esm, for every family and both serializations,
with several records per padded batch."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import esm_checkpoints
from conftest import DATA, MODELS, ROOT, SHARED, run_cli
from oracle import read_fasta, reference_outputs

TOL = 1e-4
REPORT = ROOT / "build" / "parity.json"


def _compare(outdir: pathlib.Path, expected: dict, suffix=".npz") -> dict[str, float]:
    worst: dict[str, float] = {}
    for label, ref in expected.items():
        got = np.load(outdir / f"{label}{suffix}")
        assert got["label"].item().decode() == label  # every file says which record it holds
        arrays = sorted(k for k in got.files if k != "label")
        assert arrays == sorted(ref), f"{label}: arrays {arrays} != {sorted(ref)}"
        for key, want in ref.items():
            have = got[key]
            assert have.shape == want.shape, f"{label}/{key}: shape {have.shape} != {want.shape}"
            err = float(np.abs(have - want).max()) if want.size else 0.0
            kind = key.split("/")[0]
            worst[kind] = max(worst.get(kind, 0.0), err)
            assert err <= TOL, f"{label}/{key}: max abs error {err:.3g} > {TOL}"
    return worst


def _record(name: str, worst: dict[str, float]) -> None:
    REPORT.parent.mkdir(exist_ok=True)
    data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    data[name] = worst
    REPORT.write_text(json.dumps(data, indent=1, sort_keys=True))


# The graphs convert writes: "default" has contacts when the checkpoint has contact weights (explicit
# attention, so the maps exist) and fused ops otherwise; "fused" leaves contacts out, so every layer uses
# ONNX Runtime's fused ops; "standard" has standard ONNX ops only.
GRAPHS = {"default": [], "fused": ["--no-contacts"], "standard": ["--no-optimize"]}
CASES = [(k, "default") for k in MODELS] + [(k, g) for k in MODELS if k.endswith("_zip") for g in ("fused", "standard")]


@pytest.mark.parametrize("key,graph", CASES)
def test_parity_with_fair_esm(cli, checkpoints, tmp_path, key, graph):
    ckpt = checkpoints[key]
    onnx = tmp_path / "model.onnx"
    run_cli("convert", ckpt, "-o", onnx, "--repr-layers", "all", *GRAPHS[graph])
    has_contacts = MODELS[key][5] and graph != "fused"
    if graph == "fused":
        assert json.loads(run_cli("inspect", onnx, "--json").stdout)["attention"] == "fused"
    include = ["mean", "per_tok", "bos", "logits"] + (["contacts"] if has_contacts else [])
    # A small token budget makes several padded batches of several records each.
    run_cli("embed", onnx, DATA / "parity.fasta", tmp_path / "out", "--include", *include, "--toks-per-batch", "400")
    model, alphabet = esm_checkpoints.load_with_fair_esm(ckpt)
    expected = reference_outputs(model, alphabet, read_fasta(DATA / "parity.fasta"), has_contacts)
    worst = _compare(tmp_path / "out", expected)
    assert set(worst) >= {"representations", "mean_representations", "bos_representations", "logits"}
    _record(key if graph == "default" else f"{key} ({graph})", worst)


@pytest.mark.parametrize("key", ["esm2_t3_48_zip", "esm1b_t2_48_zip", "esm1_t2_48_zip"])
def test_padding_does_not_change_outputs(cli, checkpoints, tmp_path, key):
    """One record per batch vs everything in one batch: fair-esm's contract for padding."""
    onnx = tmp_path / "model.onnx"
    run_cli("convert", ckpt := checkpoints[key], "-o", onnx, "--repr-layers", "all")
    include = ["per_tok", "logits"] + (["contacts"] if MODELS[key][5] else [])
    run_cli("embed", onnx, DATA / "parity.fasta", tmp_path / "alone", "--include", *include, "--toks-per-batch", "1")
    run_cli("embed", onnx, DATA / "parity.fasta", tmp_path / "batched", "--include", *include,
            "--toks-per-batch", "100000")
    for f in (tmp_path / "alone").glob("*.npz"):
        a, b = np.load(f), np.load(tmp_path / "batched" / f.name)
        assert a["label"] == b["label"]
        for k in a.files:
            if k != "label":
                np.testing.assert_allclose(a[k], b[k], atol=1e-5, rtol=0, err_msg=f"{f.name}/{k} ({ckpt.name})")


def test_chosen_layers_only(cli, checkpoints, tmp_path):
    onnx = tmp_path / "m.onnx"
    run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", onnx, "--repr-layers", "0", "-2")
    run_cli("embed", onnx, DATA / "parity.fasta", tmp_path / "out", "--include", "mean", "--repr-layers", "-2")
    got = np.load(tmp_path / "out" / "short.npz")
    assert got.files == ["label", "mean_representations/2"] and got["label"].item().decode() == "short"
    model, alphabet = esm_checkpoints.load_with_fair_esm(checkpoints["esm2_t3_48_zip"])
    ref = reference_outputs(model, alphabet, [("short", "MKTAYIAKQR")])["short"]
    np.testing.assert_allclose(got["mean_representations/2"], ref["mean_representations/2"], atol=TOL, rtol=0)


@pytest.mark.parametrize("stem", ["esm2_t4_64_tiny", "esm1b_t3_64_tiny"])
def test_golden_fixtures(cli, tmp_path, stem):
    """fair-esm's outputs shipped in shared/fixtures, when they are there."""
    ckpt = SHARED / "fixtures" / f"{stem}.pt"
    if not ckpt.exists():
        pytest.skip(f"{ckpt} not present (the live fair-esm comparisons above still run)")
    exp = np.load(SHARED / "fixtures" / f"{stem}.expected.npz")
    meta = json.loads(str(exp["meta"]))
    onnx = tmp_path / "m.onnx"
    run_cli("convert", ckpt, "-o", onnx, "--repr-layers", "all")
    run_cli("embed", onnx, SHARED / "fixtures" / "sequences.fasta", tmp_path / "out",
            "--include", "per_tok", "bos", "logits", "contacts")
    worst = {}
    headers = {l.split()[0][1:]: l[1:].strip() for l in open(SHARED / "fixtures" / "sequences.fasta") if l.startswith(">")}
    for label in meta["labels"]:
        got = np.load(tmp_path / "out" / f"{headers[label]}.npz")
        L = len(exp[f"{label}/tokens"]) - 2
        pairs = [("logits", exp[f"{label}/logits"][1:L + 1]), ("logits", exp[f"{label}/batched_logits"][1:L + 1])]
        for l in range(meta["num_layers"] + 1):
            for kind in ("representations", "batched_representations"):
                pairs.append((f"representations/{l}", exp[f"{label}/{kind}/{l}"][1:L + 1]))
            pairs.append((f"bos_representations/{l}", exp[f"{label}/representations/{l}"][0]))
        if meta["has_contacts"]:
            pairs.append(("contacts", exp[f"{label}/contacts"]))
        for key, want in pairs:
            err = float(np.abs(got[key] - want).max())
            worst[key.split("/")[0]] = max(worst.get(key.split("/")[0], 0.0), err)
            assert err <= TOL, f"{stem} {label}/{key}: {err:.3g}"
    _record("golden:" + stem, worst)
