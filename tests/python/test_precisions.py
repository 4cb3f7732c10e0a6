"""Fidelity floors of the reduced-precision graphs, measured against fair-esm itself:
int8 and int4 mean-embedding cosine >= 0.99 and logits argmax agreement >= 95%; fp16 cosine >= 0.999.

Random weights give near-tied logits, whose argmax any rounding flips, so these checkpoints are random
models trained briefly (masked LM on random sequences) to be confident, as released models are."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import esm_checkpoints
from conftest import DATA, ROOT, run_cli
from oracle import read_fasta, reference_outputs

REPORT = ROOT / "build" / "fidelity.json"
FLOORS = {"fp16": (0.999, 0.0), "int8": (0.99, 0.95), "int4": (0.99, 0.95), "int4-b32": (0.99, 0.95)}
# name -> (family, layers, dim, heads)
TRAINED = {"esm2": ("esm2", 3, 96, 4), "esm1b": ("esm1b", 2, 64, 4), "esm1": ("esm1", 2, 64, 4)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("trained")
    out = {}
    for i, (key, (family, layers, dim, heads)) in enumerate(TRAINED.items()):
        path = d / f"{family}_t{layers}_{dim}_trained.pt"
        esm_checkpoints.save_checkpoint(family, layers, dim, heads, path, contacts=True, seed=200 + i, train_steps=150)
        model, alphabet = esm_checkpoints.load_with_fair_esm(path)
        out[key] = (path, model, alphabet)
    return out


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    """parity.fasta plus generated protein-like records of 30 to 300 residues."""
    rng = np.random.default_rng(5)
    path = tmp_path_factory.mktemp("fasta") / "fidelity.fasta"
    lines = [(DATA / "parity.fasta").read_text().rstrip("\n")]
    for i in range(12):
        seq = "".join(rng.choice(list(esm_checkpoints.AMINO_ACIDS), size=int(rng.integers(30, 300))))
        lines.append(f">gen{i}\n{seq}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _fidelity(outdir, expected, layer):
    cos, agree = 1.0, []
    for label, ref in expected.items():
        got = np.load(outdir / f"{label}.npz")
        a, b = got[f"mean_representations/{layer}"], ref[f"mean_representations/{layer}"]
        cos = min(cos, float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
        agree.append(got["logits"].argmax(-1) == ref["logits"].argmax(-1))
    return cos, float(np.concatenate(agree).mean())


def _record(name, values):
    REPORT.parent.mkdir(exist_ok=True)
    data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    data[name] = values
    REPORT.write_text(json.dumps(data, indent=1, sort_keys=True))


# "contacts": the default conversion of a checkpoint with contacts (fused layers, contacts in their side branch).
CASES = [(f, p, "fused") for f in TRAINED for p in FLOORS] + [("esm2", p, "contacts") for p in FLOORS]


@pytest.mark.parametrize("key,precision,attention", CASES)
def test_fidelity_floor(cli, trained, fasta, tmp_path, key, precision, attention):
    path, model, alphabet = trained[key]
    onnx = tmp_path / "m.onnx"
    base, _, block = precision.partition("-b")
    run_cli("convert", path, "-o", onnx, "--precision", base, *(["--block-size", block] if block else []),
            *(["--no-contacts"] if attention == "fused" else []))
    info = json.loads(run_cli("inspect", onnx, "--json").stdout)
    assert (info["precision"], info["attention"], info["contacts"]) == (base, "fused", attention == "contacts")
    if base == "int4":
        assert info["int4_block"] == int(block or 128)
    include = ["mean", "logits"] + (["contacts"] if attention == "contacts" else [])
    run_cli("embed", onnx, fasta, tmp_path / "out", "--include", *include, "--toks-per-batch", "1000")
    expected = reference_outputs(model, alphabet, read_fasta(fasta), has_contacts=attention == "contacts")
    cos, agree = _fidelity(tmp_path / "out", expected, model.num_layers)
    _record(f"{key} {precision} ({attention})", {"min_cosine": cos, "argmax_agreement": agree})
    min_cos, min_agree = FLOORS[precision]
    assert cos >= min_cos, f"{precision}: min cosine of mean embeddings {cos:.5f} < {min_cos}"
    assert agree >= min_agree, f"{precision}: argmax agreement {agree:.3f} < {min_agree}"
    if attention == "contacts":
        worst = max(float(np.abs(np.load(tmp_path / "out" / f"{lab}.npz")["contacts"] - ref["contacts"]).max())
                    for lab, ref in expected.items())
        assert worst < 0.05, f"{precision}: contacts differ by {worst:.3g}"


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8", "int4"])
def test_verify_reports_and_enforces_the_floor(cli, trained, tmp_path, precision):
    path = trained["esm2"][0]
    proc = run_cli("convert", path, "-o", tmp_path / "m.onnx", "--no-contacts", "--precision", precision, "--verify")
    line = proc.stdout.strip().splitlines()[-1]
    m = re.search(r"max abs error ([\d.e+-]+), min cosine of mean embeddings ([\d.]+), logits argmax agreement ([\d.]+)%", line)
    assert m, line
    assert "within the floor" in line
    if precision == "fp32":
        assert float(m.group(1)) <= 1e-4
    assert not (tmp_path / "m.onnx.verify").exists(), "the temporary reference must be removed"


def test_verify_fails_below_the_floor(cli, checkpoints, tmp_path):
    """int4 on untrained random weights: near-tied logits disagree often, and --verify says so with exit 1."""
    proc = run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", tmp_path / "m.onnx", "--no-contacts",
                   "--precision", "int4", "--verify", check=False)
    if "within the floor" in proc.stdout:
        pytest.skip("SKIPPED: this random model happens to pass the int4 floor")
    assert proc.returncode == 1 and "BELOW the floor" in proc.stdout, proc.stdout + proc.stderr
