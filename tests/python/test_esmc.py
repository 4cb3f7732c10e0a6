"""ESM C from every source (transformers' EsmcModel / EsmcFor* folders, the release .pth, TransformerEngine
names in a safetensors file), both released head geometries scaled down, within 1e-4 of transformers'
ESM C with several records per padded batch; chains separated by '|' attend only within themselves; and
every precision within the fidelity floors of ESM-2 on briefly trained models."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch

import hf_checkpoints as hf
from conftest import run_cli
from test_parity import _compare as _compare_outputs, _record
from test_precisions import _fidelity

RECORDS = [("short", "MKTAYIAKQR"), ("masked", "MKTAYIA<mask>QRQISF<mask>KSHFSRQ"), ("one", "G"),
           ("odd", "MXBZUOACDEFGHIKLMNPQRSTVWYXX"), ("two_chains", "MKTAYIAKQR|GSHMSDNGPQ"),
           ("long", "MSDNGPQNQRNAPRITFGGPSDSTGSNQNGERSGARSKQRRPQGLPNNTASWFTALTQHGKEDLKFPRGQGVPINTNSSPDDQIGY")]


def _fasta(path: pathlib.Path, records=RECORDS) -> pathlib.Path:
    path.write_text("".join(f">{label}\n{seq}\n" for label, seq in records))
    return path


def _reference(model, head: str, records=RECORDS) -> dict[str, dict[str, np.ndarray]]:
    """transformers' ESM C on one right-padded batch, chains masked through sequence_id."""
    toks, mask, sid = hf.esmc_batch(records)
    with torch.no_grad():
        out = model(toks, sequence_id=sid, output_hidden_states=True)
    result = {}
    for b, (label, _) in enumerate(records):
        L = int(mask[b].sum()) - 2
        rec = {}
        for layer, h in enumerate(out.hidden_states):
            rec[f"representations/{layer}"] = h[b, 1:L + 1].numpy()
            rec[f"mean_representations/{layer}"] = h[b, 1:L + 1].mean(0).numpy()
            rec[f"bos_representations/{layer}"] = h[b, 0].numpy()
        if head in ("EsmcForMaskedLM", "EsmcForTokenClassification"):
            rec["logits"] = out.logits[b, 1:L + 1].numpy()
        elif head == "EsmcForSequenceClassification":
            rec["logits"] = out.logits[b].numpy()
        result[label] = rec
    return result


def _compare(tmp: pathlib.Path, source: pathlib.Path, expected: dict, name: str = "") -> float:
    onnx = tmp / "model.onnx"
    run_cli("convert", source, "-o", onnx, "--repr-layers", "all")
    first = next(iter(expected.values()))
    includes = ["mean", "per_tok", "bos"] + (["logits"] if "logits" in first else [])
    run_cli("embed", onnx, _fasta(tmp / "in.fasta"), tmp / "out", "--include", *includes, "--toks-per-batch", "4096")
    worst = _compare_outputs(tmp / "out", expected)
    if name:
        _record(name, worst)
    return max(worst.values())


@pytest.mark.parametrize("geometry", list(hf.ESMC_GEOMETRIES))
@pytest.mark.parametrize("head", hf.ESMC_HEADS)
def test_transformers_esmc_every_head(tmp_path, head, geometry):
    layers, dim = hf.ESMC_GEOMETRIES[geometry]
    model = hf.build_esmc(head, layers, dim, seed=len(head) + layers)
    folder = hf.save_esmc(model, tmp_path / "hf", "save_pretrained")
    _compare(tmp_path, folder, _reference(hf.load(folder, head), head), name=f"ESM C {head} ({geometry})")


