"""ESMFold: `esm-onnx convert` of a transformers EsmForProteinFolding folder and `esm-onnx fold`, against
transformers run live on the same random weights, folding each record alone as fair-esm's ESMFold.infer does
(fold_oracle). Without recycling the numbers are those of two exact implementations; with recycling a CB distance
within ~1e-4 Angstrom of a recycling-bin edge may land in the neighbouring bin in one of them (the reference's
bin_margin says when that is possible), which moves the structure by up to a tenth of an Angstrom."""
from __future__ import annotations

import csv
import math
import os
import pathlib

import numpy as np
import pytest

import fold_oracle as fo
from conftest import run_cli

MONOMER = "MKTAYIAKQRQISFVKSHFSRQLEERLGLI"  # L = 30
RECORDS = {
    "monomer": MONOMER,
    "dimer": "MKTAYIAKQRQISF:VKSHFSRQLEERLG",  # two chains, joined by 25 G with a residue-index gap of 512
    "unknown": "MKTXAYBIAKZQRQ",  # X, and letters outside the 20 folded as X
    "short": "MKV",
}
# A flip is possible when the reference's CB distances came this close (Angstrom) to a bin edge.
FLIP_MARGIN = 1e-3


@pytest.fixture(scope="module")
def esmfold(tmp_path_factory):
    d = tmp_path_factory.mktemp("esmfold")
    folder = fo.save_transformers_folder(fo.make_esmfold(7), d / "esmfold_hf")
    onnx = d / "esmfold.onnx"
    run_cli("convert", folder, "-o", onnx)
    return fo.load_transformers_folder(folder), onnx


def fold_cli(onnx, records, out, *args):
    fasta = fo.write_fasta(out.parent / f"{out.name}.fasta", records)
    proc = run_cli("fold", onnx, fasta, out, *args, check=False)
    assert proc.returncode in (0, 3), proc.stderr
    return proc


def load(out: pathlib.Path, label: str) -> dict:
    with np.load(out / f"{label}.npz") as z:
        return {k: z[k] for k in z.files}


def without_linker(ref: dict) -> dict:
    keep = ref["linker_mask"] > 0
    r = dict(ref)
    for k in ("positions", "atom_mask", "plddt", "plddt_atoms", "residue_index", "chain_index", "aatype"):
        r[k] = ref[k][keep]
    for k in ("predicted_aligned_error", "distogram_logits"):
        r[k] = ref[k][keep][:, keep]
    return r


def pdb_close(ours: str, ref: str, coord_tol: float, b_tol: float) -> None:
    """Identical PDB text but for the last digits of coordinates and B-factors (written to 3 and 2 decimals)."""
    a, b = ours.splitlines(), ref.splitlines()
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if not x.startswith("ATOM"):
            assert x == y
            continue
        assert x[:30] == y[:30] and x[54:60] == y[54:60] and x[66:] == y[66:], (x, y)
        for lo, hi in ((30, 38), (38, 46), (46, 54)):
            assert abs(float(x[lo:hi]) - float(y[lo:hi])) <= coord_tol, (x, y)
        assert abs(float(x[60:66]) - float(y[60:66])) <= b_tol, (x, y)


def compare(ours: dict, ref: dict, pos_tol: float, pos_rms: float, plddt_tol: float, ptm_tol: float, pae_tol: float):
    ref = without_linker(ref)
    m = ref["atom_mask"] > 0
    np.testing.assert_array_equal(ours["atom_mask"], ref["atom_mask"])
    np.testing.assert_array_equal(ours["residue_index"], ref["residue_index"])
    np.testing.assert_array_equal(ours["chain_index"], ref["chain_index"])
    np.testing.assert_array_equal(ours["aatype"], ref["aatype"])
    d = np.abs(ours["positions"] - ref["positions"])
    assert d.max() <= pos_tol, d.max()
    assert math.sqrt(float((d[m] ** 2).mean())) <= pos_rms
    assert np.all(ours["positions"][~m] == 0)
    assert np.abs(ours["plddt"] - ref["plddt"]).max() <= plddt_tol
    assert abs(float(ours["mean_plddt"]) - ref["mean_plddt"]) <= plddt_tol
    assert abs(float(ours["ptm"]) - ref["ptm"]) <= ptm_tol
    assert np.abs(ours["predicted_aligned_error"] - ref["predicted_aligned_error"]).max() <= pae_tol


