"""The ESMFold reference (fold_oracle) checked against itself and against fair-esm where fair-esm can run."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

import fold_oracle as fo

SEQ = "MKTAYIAKQRQISFVKSHFSRQLEERLGLI"  # L = 30


@pytest.fixture(scope="module")
def model():
    return fo.make_esmfold(0)


def test_every_weight_random(model):
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32, name
        assert bool((p != 0).all()), f"{name} has zeros"
        if p.numel() > 1:
            assert float(p.detach().std()) > 0.01, f"{name} is (nearly) constant"
    assert not model.training
    assert float(model.trunk.recycle_disto.weight[0].detach().abs().min()) > 0
    assert float(model.embedding.weight[0].detach().abs().min()) > 0  # the padding_idx row (alanine's) too


def test_monomer_sane(model):
    (r,) = fo.reference_fold(model, [SEQ])
    L = len(SEQ)
    assert r["positions"].shape == (L, 37, 3) and r["positions"].dtype == np.float32
    assert r["distogram_logits"].shape == (L, L, 64) and r["predicted_aligned_error"].shape == (L, L)
    assert r["lm_logits"].shape == (L, 23) and r["plddt"].shape == (L,)
    m = r["atom_mask"] > 0
    assert np.all(np.isfinite(r["positions"])) and np.abs(r["positions"][m]).max() < 300
    assert np.all(r["positions"][~m] == 0)
    assert 10 < r["plddt_atoms"][m].min() and r["plddt_atoms"][m].max() < 90  # 0-100 scale, not saturated
    np.testing.assert_array_equal(r["plddt"], r["plddt_atoms"][:, 1])
    want = (r["plddt_atoms"] * r["atom_mask"]).sum() / r["atom_mask"].sum()
    assert r["mean_plddt"] == pytest.approx(float(want), rel=1e-5)
    assert 0 < r["ptm"] < 1 and r["max_predicted_aligned_error"] == pytest.approx(31.75)
    assert r["residue_index"].tolist() == list(range(L)) and set(r["chain_index"].tolist()) == {0}
    assert r["cycles"] == 4 and len(r["bin_margins"]) == 3 and 0 < r["bin_margin"] < 3.375
    atoms = [l for l in r["pdb"].splitlines() if l.startswith("ATOM")]
    assert len(atoms) == int(r["atom_mask"].sum()) and r["pdb"].startswith("PARENT N/A\n")
    assert r["pdb"].endswith("END\n")


def test_num_recycles(model):
    r0, = fo.reference_fold(model, [SEQ[:12]], num_recycles=0)
    r2, = fo.reference_fold(model, [SEQ[:12]], num_recycles=2)
    rn, = fo.reference_fold(model, [SEQ[:12]], num_recycles=None)
    r3, = fo.reference_fold(model, [SEQ[:12]], num_recycles=3)
    assert (r0["cycles"], r2["cycles"], rn["cycles"]) == (1, 3, 4)
    assert r0["bin_margin"] == math.inf and r0["bin_margins"] == []
    assert not np.allclose(r0["positions"], r2["positions"])
    np.testing.assert_array_equal(rn["positions"], r3["positions"])  # None = max_recycles passes = 3 recycles


def test_multimer_as_fair_esm(model):
    (r,) = fo.reference_fold(model, ["AAAA:CCCC"])
    n = 4 + 25 + 4
    assert r["aatype"].tolist() == [0] * 4 + [7] * 25 + [4] * 4  # openfold order: A=0, G=7, C=4
    assert r["residue_index"].tolist() == list(range(29)) + [541, 542, 543, 544]
    assert r["chain_index"].tolist() == [0] * 29 + [1] * 4
    assert r["linker_mask"].tolist() == [1] * 4 + [0] * 25 + [1] * 4
    assert r["atom_mask"][4:29].sum() == 0 and r["atom_mask"].sum() == 4 * 5 + 4 * 6
    assert r["positions"].shape == (n, 37, 3)
    lines = r["pdb"].splitlines()
    atoms = [l for l in lines if l.startswith("ATOM")]
    assert {l[21] for l in atoms} == {"A", "B"} and all(l[17:20] != "GLY" for l in atoms)
    assert [int(l[22:26]) for l in atoms if l[21] == "B"][0] == 542
    # fair-esm's to_pdb closes chain A after the linker (chain_index gives the linker to chain A)
    assert lines.count("PARENT N/A") == 2 and [l for l in lines if l.startswith("TER")] == [
        "TER      21      GLY A  29", "TER      46      CYS B 545"]
    w = r["atom_mask"]
    assert r["mean_plddt"] == pytest.approx(float((r["plddt_atoms"] * w).sum() / w.sum()), rel=1e-5)


def test_chunked_equals_unchunked(model):
    """Chunking only reorders float work: equal within 1e-4 unless a recycling bin flipped, which bin_margin shows."""
    keys = ("positions", "plddt_atoms", "predicted_aligned_error", "distogram_logits", "lm_logits")
    seqs = [SEQ + "AEVQ", "MKTAYIAKQR:QISFVKSHFSRQ"]

    def close(x, y):
        return all(np.allclose(x[k], y[k], atol=1e-4, rtol=0) for k in keys) and abs(x["ptm"] - y["ptm"]) < 1e-5

    for x, y in zip(fo.reference_fold(model, seqs, num_recycles=0), fo.reference_fold(model, seqs, num_recycles=0,
                                                                                        chunk_size=4)):
        assert close(x, y)
    for x, y in zip(fo.reference_fold(model, seqs), fo.reference_fold(model, seqs, chunk_size=4)):
        assert close(x, y) or min(x["bin_margin"], y["bin_margin"]) < 1e-3, (x["bin_margins"], y["bin_margins"])
    assert model.trunk.chunk_size is None
    # With these weights the multimer's second recycle has a pair 1e-5 A from an edge: chunking flips its bin.
    x, = fo.reference_fold(model, seqs[1:], num_recycles=1)
    y, = fo.reference_fold(model, seqs[1:], num_recycles=1, chunk_size=4)
    assert close(x, y) and x["bin_margin"] > 1e-3


def test_oracle_leaves_no_trace(model):
    from transformers.models.esm.modeling_esmfold import EsmFoldingTrunk

    fo.reference_fold(model, ["ACDE"])
    assert not any(k == "openfold" or k.startswith("openfold.") for k in sys.modules)
    assert EsmFoldingTrunk.__dict__["distogram"].__func__.__name__ == "distogram"
    assert EsmFoldingTrunk.__dict__["distogram"].__func__.__module__ == "transformers.models.esm.modeling_esmfold"


def test_stem_is_fair_esm(model):
    """transformers' ESM stem representations = fair-esm ESM2's, as fair-esm's ESMFold feeds them (bos/eos added)."""
    import esm
    import hf_checkpoints

    fair = esm.model.esm2.ESM2(num_layers=2, embed_dim=64, attention_heads=4, alphabet="ESM-1b", token_dropout=True)
    hf_checkpoints.randomize(fair, 7)
    m = fo.make_esmfold(1)
    mapped = hf_checkpoints.fair_esm_state_to_hf(fair.state_dict(), "rotary")
    own = m.state_dict()
    missing, _ = m.load_state_dict({k: v for k, v in mapped.items() if k.startswith("esm.") and k in own}, strict=False)
    assert not [k for k in missing if k.startswith("esm.") and "inv_freq" not in k and "position_ids" not in k]
    fair.eval()
    misc = fo._fair_esm_misc()
    aa, mask, _, _, _ = misc.batch_encode_sequences(["MKTAYIAKQRXBZUO"])
    esmaa = m.af2_idx_to_esm_idx(aa, mask)
    d = esm.Alphabet.from_architecture("ESM-1b")
    assert m.af2_to_esm.tolist() == [d.padding_idx] + [d.get_idx(v) for v in misc.residue_constants.restypes_with_x]
    with torch.no_grad():
        got = m.compute_language_model_representations(esmaa)
        toks = torch.cat([torch.full((1, 1), d.cls_idx), esmaa, torch.full((1, 1), d.eos_idx)], dim=1)
        res = fair(toks, repr_layers=range(3))
        want = torch.stack([v for _, v in sorted(res["representations"].items())], dim=2)[:, 1:-1]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("layout", ["save_pretrained", "hub"])
def test_folder_round_trip(model, tmp_path, layout):
    from safetensors import safe_open

    path = fo.save_transformers_folder(model, tmp_path / layout, layout)
    names = {p.name for p in path.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json",
            "special_tokens_map.json"} <= names
    assert (path / "vocab.txt").read_text().split() == list(fo.VOCAB)
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "trunk.structure_module.ipa.head_weights" in keys and "esm_s_combine" in keys
    again = fo.load_transformers_folder(path)
    a, = fo.reference_fold(again, ["MKTAYIAK:QRQI"])
    if layout == "save_pretrained":
        b, = fo.reference_fold(model, ["MKTAYIAK:QRQI"])
        assert a["pdb"] == b["pdb"]
        np.testing.assert_array_equal(a["positions"], b["positions"])


def test_write_fasta(tmp_path):
    p = fo.write_fasta(tmp_path / "x.fasta", [("a", "MKT"), ("b", "AC:DE")])
    assert p.read_text() == ">a\nMKT\n>b\nAC:DE\n"
