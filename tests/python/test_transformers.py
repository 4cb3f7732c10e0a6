"""transformers ESM folders (EsmForMaskedLM, EsmModel, EsmForSequenceClassification, EsmForTokenClassification;
ESM-2 and ESM-1b configurations; every on-disk layout) converted and embedded, every output within 1e-4 of
transformers itself, several records per padded batch. And the same weights as fair-esm's give fair-esm's numbers."""
from __future__ import annotations

import json
import pathlib
import zlib

import numpy as np
import pytest
import torch

import esm
import esm_checkpoints
import hf_checkpoints as hf
from conftest import run_cli
from test_parity import _compare as _compare_outputs, _record
from oracle import reference_outputs

RECORDS = [("short", "MKTAYIAKQR"), ("masked", "MKTAYIA<mask>QRQISF<mask>KSHFSRQ"), ("one", "G"),
           ("odd", "MXBZUOACDEFGHIKLMNPQRSTVWYXX"),
           ("long", "MSDNGPQNQRNAPRITFGGPSDSTGSNQNGERSGARSKQRRPQGLPNNTASWFTALTQHGKEDLKFPRGQGVPINTNSSPDDQIGY")]


def _fasta(path: pathlib.Path) -> pathlib.Path:
    path.write_text("".join(f">{label}\n{seq}\n" for label, seq in RECORDS))
    return path


def _transformers_outputs(model, head: str) -> dict[str, dict[str, np.ndarray]]:
    """transformers on one right-padded batch of every record, with its attention mask."""
    alphabet = esm.Alphabet.from_architecture("ESM-1b")
    _, _, toks = alphabet.get_batch_converter()(RECORDS)
    mask = (toks != alphabet.padding_idx).long()
    with torch.no_grad():
        out = model(toks, attention_mask=mask, output_hidden_states=True)
        # Every head's folder carries the base model's contact regression.
        contacts = (model if head == "EsmModel" else model.esm).predict_contacts(toks, mask)
    hidden = out.hidden_states
    n = len(hidden) - 1
    result = {}
    for b, (label, _) in enumerate(RECORDS):
        L = int(mask[b].sum()) - 2
        rec = {}
        for layer in range(n + 1):
            r = hidden[layer][b]
            rec[f"representations/{layer}"] = r[1:L + 1].numpy()
            rec[f"mean_representations/{layer}"] = r[1:L + 1].mean(0).numpy()
            rec[f"bos_representations/{layer}"] = r[0].numpy()
        if head == "EsmForMaskedLM" or head == "EsmForTokenClassification":
            rec["logits"] = out.logits[b, 1:L + 1].numpy()
        elif head == "EsmForSequenceClassification":
            rec["logits"] = out.logits[b].numpy()
        if contacts is not None:
            rec["contacts"] = contacts[b, :L, :L].numpy()
        result[label] = rec
    return result


def _embed_and_compare(tmp: pathlib.Path, folder: pathlib.Path, expected: dict, precision_args=(), name: str = "") -> float:
    onnx = tmp / "model.onnx"
    run_cli("convert", folder, "-o", onnx, "--repr-layers", "all", *precision_args)
    includes = ["mean", "per_tok", "bos"]
    first = next(iter(expected.values()))
    includes += [k for k in ("logits", "contacts") if k in first]
    out = tmp / "out"
    run_cli("embed", onnx, _fasta(tmp / "in.fasta"), out, "--include", *includes, "--toks-per-batch", "4096")
    worst = _compare_outputs(out, expected)
    if name:
        _record(name, worst)
    return max(worst.values())


@pytest.mark.parametrize("positions", ["rotary", "absolute"])
@pytest.mark.parametrize("head", hf.HEADS)
def test_every_head_matches_transformers(tmp_path, positions, head):
    model = hf.build(head, positions, layers=2, dim=32, heads=4, seed=zlib.crc32(f"{positions} {head}".encode()) % 1000,
                     emb_layer_norm_before=positions == "absolute")
    folder = hf.save(model, tmp_path / "hf")
    expected = _transformers_outputs(hf.load(folder, head), head)
    _embed_and_compare(tmp_path, folder, expected, name=f"transformers {head} ({positions})")


