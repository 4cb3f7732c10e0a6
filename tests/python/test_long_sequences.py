"""Records longer than one pass (embed --long-sequences): `tile` against fair-esm (and transformers' ESM C) run on
each of esm-variants' tiles and stitched by the documented rules, `full` against one fair-esm pass over the whole
record, and the errors of the modes that cannot run a record."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import esm_checkpoints
import hf_checkpoints as hf
from conftest import run_cli
from oracle import esm_variants_tiles, reference_outputs
from test_score import _esm_variants_llr, _random_protein

import esm_onnx

INCLUDE = ["mean", "per_tok", "bos", "logits", "contacts"]


def _stitch(parts: list[dict[str, np.ndarray]], tiles, weights, length: int) -> dict[str, np.ndarray]:
    """The README's rules on per-tile reference outputs: per-residue arrays weighted, mean of the stitched rows,
    BOS of the first tile, contacts weighted by w_k(i) w_k(j) over the tiles holding both (NaN where none)."""
    out: dict[str, np.ndarray] = {}
    num = den = None
    for k, (idx, ref) in enumerate(zip(tiles, parts)):
        w = weights[k, idx]
        for key, value in ref.items():
            if key.startswith("representations/") or key == "logits":
                acc = out.setdefault(key, np.zeros((length, value.shape[1])))
                acc[idx] += w[:, None] * value
            elif key.startswith("bos_representations/") and k == 0:
                out[key] = value
            elif key == "contacts":
                if num is None:
                    num, den = np.zeros((length, length)), np.zeros((length, length))
                pair = np.outer(w, w)
                num[np.ix_(idx, idx)] += pair * value
                den[np.ix_(idx, idx)] += pair
    for key in [k for k in out if k.startswith("representations/")]:
        out["mean_" + key] = out[key].mean(0)
    if num is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            out["contacts"] = np.where(den > 0, num / den, np.nan)
    return out


def _fair_tiled(ckpt, seq: str, window: int = 1022, overlap: int = 512) -> dict[str, np.ndarray]:
    model, alphabet = esm_checkpoints.load_with_fair_esm(ckpt)
    tiles, weights = esm_variants_tiles(len(seq), overlap, window)
    parts = [reference_outputs(model, alphabet, [("t", seq[int(i[0]):int(i[-1]) + 1])], truncation=None)["t"] for i in tiles]
    return _stitch(parts, tiles, weights, len(seq))


def _ours(e) -> dict[str, np.ndarray]:
    out = {}
    for layer, v in e.per_tok.items():
        out[f"representations/{layer}"] = v
        out[f"mean_representations/{layer}"] = e.mean[layer]
        out[f"bos_representations/{layer}"] = e.bos[layer]
    for name in ("logits", "contacts"):
        if getattr(e, name, None) is not None:
            out[name] = getattr(e, name)
    return out


def _assert_close(got: dict, expected: dict, atol: float = 1e-4) -> float:
    worst = 0.0
    for key, ref in expected.items():
        assert key in got, key
        g = got[key]
        assert g.shape == ref.shape, (key, g.shape, ref.shape)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(ref), err_msg=key)
        finite = ~np.isnan(ref)
        diff = float(np.abs(g[finite] - ref[finite]).max()) if finite.any() else 0.0
        assert diff <= atol, f"{key}: max abs difference {diff:.2e}"
        worst = max(worst, diff)
    return worst


@pytest.mark.parametrize("key", ["esm2_t3_48_zip", "esm1b_t2_48_zip"])
@pytest.mark.parametrize("length", [1023, 2100])
def test_tiles_match_fair_esm_on_each_tile(checkpoints, onnx_models, key, length):
    seq = _random_protein(length, seed=length)
    model = esm_onnx.Model(onnx_models[key], threads=2)
    (e,) = model.embed([("long", seq)], include=INCLUDE, long_sequences="tile")
    assert e.length == length
    expected = _fair_tiled(checkpoints[key], seq)
    worst = _assert_close(_ours(e), expected)
    print(f"{key} {length} residues in tiles: max abs difference {worst:.2e}")
    # A pair that no tile holds is NaN; every pair a tile holds has a value.
    tiles, _ = esm_variants_tiles(length)
    assert np.isnan(e.contacts[0, length - 1]) == (not any(t[0] == 0 and t[-1] == length - 1 for t in tiles))


@pytest.mark.parametrize("tiling", [esm_onnx.Tiling(300, 200), {"length": 300, "min_overlap": 200}])
def test_a_tiling_passed_whole_reaches_every_job(checkpoints, onnx_models, tiling, tmp_path):
    """One Tiling (or a dict of its fields) through embed, the FASTA job and the scoring calls: the numbers of
    fair-esm on esm-variants' tiles of that length and overlap, not the defaults'."""
    key, length = "esm2_t3_48_zip", 700
    seq = _random_protein(length, seed=7)
    model = esm_onnx.Model(onnx_models[key], threads=2)
    expected = _fair_tiled(checkpoints[key], seq, window=300, overlap=200)
    (e,) = model.embed([("long", seq)], include=INCLUDE, long_sequences="tile", tiling=tiling)
    _assert_close(_ours(e), expected)
    fasta = tmp_path / "long.fasta"
    fasta.write_text(f">long\n{seq}\n")
    (f,) = list(model.embed_fasta(fasta, include=INCLUDE, long_sequences="tile", tiling=tiling, read_ahead=1))
    _assert_close(_ours(f), expected)
    # A record whose tiles fill several batches, then more records: each batch before its last completes no record,
    # which once ended the iteration there (this record and every later one silently lost).
    fasta.write_text(f">long\n{seq}\n>short\nMKTAYIAK\n>long2\n{seq[::-1]}\n")
    got = list(model.embed_fasta(fasta, include=["mean"], long_sequences="tile", tiling=tiling, toks_per_batch=310))
    assert sorted(e.label for e in got) == ["long", "long2", "short"]
    # esm-variants' get_wt_LLR with the same max_len and min_overlap
    ref, alphabet = esm_checkpoints.load_with_fair_esm(checkpoints[key])
    np.testing.assert_allclose(model.score_missense(seq, tiling=tiling),
                               _esm_variants_llr(ref, alphabet, seq, window=300, overlap=200), atol=1e-4)
    assert not np.allclose(model.score_missense(seq), model.score_missense(seq, tiling=tiling), atol=1e-3)


def test_tiles_of_many_records_batch_together_and_change_nothing(checkpoints, onnx_models, tmp_path):
    seqs = [("a", _random_protein(1500, 1)), ("short", "MKTAYIAKQR"), ("b", _random_protein(1100, 2))]
    model = esm_onnx.Model(onnx_models["esm2_t3_48_zip"], threads=2)
    alone = {label: model.embed([(label, s)], include=INCLUDE, long_sequences="tile")[0] for label, s in seqs}
    together = model.embed(seqs, include=INCLUDE, long_sequences="tile", toks_per_batch=4096)
    for e in together:
        _assert_close(_ours(e), _ours(alone[e.label]), atol=1e-5)
    # The CLI writes the same arrays, and says nothing was truncated.
    fasta = tmp_path / "long.fasta"
    fasta.write_text("".join(f">{label}\n{s}\n" for label, s in seqs))
    p = run_cli("embed", onnx_models["esm2_t3_48_zip"], fasta, tmp_path / "out", "--include", *INCLUDE, "--repr-layers", "3",
                "--long-sequences", "tile")
    assert "long records: tile (1022-residue tiles, overlap >= 512, s = 20)" in p.stdout, p.stdout
    summary = esm_onnx.embed_to_dir(onnx_models["esm2_t3_48_zip"], fasta, tmp_path / "api", include="mean")
    assert summary.long_sequences == "truncate at 1022 residues"
    got = np.load(tmp_path / "out" / "a.npz")
    assert got["representations/3"].shape == (1500, 48)
    np.testing.assert_allclose(got["representations/3"], alone["a"].per_tok[3], atol=1e-5)
    np.testing.assert_array_equal(np.isnan(got["contacts"]), np.isnan(alone["a"].contacts))


def test_full_matches_one_fair_esm_pass_over_3000_residues(checkpoints, onnx_models):
    seq = _random_protein(3000, seed=3)
    model, alphabet = esm_checkpoints.load_with_fair_esm(checkpoints["esm2_t3_48_zip"])
    expected = reference_outputs(model, alphabet, [("long", seq)], truncation=None)["long"]
    ours = esm_onnx.Model(onnx_models["esm2_t3_48_zip"], threads=2)
    (e,) = ours.embed([("long", seq)], include=INCLUDE, long_sequences="full")
    worst = _assert_close(_ours(e), expected)
    print(f"ESM-2 3,000 residues in one pass: max abs difference {worst:.2e}")
    # The default (truncate) keeps esm-extract's 1,022 residues; a truncation length given with tile is applied.
    (t,) = ours.embed([("long", seq)], include=["per_tok"])
    assert t.length == 1022
    (c,) = ours.embed([("long", seq)], include=["per_tok"], long_sequences="tile", truncation_seq_length=1500)
    assert c.length == 1500


def test_modes_that_cannot_run_a_record_say_why(onnx_models, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">long\n{_random_protein(1100, 4)}\n>short\nMKTAYIAKQR\n")
    p = run_cli("embed", onnx_models["esm1b_t2_48_zip"], fasta, tmp_path / "full", "--long-sequences", "full", check=False)
    assert p.returncode == 3, p.stderr
    assert "learned positions" in p.stderr + p.stdout and "--long-sequences tile" in p.stderr + p.stdout
    assert (tmp_path / "full" / "short.npz").exists() and not (tmp_path / "full" / "long.npz").exists()
    p = run_cli("embed", onnx_models["esm1b_t2_48_zip"], fasta, tmp_path / "t0", "--truncation-seq-length", "0", check=False)
    assert p.returncode == 3 and "--long-sequences tile" in p.stderr + p.stdout
    for args, message in [(["--long-sequences", "sideways"], "--long-sequences sideways"),
                          (["--long-sequences", "tile", "--tile-length", "2000"], "--tile-length 2000"),
                          (["--long-sequences", "tile", "--tile-overlap", "1022"], "--tile-overlap 1022"),
                          (["--long-sequences", "tile", "--tile-sharpness", "-1"], "--tile-sharpness -1")]:
        p = run_cli("embed", onnx_models["esm1b_t2_48_zip"], fasta, tmp_path / "bad", *args, check=False)
        assert p.returncode == 2 and message in p.stderr, (args, p.stderr)
    with pytest.raises(esm_onnx.UsageError, match="long_sequences"):
        esm_onnx.Model(onnx_models["esm2_t3_48_zip"]).embed(["MKT"], long_sequences="never")


def test_esmc_runs_whole_up_to_2048_and_tiles_beyond(tmp_path):
    layers, dim = hf.ESMC_GEOMETRIES[next(iter(hf.ESMC_GEOMETRIES))]
    ref = hf.build_esmc("EsmcForMaskedLM", layers, dim, seed=11)
    folder = hf.save_esmc(ref, tmp_path / "hf", "save_pretrained")
    onnx = tmp_path / "esmc.onnx"
    run_cli("convert", folder, "-o", onnx, "--repr-layers", "all")
    model = esm_onnx.Model(onnx, threads=2)

    def transformers_outputs(seq):
        toks, mask, sid = hf.esmc_batch([("t", seq)])
        with torch.no_grad():
            out = ref(toks, sequence_id=sid, output_hidden_states=True)
        rec = {}
        for layer, h in enumerate(out.hidden_states):
            rec[f"representations/{layer}"] = h[0, 1:-1].numpy()
            rec[f"bos_representations/{layer}"] = h[0, 0].numpy()
        rec["logits"] = out.logits[0, 1:-1].numpy()
        return rec

    include = ["mean", "per_tok", "bos", "logits"]
    whole = _random_protein(1500, 5)
    (e,) = model.embed([("whole", whole)], include=include)  # ESM C's default: no truncation up to 2,048
    expected = transformers_outputs(whole)
    expected.update({"mean_" + k: v.mean(0) for k, v in expected.items() if k.startswith("representations/")})
    _assert_close(_ours(e), expected)
    long = _random_protein(2300, 6)
    (e,) = model.embed([("long", long)], include=include)
    tiles, weights = esm_variants_tiles(len(long), 512, 2048)
    assert len(tiles) == 2
    parts = [transformers_outputs(long[int(i[0]):int(i[-1]) + 1]) for i in tiles]
    _assert_close(_ours(e), _stitch(parts, tiles, weights, len(long)))
