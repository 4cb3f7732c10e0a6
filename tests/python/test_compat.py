"""esm_onnx.compat runs fair-esm's README examples unchanged apart from the import, within 1e-4 of fair-esm."""
from __future__ import annotations

import functools
import os
import pathlib

import numpy as np
import pytest
import torch

import esm
from esm_onnx import compat

TOL = 1e-4

DATA = [
    ("protein1", "MKTVRQERLKSIVRILERSKEPVSGAQLAEELSVSRQVIVQDIAYLRSLGYNIVATPRGYVLAGG"),
    ("protein2", "KALTARQQEVFDLIRDHISQTGMPPTRAEIAQRLGFRSPNAAEEHLKALARKGVIEIVSGASRGIRLLQEE"),
    ("protein2 with mask", "KALTARQQEVFDLIRD<mask>ISQTGMPPTRAEIAQRLGFRSPNAAEEHLKALARKGVIEIVSGASRGIRLLQEE"),
    ("protein3", "K A <mask> I S Q"),
]


def readme_extract(esm_module, checkpoint, last_layer):
    """fair-esm's README 'Quick start' example, with the loader pointed at a local file."""
    model, alphabet = esm_module.pretrained.load_model_and_alphabet_local(str(checkpoint))
    batch_converter = alphabet.get_batch_converter()
    model.eval()  # disables dropout for deterministic results
    batch_labels, batch_strs, batch_tokens = batch_converter(DATA)
    batch_lens = (batch_tokens != alphabet.padding_idx).sum(1)
    with torch.no_grad():
        results = model(batch_tokens, repr_layers=[last_layer], return_contacts=True)
    token_representations = results["representations"][last_layer]
    sequence_representations = []
    for i, tokens_len in enumerate(batch_lens):
        sequence_representations.append(token_representations[i, 1: tokens_len - 1].mean(0))
    contacts = []
    for (_, seq), tokens_len, attention_contacts in zip(DATA, batch_lens, results["contacts"]):
        contacts.append(attention_contacts[: tokens_len, : tokens_len])
    return {
        "tokens": np.asarray(batch_tokens),
        "sequence_representations": [np.asarray(s) for s in sequence_representations],
        "contacts": [np.asarray(c) for c in contacts],
        "logits": np.asarray(results["logits"]),
        "lens": [int(x) for x in batch_lens],
    }


@pytest.mark.parametrize("key", ["esm2_t3_48_zip", "esm1b_t2_32_legacy", "esm1_t2_48_zip"])
def test_readme_example_matches_fair_esm(checkpoints, key, tmp_path, monkeypatch):
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    ckpt = checkpoints[key]
    layers = int(key.split("_t")[1].split("_")[0])
    with monkeypatch.context() as m:
        # fair-esm's loader on torch >= 2.6 needs weights_only=False for its argparse.Namespace.
        m.setattr(torch, "load", functools.partial(torch.load, weights_only=False))
        want = readme_extract(esm, ckpt, layers)
    got = readme_extract(compat, ckpt, layers)
    np.testing.assert_array_equal(got["tokens"], want["tokens"])
    assert got["lens"] == want["lens"]
    for g, w in zip(got["sequence_representations"], want["sequence_representations"]):
        np.testing.assert_allclose(g, w, atol=TOL, rtol=0)
    for g, w in zip(got["contacts"], want["contacts"]):
        np.testing.assert_allclose(g, w, atol=TOL, rtol=0)
    # Logits at every real (non-padding) position.
    for i, n in enumerate(want["lens"]):
        np.testing.assert_allclose(got["logits"][i, :n], want["logits"][i, :n], atol=TOL, rtol=0)


def test_torch_in_torch_out_numpy_in_numpy_out(checkpoints, tmp_path, monkeypatch):
    """torch is importable here, so the batch converter gives torch tensors, as fair-esm's does; numpy tokens
    still give numpy results (a caller without torch gets numpy throughout)."""
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    model, alphabet = compat.pretrained.load_model_and_alphabet_local(checkpoints["esm2_t2_32_legacy"])
    _, _, tokens_t = alphabet.get_batch_converter()(DATA[:2])
    assert isinstance(tokens_t, torch.Tensor) and tokens_t.dtype == torch.int64
    tokens = tokens_t.numpy()
    res = model(tokens, repr_layers=[2, 0])
    assert sorted(res["representations"]) == [0, 2] and isinstance(res["logits"], np.ndarray)
    assert "contacts" not in res
    res_t = model(torch.from_numpy(tokens), repr_layers=[2])
    assert isinstance(res_t["logits"], torch.Tensor) and isinstance(res_t["representations"][2], torch.Tensor)
    np.testing.assert_array_equal(res_t["logits"].numpy(), res["logits"])
    # fair-esm's forward ignores layers the model does not have (negatives too); so does the drop-in
    assert model(tokens, repr_layers=[5, -1])["representations"] == {}


def test_without_torch_everything_is_numpy(checkpoints, tmp_path):
    """A process without torch: the drop-in imports, tokens and results are numpy arrays."""
    import subprocess
    import sys

    from conftest import PYPKG

    code = f"""
import sys
sys.modules["torch"] = None  # importing torch fails, as where it is not installed
sys.path.insert(0, {str(PYPKG)!r})
import numpy as np
from esm_onnx import compat
model, alphabet = compat.pretrained.load_model_and_alphabet_local({str(checkpoints["esm2_t2_32_legacy"])!r})
_, _, t = alphabet.get_batch_converter()([("a", "MKTAYIAKQR")])
r = model(t, repr_layers=[-1])
assert isinstance(t, np.ndarray) and isinstance(r["logits"], np.ndarray), (type(t), type(r["logits"]))
print("numpy")
"""
    env = dict(os.environ, ESM_ONNX_CACHE=str(tmp_path / "cache"))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and p.stdout.strip() == "numpy", p.stderr


def test_checkpoint_converted_once_into_the_cache(checkpoints, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("ESM_ONNX_CACHE", str(cache))
    ckpt = checkpoints["esm1b_t2_48_zip"]
    compat.pretrained.load_model_and_alphabet_local(ckpt)
    entries = list(cache.iterdir())
    assert len(entries) == 1
    import hashlib

    assert entries[0].name.startswith(hashlib.sha256(ckpt.read_bytes()).hexdigest())
    model_file = entries[0] / "model.onnx"
    stamp = model_file.stat().st_mtime_ns
    model, _ = compat.pretrained.load_model_and_alphabet_local(ckpt)
    assert model_file.stat().st_mtime_ns == stamp and list(cache.iterdir()) == entries
    assert model.onnx_model.info.repr_layers == [0, 1, 2] and model.onnx_model.info.has_contacts
    # An .onnx is loaded as it is.
    direct, _ = compat.pretrained.load_model_and_alphabet_local(model_file)
    assert direct.num_layers == 2
    with pytest.raises(ValueError, match="no such file"):
        compat.pretrained.load_model_and_alphabet("no_such_model.pt")


def test_default_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("ESM_ONNX_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compat.pretrained.cache_dir() == pathlib.Path(tmp_path) / "esm-onnx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert compat.pretrained.cache_dir() == pathlib.Path(os.path.expanduser("~")) / ".cache" / "esm-onnx"
