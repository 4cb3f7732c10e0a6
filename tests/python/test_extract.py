"""`esm-onnx extract` takes esm-extract's command line verbatim and writes its files: compared with a copy of
fair-esm's scripts/extract.py logic (its argparse and its loop, written here as the script has them) run live
with fair-esm on the same random-weight checkpoint, every --include, within 1e-4."""
from __future__ import annotations

import argparse
import os
import pathlib
import shlex

import pytest
import torch

from conftest import DATA, run_cli


def _extract_py(argv: list[str], esm_module=None) -> None:
    """fair-esm's scripts/extract.py (esm-extract): its parser and run(), on the CPU; `esm_module` is what the
    script's `from esm import ...` reads (fair-esm, or esm_onnx.compat)."""
    if esm_module is None:
        import esm as esm_module
    FastaBatchedDataset, MSATransformer, pretrained = (esm_module.FastaBatchedDataset, esm_module.MSATransformer,
                                                       esm_module.pretrained)

    parser = argparse.ArgumentParser()
    parser.add_argument("model_location", type=str)
    parser.add_argument("fasta_file", type=pathlib.Path)
    parser.add_argument("output_dir", type=pathlib.Path)
    parser.add_argument("--toks_per_batch", type=int, default=4096)
    parser.add_argument("--repr_layers", type=int, default=[-1], nargs="+")
    parser.add_argument("--include", type=str, nargs="+", choices=["mean", "per_tok", "bos", "contacts"], required=True)
    parser.add_argument("--truncation_seq_length", type=int, default=1022)
    parser.add_argument("--nogpu", action="store_true")
    args = parser.parse_args(argv)

    # torch >= 2.6 loads with weights_only=True, which fair-esm's argparse.Namespace in the file needs off (the
    # script itself predates that default); nothing else of the script changes.
    import functools

    original = torch.load
    torch.load = functools.partial(original, weights_only=False)
    try:
        model, alphabet = pretrained.load_model_and_alphabet(args.model_location)
    finally:
        torch.load = original
    model.eval()
    assert not isinstance(model, MSATransformer)
    dataset = FastaBatchedDataset.from_file(args.fasta_file)
    batches = dataset.get_batch_indices(args.toks_per_batch, extra_toks_per_seq=1)
    data_loader = torch.utils.data.DataLoader(
        dataset, collate_fn=alphabet.get_batch_converter(args.truncation_seq_length), batch_sampler=batches)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    return_contacts = "contacts" in args.include
    assert all(-(model.num_layers + 1) <= i <= model.num_layers for i in args.repr_layers)
    repr_layers = [(i + model.num_layers + 1) % (model.num_layers + 1) for i in args.repr_layers]
    with torch.no_grad():
        for labels, strs, toks in data_loader:
            out = model(toks, repr_layers=repr_layers, return_contacts=return_contacts)
            representations = {layer: t.to(device="cpu") for layer, t in out["representations"].items()}
            if return_contacts:
                contacts = out["contacts"].to(device="cpu")
            for i, label in enumerate(labels):
                output_file = args.output_dir / f"{label}.pt"
                output_file.parent.mkdir(parents=True, exist_ok=True)
                result = {"label": label}
                truncate_len = min(args.truncation_seq_length, len(strs[i]))
                if "per_tok" in args.include:
                    result["representations"] = {layer: t[i, 1:truncate_len + 1].clone()
                                                 for layer, t in representations.items()}
                if "mean" in args.include:
                    result["mean_representations"] = {layer: t[i, 1:truncate_len + 1].mean(0).clone()
                                                      for layer, t in representations.items()}
                if "bos" in args.include:
                    result["bos_representations"] = {layer: t[i, 0].clone() for layer, t in representations.items()}
                if return_contacts:
                    result["contacts"] = contacts[i, :truncate_len, :truncate_len].clone()
                torch.save(result, output_file)


def _compare(ours: pathlib.Path, ref: pathlib.Path) -> float:
    names = sorted(p.name for p in ref.glob("*.pt"))
    assert names and sorted(p.name for p in ours.glob("*.pt")) == names
    worst = 0.0
    for name in names:
        a, b = torch.load(ours / name, weights_only=True), torch.load(ref / name, weights_only=True)
        assert sorted(a) == sorted(b), name
        assert a["label"] == b["label"]
        for key, want in b.items():
            if key == "label":
                continue
            got = a[key]
            if isinstance(want, dict):
                assert sorted(got) == sorted(want), (name, key)
                pairs = [(got[k], want[k]) for k in want]
            else:
                pairs = [(got, want)]
            for g, w in pairs:
                assert g.shape == w.shape and g.dtype == w.dtype, (name, key)
                worst = max(worst, float((g - w).abs().max()) if w.numel() else 0.0)
    assert worst <= 1e-4, worst
    return worst