def test_no_recycling_equals_transformers(esmfold, tmp_path):
    ref_model, onnx = esmfold
    out = tmp_path / "out"
    proc = fold_cli(onnx, RECORDS, out, "--num-recycles", "0")
    assert proc.returncode == 0, proc.stderr
    refs = fo.reference_fold(ref_model, list(RECORDS.values()), num_recycles=0)
    for (label, seq), ref in zip(RECORDS.items(), refs):
        ours = load(out, label)
        compare(ours, ref, pos_tol=5e-3, pos_rms=1e-3, plddt_tol=5e-3, ptm_tol=5e-5, pae_tol=5e-3)
        assert np.abs(ours["distogram_logits"] - without_linker(ref)["distogram_logits"]).max() < 1e-3
        assert str(ours["sequence"].item().decode()) == seq and str(ours["label"].item().decode()) == label
        pdb_close((out / f"{label}.pdb").read_text(), ref["pdb"], coord_tol=0.0015, b_tol=0.015)
    # The dimer: two chains in the PDB, no linker residue written.
    dimer = (out / "dimer.pdb").read_text()
    chains = {line[21] for line in dimer.splitlines() if line.startswith("ATOM")}
    assert chains == {"A", "B"}
    assert load(out, "dimer")["positions"].shape[0] == len(RECORDS["dimer"]) - 1
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert {r["label"] for r in rows} == set(RECORDS)
    for r, ref in zip(sorted(rows, key=lambda r: list(RECORDS).index(r["label"])), refs):
        assert abs(float(r["mean_plddt"]) - ref["mean_plddt"]) < 1e-3 and abs(float(r["ptm"]) - ref["ptm"]) < 1e-4
        assert int(r["length"]) == len(ref["sequence"].replace(":", ""))


@pytest.mark.parametrize("recycles", [1, 2, 3, 4])
def test_recycles_equal_transformers(esmfold, tmp_path, recycles):
    """Every recycle count. A flip is detected from the reference's own CB distances: bin_margins[c] is how close
    (Angstrom) the pairs came to a bin edge in the bins cycle c + 1 fed to the next. Where every margin is clear of
    the ~1e-5 Angstrom the two implementations differ by, no bin can flip and the match is tight. Where one is not,
    the structure is compared tightly at the recycle count just before that cycle (so every cycle up to the flip is
    exact), and the flipped run within what one flipped bin does to these random weights (their recycling embedding
    is several times a trained one's: one bin moved positions by 0.29 Angstrom here, against ~0.05 for the release)."""
    ref_model, onnx = esmfold
    records = {"monomer": MONOMER, "dimer": RECORDS["dimer"]}
    out = tmp_path / "out"
    fold_cli(onnx, records, out, "--num-recycles", str(recycles))
    refs = fo.reference_fold(ref_model, list(records.values()), num_recycles=recycles)
    tight = dict(pos_tol=5e-3, pos_rms=1e-3, plddt_tol=5e-3, ptm_tol=5e-5, pae_tol=5e-3)
    for (label, seq), ref in zip(records.items(), refs):
        assert ref["cycles"] == recycles + 1
        margins = ref["bin_margins"]
        if min(margins) > FLIP_MARGIN:
            compare(load(out, label), ref, **tight)
            continue
        first = next(c for c, m in enumerate(margins) if m <= FLIP_MARGIN)
        before = tmp_path / f"before_{label}"
        fold_cli(onnx, {label: seq}, before, "--num-recycles", str(first))
        (ref_before,) = fo.reference_fold(ref_model, [seq], num_recycles=first)
        compare(load(before, label), ref_before, **tight)
        compare(load(out, label), ref, pos_tol=1.0, pos_rms=0.3, plddt_tol=1.0, ptm_tol=0.01, pae_tol=1.0)


def test_default_recycles_are_the_models(esmfold, tmp_path):
    """No --num-recycles: the model's max_recycles passes (4 in all, as released and as fair-esm runs it)."""
    ref_model, onnx = esmfold
    out = tmp_path / "out"
    fold_cli(onnx, {"monomer": MONOMER}, out)
    (ref,) = fo.reference_fold(ref_model, [MONOMER])
    assert ref["cycles"] == 4 and min(ref["bin_margins"]) > FLIP_MARGIN
    compare(load(out, "monomer"), ref, pos_tol=5e-3, pos_rms=1e-3, plddt_tol=5e-3, ptm_tol=5e-5, pae_tol=5e-3)