@pytest.mark.parametrize("layout", ["hub", "bin", "sharded"])
def test_every_file_layout_reads_the_same(tmp_path, layout):
    model = hf.build("EsmForMaskedLM", "rotary", layers=3, dim=32, heads=4, seed=11)
    folder = hf.save(model, tmp_path / "hf", layout)
    expected = _transformers_outputs(hf.load(folder, "EsmForMaskedLM"), "EsmForMaskedLM")
    _embed_and_compare(tmp_path, folder, expected)


def test_classifier_labels_travel_with_the_model(tmp_path):
    folder = hf.save(hf.build("EsmForSequenceClassification", seed=3), tmp_path / "hf")
    onnx = tmp_path / "m.onnx"
    run_cli("convert", folder, "-o", onnx)
    info = json.loads(run_cli("inspect", onnx, "--json").stdout)
    assert info["head"] == "sequence-classification"
    assert info["labels"] == hf.LABELS["EsmForSequenceClassification"]
    folder_info = json.loads(run_cli("inspect", folder, "--json").stdout)
    assert folder_info["kind"] == "transformers checkpoint" and folder_info["labels"] == info["labels"]
    # A bare encoder has no logits to ask for.
    base = hf.save(hf.build("EsmModel", seed=4), tmp_path / "base")
    run_cli("convert", base, "-o", tmp_path / "base.onnx")
    p = run_cli("embed", tmp_path / "base.onnx", _fasta(tmp_path / "in.fasta"), tmp_path / "o", "--include", "logits",
                check=False)
    assert p.returncode == 2 and "logits" in p.stderr


def test_unexpected_and_missing_tensors_are_named(tmp_path):
    from safetensors.torch import load_file, save_file

    folder = hf.save(hf.build("EsmForMaskedLM", seed=5), tmp_path / "hf")
    state = load_file(str(folder / "model.safetensors"))
    state["esm.encoder.layer.0.attention.self.mystery.weight"] = torch.zeros(4)
    del state["esm.encoder.layer.1.intermediate.dense.bias"]
    save_file(state, str(folder / "model.safetensors"))
    p = run_cli("convert", folder, "-o", tmp_path / "m.onnx", check=False)
    assert p.returncode == 1, p.stderr
    assert "unexpected tensor esm.encoder.layer.0.attention.self.mystery.weight" in p.stderr
    assert "missing tensor encoder.layer.1.intermediate.dense.bias" in p.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_config_errors_name_the_field(tmp_path):
    folder = hf.save(hf.build("EsmForMaskedLM", seed=6), tmp_path / "hf")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["position_embedding_type"] = "relative_key"
    (folder / "config.json").write_text(json.dumps(cfg))
    p = run_cli("convert", folder, "-o", tmp_path / "m.onnx", check=False)
    assert p.returncode == 1 and "relative_key" in p.stderr and "config.json" in p.stderr
    (folder / "config.json").unlink()
    p = run_cli("convert", folder, "-o", tmp_path / "m.onnx", check=False)
    assert p.returncode == 1 and "config.json" in p.stderr


@pytest.mark.parametrize("family,positions", [("esm2", "rotary"), ("esm1b", "absolute")])
def test_masked_lm_from_fair_esm_weights_gives_fair_esm_numbers(tmp_path, family, positions):
    """fair-esm's weights moved under transformers' names (its convert_esm.py mapping): the converted
    folder gives fair-esm's own outputs."""
    model, _ = esm_checkpoints.build_model(family, 2, 32, 4, seed=21)
    alphabet = esm.Alphabet.from_architecture("ESM-1b")
    cfg = hf.config(positions, 2, 32, 4, "EsmForMaskedLM", emb_layer_norm_before=family == "esm1b",
                    token_dropout=True)
    folder = tmp_path / "hf"
    folder.mkdir()
    cfg.save_pretrained(folder)
    from safetensors.torch import save_file

    save_file(hf.fair_esm_state_to_hf(model.state_dict(), positions), str(folder / "model.safetensors"))
    expected = reference_outputs(model, alphabet, RECORDS, has_contacts=True)
    _embed_and_compare(tmp_path, folder, expected, name=f"transformers EsmForMaskedLM from fair-esm {family} weights vs fair-esm")