@pytest.mark.parametrize("layout,name", [("release", "esmc_test_2024_12_v0.pth"), ("te", "model.safetensors")])
@pytest.mark.parametrize("geometry", list(hf.ESMC_GEOMETRIES))
def test_release_and_transformer_engine_files(tmp_path, layout, name, geometry):
    layers, dim = hf.ESMC_GEOMETRIES[geometry]
    model = hf.build_esmc("EsmcForMaskedLM", layers, dim, seed=7)
    path = hf.save_esmc(model, tmp_path / name, layout)
    info = json.loads(run_cli("inspect", path, "--json").stdout)
    assert (info["architecture"], info["layers"], info["embed_dim"], info["attention_heads"]) == ("ESM C", layers, dim, dim // 64)
    _compare(tmp_path, path, _reference(model, "EsmcForMaskedLM"), name=f"ESM C {layout} file ({geometry})")


def test_chains_do_not_see_each_other(tmp_path):
    """The first chain's embeddings are the same whatever the second chain holds."""
    model = hf.build_esmc("EsmcModel", 2, 128, seed=3)
    folder = hf.save_esmc(model, tmp_path / "hf", "save_pretrained")
    run_cli("convert", folder, "-o", tmp_path / "m.onnx", "--repr-layers", "all")
    records = [("a", "MKTAYIAKQR|GSHMSDNGPQ"), ("b", "MKTAYIAKQR|WWWWCCCCYYYYHHHH")]
    run_cli("embed", tmp_path / "m.onnx", _fasta(tmp_path / "c.fasta", records), tmp_path / "out", "--include", "per_tok")
    a, b = (np.load(tmp_path / "out" / f"{x}.npz")["representations/2"] for x in "ab")
    assert np.abs(a[:11] - b[:11]).max() < 1e-5
    assert np.abs(a[11:] - b[11:21]).max() > 1e-2


def test_contacts_are_refused_with_a_reason(tmp_path):
    folder = hf.save_esmc(hf.build_esmc("EsmcForMaskedLM", seed=4), tmp_path / "hf", "save_pretrained")
    p = run_cli("convert", folder, "-o", tmp_path / "m.onnx")
    assert "no contact head" in p.stderr
    p = run_cli("embed", tmp_path / "m.onnx", _fasta(tmp_path / "in.fasta"), tmp_path / "o", "--include", "contacts",
                check=False)
    assert p.returncode == 2 and "contacts" in p.stderr


def test_a_state_dict_of_something_else_is_named(tmp_path):
    torch.save({"encoder.weight": torch.zeros(4, 4)}, tmp_path / "x.pt")
    p = run_cli("convert", tmp_path / "x.pt", "-o", tmp_path / "m.onnx", check=False)
    assert p.returncode == 1 and "neither fair-esm" in p.stderr and "x.pt" in p.stderr


# Fidelity floors of the reduced precisions, as for ESM-2 (test_precisions.py).
FLOORS = {"fp16": (0.999, 0.0), "int8": (0.99, 0.95), "int4": (0.99, 0.95)}


@pytest.fixture(scope="module")
def trained_esmc(tmp_path_factory):
    d = tmp_path_factory.mktemp("esmc_trained")
    model = hf.build_esmc("EsmcForMaskedLM", 2, 128, seed=9)
    model.train()
    hf.train_esmc_briefly(model, 150, seed=9)
    folder = hf.save_esmc(model, d / "hf", "save_pretrained")
    rng = np.random.default_rng(5)
    import esm_checkpoints

    records = [(f"gen{i}", "".join(rng.choice(list(esm_checkpoints.AMINO_ACIDS), size=int(rng.integers(30, 300)))))
               for i in range(12)] + RECORDS
    return folder, model, records


@pytest.mark.parametrize("precision", list(FLOORS))
def test_precision_floors(tmp_path, trained_esmc, precision):
    folder, model, records = trained_esmc
    run_cli("convert", folder, "-o", tmp_path / "m.onnx", "--precision", precision)
    run_cli("embed", tmp_path / "m.onnx", _fasta(tmp_path / "in.fasta", records), tmp_path / "out", "--include", "mean",
            "logits", "--toks-per-batch", "1000")
    expected = _reference(model, "EsmcForMaskedLM", records)
    cos, agree = _fidelity(tmp_path / "out", expected, model.config.num_hidden_layers)
    import test_precisions

    test_precisions._record(f"esmc {precision} (fused)", {"min_cosine": cos, "argmax_agreement": agree})
    min_cos, min_agree = FLOORS[precision]
    assert cos >= min_cos, f"{precision}: min cosine {cos:.5f} < {min_cos}"
    assert agree >= min_agree, f"{precision}: argmax agreement {agree:.3f} < {min_agree}"