def test_chunked_and_batched_equal_alone(esmfold, tmp_path):
    """--chunk-size (rows of triangle attention at a time) and batches of several lengths change no number beyond
    rounding: compared at --num-recycles 0, so that no recycling bin can flip between the runs."""
    _, onnx = esmfold
    alone, chunked, batched = tmp_path / "alone", tmp_path / "chunked", tmp_path / "batched"
    fold_cli(onnx, RECORDS, alone, "--num-recycles", "0", "--max-tokens-per-batch", "1")
    fold_cli(onnx, RECORDS, chunked, "--num-recycles", "0", "--max-tokens-per-batch", "1", "--chunk-size", "3")
    fold_cli(onnx, RECORDS, batched, "--num-recycles", "0", "--max-tokens-per-batch", "100000")
    for label in RECORDS:
        a = load(alone, label)
        for other in (chunked, batched):
            b = load(other, label)
            # The trunk's states agree to ~1e-6 whatever the batch; the structure module's eight rounds of point
            # attention (random weights) grow that to ~5e-4 Angstrom on 60-Angstrom coordinates: rounding, no leak.
            for k, tol in (("positions", 2e-3), ("plddt", 2e-3), ("predicted_aligned_error", 2e-3), ("distogram_logits", 1e-4)):
                np.testing.assert_allclose(b[k], a[k], atol=tol, err_msg=f"{other.name} {label} {k}")
            assert abs(float(b["ptm"]) - float(a["ptm"])) < 1e-5


def test_bad_records_skipped_and_resume(esmfold, tmp_path):
    _, onnx = esmfold
    out = tmp_path / "out"
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">good\nMKTAYIAK\n>lower\nmktay\n>digit\nMK1\n>empty\n\n>chains\n:MKT\n>good\nMKV\n>also\nMKVL\n")
    proc = run_cli("fold", onnx, fasta, out, "--num-recycles", "0", check=False)
    assert proc.returncode == 3
    for label, why in (("lower", "lower-case"), ("digit", "'1'"), ("empty", "empty"), ("chains", "empty chain"),
                       ("good", "duplicate label")):
        assert any(label in line and why in line for line in proc.stderr.splitlines()), (label, proc.stderr)
    assert sorted(p.name for p in out.glob("*.pdb")) == ["also.pdb", "good.pdb"]
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    again = run_cli("fold", onnx, fasta, out, "--num-recycles", "0", "--json", check=False)
    assert again.returncode == 3
    import json
    summary = json.loads(again.stdout)
    assert summary["folded"] == 0 and summary["already_present"] == 2
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file() and p.suffix != ".csv"} == {
        k: v for k, v in before.items() if not k.endswith(".csv")}
    strict = run_cli("fold", onnx, fasta, tmp_path / "strict", "--strict", check=False)
    assert strict.returncode == 1 and "lower-case" in strict.stderr
    # a record changed under the same label (its structure would be another protein's) is folded again
    fasta.write_text(fasta.read_text().replace(">also\nMKVL\n", ">also\nMKVA\n"))
    third = run_cli("fold", onnx, fasta, out, "--num-recycles", "0", "--json", check=False)
    summary = json.loads(third.stdout)
    assert summary["folded"] == 1 and summary["already_present"] == 1, third.stderr
    with np.load(out / "also.npz") as z:
        assert z["sequence"].item() == b"MKVA"
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert sorted(r["label"] for r in rows) == ["also", "good"]  # the old row replaced, not kept beside the new


def test_esm_fold_command_line(esmfold, tmp_path):
    """esm-fold's spellings: -i, -o, --num-recycles, --max-tokens-per-batch, --chunk-size, --cpu-only."""
    _, onnx = esmfold
    fasta = fo.write_fasta(tmp_path / "in.fasta", {"a": MONOMER})
    out = tmp_path / "pdb"
    proc = run_cli("fold", "--model", onnx, "-i", fasta, "-o", out, "--num-recycles", "1", "--max-tokens-per-batch",
                   "512", "--chunk-size", "8", "--cpu-only", check=False)
    assert proc.returncode == 0, proc.stderr
    assert (out / "a.pdb").read_text().startswith("PARENT N/A\n")
    assert "Predicted structure for a with length 30, pLDDT" in proc.stderr