@pytest.fixture(scope="module")
def fasta(tmp_path_factory) -> pathlib.Path:
    """parity.fasta without its records that write special tokens inline ("<mask>"): for those, extract.py slices
    by the string's length in characters, so its rows run past the record into EOS and padding (and depend on the
    batch); esm-onnx writes the record's own tokens (README, `extract`)."""
    records: list[list[str]] = []
    for line in (DATA / "parity.fasta").read_text().splitlines():
        if line.startswith(">"):
            records.append([line])
        else:
            records[-1].append(line)
    kept = [r for r in records if not any("<" in line for line in r[1:])]
    assert 0 < len(kept) < len(records)
    path = tmp_path_factory.mktemp("extract") / "records.fasta"
    path.write_text("".join("\n".join(r) + "\n" for r in kept))
    return path


@pytest.mark.parametrize("key,command", [
    ("esm2_t3_48_zip", "{model} {fasta} {out} --repr_layers 0 2 3 --include mean per_tok"),
    ("esm2_t3_48_zip", "{model} {fasta} {out} --include bos contacts --toks_per_batch 64 --truncation_seq_length 20"),
    ("esm1b_t2_48_zip", "{model} {fasta} {out} --repr_layers -1 0 --include mean per_tok bos contacts --nogpu"),
    ("esm1_t2_48_zip", "{model} {fasta} {out} --include mean contacts"),
])
def test_an_esm_extract_command_line_verbatim(checkpoints, fasta, tmp_path, monkeypatch, key, command):
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    ref_args = shlex.split(command.format(model=checkpoints[key], fasta=fasta, out=tmp_path / "ref"))
    _extract_py(ref_args)
    ours_args = shlex.split(command.format(model=checkpoints[key], fasta=fasta, out=tmp_path / "ours"))
    p = run_cli("extract", *ours_args, env=dict(os.environ), check=False)
    assert p.returncode == 0, p.stderr
    assert "converting it once" in p.stderr
    _compare(tmp_path / "ours", tmp_path / "ref")
    # The checkpoint was converted once into the cache; a second run reuses it.
    cached = list((tmp_path / "cache").glob("*/model.onnx"))
    assert len(cached) == 1
    p = run_cli("extract", *shlex.split(command.format(model=checkpoints[key], fasta=fasta, out=tmp_path / "again")),
                env=dict(os.environ))
    assert "converting" not in p.stderr
    _compare(tmp_path / "again", tmp_path / "ref")


def test_extract_shares_the_drop_ins_cache_and_takes_an_onnx(checkpoints, tmp_path, monkeypatch):
    from esm_onnx.compat import pretrained

    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    model = pretrained.converted_model(checkpoints["esm2_t3_48_zip"])  # the Python drop-in converts it
    p = run_cli("extract", checkpoints["esm2_t3_48_zip"], DATA / "parity.fasta", tmp_path / "a", "--include", "mean",
                env=dict(os.environ))
    assert "converting" not in p.stderr
    run_cli("extract", model, DATA / "parity.fasta", tmp_path / "b", "--include", "mean")
    assert sorted(p.name for p in (tmp_path / "a").glob("*.pt")) == sorted(p.name for p in (tmp_path / "b").glob("*.pt"))


def test_embed_takes_the_underscore_spellings(tmp_path, onnx_models):
    onnx = onnx_models["esm2_t3_48_zip"]
    run_cli("embed", onnx, DATA / "parity.fasta", tmp_path / "a", "--repr_layers", "2", "--toks_per_batch", "64",
            "--truncation_seq_length", "30")
    run_cli("embed", onnx, DATA / "parity.fasta", tmp_path / "b", "--repr-layers", "2", "--toks-per-batch", "64",
            "--truncation-seq-length", "30")
    import numpy as np

    for f in (tmp_path / "b").glob("*.npz"):
        a, b = np.load(tmp_path / "a" / f.name), np.load(f)
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)
    p = run_cli("extract", onnx, DATA / "parity.fasta", tmp_path / "c", check=False)
    assert p.returncode == 2 and "--include" in p.stderr
