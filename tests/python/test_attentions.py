"""The attentions output (fair-esm's need_head_weights=True) from the CLI, the Python API and every writer,
within 1e-4 of fair-esm for every family (ESM-1's bias_k column dropped, padded batches of several records),
and of transformers' ESM C attention weights."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import esm_checkpoints
import esm_onnx
import hf_checkpoints as hf
from conftest import DATA, MODELS, run_cli
from oracle import read_fasta
from test_parity import _record

TOL = 1e-4


def _fair_esm_attentions(model, alphabet, records) -> dict[str, np.ndarray]:
    """label -> [layers, heads, t, t]: each record alone through fair-esm, every token position kept."""
    convert = alphabet.get_batch_converter()
    out = {}
    with torch.no_grad():
        for label, seq in records:
            _, _, toks = convert([(label, seq)])
            out[label] = model(toks, need_head_weights=True)["attentions"][0].numpy()
    return out


@pytest.fixture(scope="module")
def attention_models(checkpoints, tmp_path_factory):
    d = tmp_path_factory.mktemp("attentions")
    out = {}
    for key, ckpt in checkpoints.items():
        out[key] = d / f"{key}.onnx"
        run_cli("convert", ckpt, "-o", out[key], "--attentions", "--repr-layers", "all")
    return out


@pytest.mark.parametrize("key", list(MODELS))
def test_embed_attentions_match_fair_esm(attention_models, checkpoints, tmp_path, key):
    onnx = attention_models[key]
    info = json.loads(run_cli("inspect", onnx, "--json").stdout)
    assert info["attentions"] is True and info["attention"] == "explicit"
    # A small token budget: several padded batches of several records each.
    run_cli("embed", onnx, DATA / "parity.fasta", tmp_path / "out", "--include", "attentions", "mean",
            "--toks-per-batch", "400")
    model, alphabet = esm_checkpoints.load_with_fair_esm(checkpoints[key])
    records = read_fasta(DATA / "parity.fasta")
    want = _fair_esm_attentions(model, alphabet, records)
    worst = 0.0
    for label, ref in want.items():
        got = np.load(tmp_path / "out" / f"{label}.npz")["attentions"]
        assert got.shape == ref.shape, f"{label}: {got.shape} != {ref.shape}"
        worst = max(worst, float(np.abs(got - ref).max()))
    assert worst <= TOL, f"{key}: max abs error {worst:.3g}"
    _record(f"{key} (attentions)", {"attentions": worst})


@pytest.mark.parametrize("key", ["esm2_t3_48_zip", "esm1_t2_48_zip", "esm1b_t2_48_zip"])
def test_forward_on_a_padded_batch_is_fair_esms_layout(attention_models, checkpoints, key):
    """Model.forward(tokens, attentions=True) on one padded batch: fair-esm's [B, layers, H, T, T] with
    padding rows and columns zeroed, as need_head_weights returns it."""
    model, alphabet = esm_checkpoints.load_with_fair_esm(checkpoints[key])
    records = read_fasta(DATA / "parity.fasta")[:5]
    _, _, toks = alphabet.get_batch_converter()(records)
    assert (toks == alphabet.padding_idx).any()
    with torch.no_grad():
        ref = model(toks, need_head_weights=True)["attentions"].numpy()
    got = esm_onnx.Model(attention_models[key]).forward(toks.numpy(), logits=False, attentions=True)["attentions"]
    assert got.shape == ref.shape
    assert float(np.abs(got - ref).max()) <= TOL


def test_python_embed_and_every_writer(attention_models, checkpoints, tmp_path):
    key = "esm2_t3_48_zip"
    model = esm_onnx.Model(attention_models[key])
    assert model.info.has_attentions and "attentions" in model.info.outputs
    records = read_fasta(DATA / "parity.fasta")[:4]
    fair, alphabet = esm_checkpoints.load_with_fair_esm(checkpoints[key])
    want = _fair_esm_attentions(fair, alphabet, records)
    for e in model.embed(records, include=("attentions",)):
        assert e.attentions.shape == want[e.label].shape
        assert float(np.abs(e.attentions - want[e.label]).max()) <= TOL
        assert e.mean == {} and e.contacts is None  # only what was asked for
    fasta = tmp_path / "four.fasta"
    fasta.write_text("".join(f">{label}\n{seq}\n" for label, seq in records))
    run_cli("embed", attention_models[key], fasta, tmp_path / "pt", "--include", "attentions", "--format", "pt")
    run_cli("embed", attention_models[key], fasta, tmp_path / "h5", "--include", "attentions", "--format", "h5")
    import h5py

    with h5py.File(tmp_path / "h5" / "embeddings.h5") as h5:
        for label, ref in want.items():
            pt = torch.load(tmp_path / "pt" / f"{label}.pt", weights_only=True)
            assert float(np.abs(pt["attentions"].numpy() - ref).max()) <= TOL
            assert float(np.abs(h5[label]["attentions"][()] - ref).max()) <= TOL


def test_models_without_the_output_say_how_to_get_it(onnx_models, tmp_path):
    p = run_cli("embed", onnx_models["esm2_t3_48_zip"], DATA / "parity.fasta", tmp_path / "out", "--include",
                "attentions", check=False)
    assert p.returncode == 2
    assert "has no attentions output" in p.stderr and "--attentions" in p.stderr
    assert not (tmp_path / "out").exists()


def test_attentions_keep_fused_ops_out(checkpoints, tmp_path):
    """Fused attention computes no maps: a graph with attentions uses the explicit path even with
    --no-contacts, and one without them stays fused."""
    ckpt = checkpoints["esm2_t3_48_zip"]
    run_cli("convert", ckpt, "-o", tmp_path / "a.onnx", "--attentions", "--no-contacts")
    run_cli("convert", ckpt, "-o", tmp_path / "f.onnx", "--no-contacts")
    assert json.loads(run_cli("inspect", tmp_path / "a.onnx", "--json").stdout)["attention"] == "explicit"
    assert json.loads(run_cli("inspect", tmp_path / "f.onnx", "--json").stdout)["attention"] == "fused"


@pytest.mark.parametrize("geometry", list(hf.ESMC_GEOMETRIES))
def test_esmc_attentions_match_transformers(tmp_path, geometry):
    """transformers' output_attentions (eager attention) on one right-padded batch, each record's own token
    positions compared."""
    layers, dim = hf.ESMC_GEOMETRIES[geometry]
    model = hf.build_esmc("EsmcForMaskedLM", layers, dim, seed=11)
    folder = hf.save_esmc(model, tmp_path / "hf", "save_pretrained")
    ref_model = hf.load(folder, "EsmcForMaskedLM")
    records = [("short", "MKTAYIAKQR"), ("one", "G"), ("masked", "MKTAYIA<mask>QRQISF<mask>KSHFSRQ"),
               ("long", "MSDNGPQNQRNAPRITFGGPSDSTGSNQNGERSGARSKQRRPQGLPNNTASWFTALTQHGKEDLKFPRGQGVPINTNSSPDDQIGY")]
    toks, mask, _ = hf.esmc_batch(records)
    with torch.no_grad():
        out = ref_model(toks, attention_mask=mask, output_attentions=True)
    ref = torch.stack(out.attentions, 1).numpy()  # [B, layers, H, T, T]
    onnx = tmp_path / "esmc.onnx"
    run_cli("convert", folder, "-o", onnx, "--attentions")
    got = esm_onnx.Model(onnx).embed(records, include=("attentions",), toks_per_batch=4096)
    worst = 0.0
    for b, e in enumerate(got):
        t = int(mask[b].sum())
        want = ref[b, :, :, :t, :t]
        assert e.attentions.shape == want.shape
        worst = max(worst, float(np.abs(e.attentions - want).max()))
    assert worst <= TOL, worst
    _record(f"ESM C EsmcForMaskedLM ({geometry}) (attentions)", {"attentions": worst})