def test_embed_refuses_the_folding_graph_and_runs_the_stem(esmfold, tmp_path):
    _, onnx = esmfold
    fasta = fo.write_fasta(tmp_path / "in.fasta", {"a": MONOMER})
    proc = run_cli("embed", onnx, fasta, tmp_path / "emb", check=False)
    assert proc.returncode == 2 and "ESMFold model" in proc.stderr and "esmfold.stem.onnx" in proc.stderr
    stem = onnx.parent / "esmfold.stem.onnx"
    assert run_cli("embed", stem, fasta, tmp_path / "emb").returncode == 0


def _fold_py(esm_module, fasta: pathlib.Path, pdb_dir: pathlib.Path, num_recycles, max_tokens_per_batch, chunk_size,
             cpu_only=True) -> list[str]:
    """fair-esm's scripts/fold.py main(), its calls as the script makes them (the loader, set_chunk_size, the
    --cpu-only path's model.esm.float() and model.cpu(), infer, every output moved with .cpu(), output_to_pdb,
    one file per header), with `esm` replaced by the module given. Returns its log lines."""
    log = []
    pdb_dir.mkdir(exist_ok=True)
    all_sequences = sorted(esm_module.data.read_fasta(fasta), key=lambda header_seq: len(header_seq[1]))
    model = esm_module.pretrained.esmfold_v1()
    model = model.eval()
    model.set_chunk_size(chunk_size)
    if cpu_only:
        model.esm.float()
        model.cpu()

    def batches(sequences, max_tokens):
        headers, seqs, num = [], [], 0
        for header, seq in sequences:
            if (len(seq) + num > max_tokens) and num > 0:
                yield headers, seqs
                headers, seqs, num = [], [], 0
            headers.append(header)
            seqs.append(seq)
            num += len(seq)
        yield headers, seqs

    for headers, sequences in batches(all_sequences, max_tokens_per_batch):
        output = model.infer(sequences, num_recycles=num_recycles)
        output = {key: value.cpu() for key, value in output.items()}
        pdbs = model.output_to_pdb(output)
        for header, seq, pdb_string, mean_plddt, ptm in zip(headers, sequences, pdbs, output["mean_plddt"], output["ptm"]):
            (pdb_dir / f"{header}.pdb").write_text(pdb_string)
            log.append(f"Predicted structure for {header} with length {len(seq)}, pLDDT {mean_plddt:0.1f}, pTM {ptm:0.3f}")
    return log


def test_fold_py_through_the_drop_in(tmp_path, monkeypatch):
    """esm.pretrained.esmfold_v1() fetches the released folder (facebook/esmfold_v1, served here on 127.0.0.1),
    converts it once into the model cache, and fair-esm's fold.py then writes the PDB files fair-esm would."""
    from hub_server import Server

    from esm_onnx import compat

    folder = fo.save_transformers_folder(fo.make_esmfold(11), tmp_path / "released")
    reference = fo.load_transformers_folder(folder)
    server = Server()
    try:
        server.add_repo_folder("facebook/esmfold_v1", folder)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "onnx_cache"))
        for k in ("HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "TORCH_HOME"):
            monkeypatch.delenv(k, raising=False)
        fasta = fo.write_fasta(tmp_path / "in.fasta", {"a": MONOMER, "b two": RECORDS["dimer"], "c": "MKVL"})
        log = _fold_py(compat, fasta, tmp_path / "pdb", num_recycles=0, max_tokens_per_batch=40, chunk_size=4)
        again = _fold_py(compat, fasta, tmp_path / "pdb2", num_recycles=0, max_tokens_per_batch=1024, chunk_size=None)
    finally:
        server.close()
    assert len(log) == 3 and len(list((tmp_path / "onnx_cache").iterdir())) == 1  # converted once, reused
    refs = fo.reference_fold(reference, [MONOMER, RECORDS["dimer"], "MKVL"], num_recycles=0)
    for name, ref in zip(("a", "b two", "c"), refs):
        pdb_close((tmp_path / "pdb" / f"{name}.pdb").read_text(), ref["pdb"], coord_tol=0.0015, b_tol=0.015)
        pdb_close((tmp_path / "pdb2" / f"{name}.pdb").read_text(), ref["pdb"], coord_tol=0.0025, b_tol=0.025)
        line = next(x for x in log if x.startswith(f"Predicted structure for {name} "))
        assert f"pLDDT {ref['mean_plddt']:0.1f}" in line or abs(float(line.split("pLDDT ")[1].split(",")[0]) - ref["mean_plddt"]) < 0.06
    assert len(again) == 3


def _fair_esm_pair(tmp_path, seed: int):
    """ESMFold as fair-esm releases it: esmfold_3B_v1.pt ({"cfg": {"model": omegaconf DictConfig with fair-esm's
    names}, "model": the head's state dict, no esm.* keys}) beside the stem esm2_t36_3B_UR50D.pt (a fair-esm ESM-2
    checkpoint, contact regression and all), and the same model as a transformers folder, its stem the same weights."""
    import esm_checkpoints
    import hf_checkpoints
    import torch
    from omegaconf import OmegaConf

    d = tmp_path / "hub" / "checkpoints"
    stem_path = esm_checkpoints.save_checkpoint("esm2", 2, 64, 4, d / "esm2_t36_3B_UR50D.pt", seed=seed)
    fair_stem, _ = esm_checkpoints.load_with_fair_esm(stem_path)
    model = fo.make_esmfold(seed)
    mapped = hf_checkpoints.fair_esm_state_to_hf(fair_stem.state_dict(), "rotary")
    esm_state = {k[len("esm."):]: v for k, v in mapped.items() if k.startswith("esm.")}
    missing, unexpected = model.esm.load_state_dict(esm_state, strict=False)
    assert not unexpected and all("inv_freq" in k or "position_ids" in k for k in missing), (missing, unexpected)
    c = model.config.esmfold_config
    t, sm = c.trunk, c.trunk.structure_module
    cfg = OmegaConf.create({
        "esm_type": "esm2_3B", "fp16_esm": True, "use_esm_attn_map": False, "esm_ablate_pairwise": False,
        "esm_ablate_sequence": False, "esm_input_dropout": 0, "lddt_head_hid_dim": c.lddt_head_hid_dim,
        "trunk": {"num_blocks": t.num_blocks, "sequence_state_dim": t.sequence_state_dim,
                  "pairwise_state_dim": t.pairwise_state_dim, "sequence_head_width": t.sequence_head_width,
                  "pairwise_head_width": t.pairwise_head_width, "position_bins": t.position_bins, "dropout": 0,
                  "layer_drop": 0, "cpu_grad_checkpoint": False, "max_recycles": t.max_recycles, "chunk_size": None,
                  "structure_module": {"c_s": sm.sequence_dim, "c_z": sm.pairwise_dim, "c_ipa": sm.ipa_dim,
                                       "c_resnet": sm.resnet_dim, "no_heads_ipa": sm.num_heads_ipa,
                                       "no_qk_points": sm.num_qk_points, "no_v_points": sm.num_v_points,
                                       "dropout_rate": 0.1, "no_blocks": sm.num_blocks, "no_transition_layers": 1,
                                       "no_resnet_blocks": 2, "no_angles": 7, "trans_scale_factor": 10,
                                       "epsilon": 1e-8, "inf": 1e5}}})
    head = {k: v for k, v in model.state_dict().items() if not k.startswith("esm.")}
    torch.save({"cfg": {"model": cfg}, "model": head}, d / "esmfold_3B_v1.pt")
    folder = fo.save_transformers_folder(model, tmp_path / "esmfold_hf")
    return d / "esmfold_3B_v1.pt", folder


def test_fair_esm_pair_and_transformers_folder_convert_alike(tmp_path):
    """fair-esm's esmfold_3B_v1.pt (its omegaconf config read without omegaconf) with its stem beside it, and the
    transformers folder of the same weights: the same numbers, and transformers' own."""
    pair, folder = _fair_esm_pair(tmp_path, 5)
    a, b = tmp_path / "a" / "fair.onnx", tmp_path / "b" / "hf.onnx"
    run_cli("convert", pair, "-o", a)
    run_cli("convert", folder, "-o", b)
    records = {"monomer": MONOMER, "dimer": RECORDS["dimer"]}
    fold_cli(a, records, tmp_path / "out_a", "--num-recycles", "0")
    fold_cli(b, records, tmp_path / "out_b", "--num-recycles", "0")
    refs = fo.reference_fold(fo.load_transformers_folder(folder), list(records.values()), num_recycles=0)
    for label, ref in zip(records, refs):
        x, y = load(tmp_path / "out_a", label), load(tmp_path / "out_b", label)
        for k in ("positions", "plddt", "predicted_aligned_error", "distogram_logits"):
            np.testing.assert_allclose(x[k], y[k], atol=1e-5, err_msg=k)
        compare(x, ref, pos_tol=5e-3, pos_rms=1e-3, plddt_tol=5e-3, ptm_tol=5e-5, pae_tol=5e-3)
    # esm-fold's -m: torch hub's folder, holding checkpoints/esmfold_3B_v1.pt and its stem.
    proc = run_cli("fold", "-m", pair.parent.parent, "-i", fo.write_fasta(tmp_path / "m.fasta", {"m": MONOMER}),
                   "-o", tmp_path / "out_m", "--num-recycles", "0", env={**os.environ, "ESM_ONNX_CACHE": str(tmp_path / "c")})
    np.testing.assert_allclose(load(tmp_path / "out_m", "m")["positions"], load(tmp_path / "out_a", "monomer")["positions"],
                               atol=2e-3)  # alone here, batched with the dimer there (see test_chunked_and_batched_equal_alone)
    # Without its stem beside it, fair-esm's file is refused naming the stem to fetch.
    (pair.parent / "esm2_t36_3B_UR50D.pt").rename(tmp_path / "elsewhere.pt")
    p = run_cli("convert", pair, "-o", tmp_path / "c.onnx", check=False)
    assert p.returncode == 1 and "esm2_t36_3B_UR50D" in p.stderr and "download" in p.stderr


def test_inspect_describes_folding_models(esmfold):
    import json

    ref_model, onnx = esmfold
    j = json.loads(run_cli("inspect", onnx, "--json").stdout)
    c = ref_model.config.esmfold_config
    assert j["kind"].startswith("esm-onnx folding model") and j["stem_file"] == "esmfold.stem.onnx"
    assert j["num_blocks"] == c.trunk.num_blocks and j["structure_module.sequence_dim"] == c.trunk.structure_module.sequence_dim
    assert "MultiHeadAttention" not in j["outputs"] and "positions" not in j["inputs"]
    folder = onnx.parent / "esmfold_hf"
    k = json.loads(run_cli("inspect", folder, "--json").stdout)
    assert k["kind"] == "transformers ESMFold checkpoint" and k["stem"] == "ESM-2" and k["head_parameters"] > 0


def test_verify_holds_each_stem_precision_to_its_fold_floor(esmfold, tmp_path):
    """`convert --verify` of an ESMFold folds generated proteins with the conversion and with an fp32 reference
    and compares the structures: fp32 passes its floor; an int8 stem on this tiny random-weight stem moves the
    structures by Angstroms (recycling amplifies it) and is refused (exit 1) with the numbers that failed."""
    folder = esmfold[1].parent / "esmfold_hf"  # the module fixture's transformers folder
    ok = run_cli("convert", folder, "-o", tmp_path / "fp32.onnx", "--verify", check=False)
    assert ok.returncode == 0, ok.stderr
    line = next(l for l in ok.stdout.splitlines() if l.startswith("verify"))
    assert "fp32 stem vs fp32 reference, 4 generated proteins" in line and "within the floor" in line
    rmsd = float(line.split("CA RMSD ")[1].split()[0])
    assert 0 < rmsd <= 0.01
    bad = run_cli("convert", folder, "-o", tmp_path / "int8.onnx", "--precision", "int8", "--verify", check=False)
    assert bad.returncode == 1, bad.stderr
    line = next(l for l in bad.stdout.splitlines() if l.startswith("verify"))
    assert "int8 stem" in line and "BELOW the floor" in line and float(line.split("CA RMSD ")[1].split()[0]) > 0.1
    assert not (tmp_path / "int8.onnx.verify").exists()  # the reference is removed


def test_threads_folding_at_once_share_the_stem(esmfold):
    """The stem is open only while a batch runs it (its session is shared by the batches running at once and
    closed after the last): folds from several threads at once equal the same folds one after another."""
    import threading

    import esm_onnx

    _, onnx = esmfold
    model = esm_onnx.Model(onnx, threads=1)
    seqs = [MONOMER, MONOMER[:17], "MKTAYIAKQ:RQISFVKSH", MONOMER[5:]]
    alone = [model.fold([s], num_recycles=1)[0] for s in seqs]
    got: dict[int, object] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for _ in range(2):
                got[i] = model.fold([seqs[i]], num_recycles=1)[0]
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(seqs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, a in enumerate(alone):
        np.testing.assert_array_equal(got[i].positions, a.positions)
        assert got[i].pdb == a.pdb
