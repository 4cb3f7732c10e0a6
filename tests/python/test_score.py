"""`esm-onnx score` against the references, computed here with the same weights: predict.py's strategies (its
label_row and compute_pppl as the script computes them, on fair-esm and, for ESM C, transformers' masked LM),
the paper's two other marginals and the exact pseudo-log-likelihood by their formulas, and esm-variants'
get_wt_LLR with its tiling for proteins longer than 1,022 residues."""
from __future__ import annotations

import csv
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

import esm_checkpoints
import hf_checkpoints as hf
from conftest import CLI as CLI_PATH, PYPKG, run_cli
from oracle import esm_variants_tiles

import esm_onnx

TOL = 1e-4
SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWUTPUTVEP"[:40]
# ProteinGym's way: 1-based positions (offset 1), ':' between the parts of a multi-mutant. Two mutants share a site
# (their masked copy runs once), one is synonymous, three are multi-mutants.
MUTANTS = ["M1A", "K2R", "K2E", "T3W", "A4A", "Y5F", "Q9K", "F14L", "K2C:T3G", "S13P:F14Y:V15I", "R39Q", "R10K:R39E"]
STRATEGIES = ["wt-marginals", "masked-marginals", "pseudo-ppl", "joint-masked-marginals", "mutant-marginals", "pseudo-ll"]
FAMILIES = ["esm1b_t2_48_zip", "esm1v_t2_32_zip", "esm2_t3_48_zip", "esm1_t2_48_zip", "esmc"]


class Reference:
    """predict.py's scoring on a model callable: `log_probs(tokens [1, T]) -> [1, T, V]` log-softmax."""

    def __init__(self, log_probs, encode, mask_idx: int, token_id) -> None:
        self.log_probs, self.encode, self.mask_idx, self.token_id = log_probs, encode, mask_idx, token_id

    @staticmethod
    def parts(mutant: str, offset: int) -> list[tuple[str, int, str]]:
        return [(p[0], int(p[1:-1]) - offset, p[-1]) for p in mutant.split(":")]

    def _masked(self, tokens, positions):
        t = tokens.clone()
        for p in positions:
            t[0, p] = self.mask_idx
        return t

    def score(self, strategy: str, sequence: str, mutant: str, offset: int) -> float:
        parts = self.parts(mutant, offset)
        for wt, idx, _ in parts:
            assert sequence[idx] == wt, "The listed wildtype does not match the provided sequence"
        mutated = list(sequence)
        for _, idx, mt in parts:
            mutated[idx] = mt
        mutated = "".join(mutated)
        tid = self.token_id
        if strategy in ("wt-marginals", "masked-marginals", "joint-masked-marginals", "mutant-marginals"):
            total = 0.0
            for wt, idx, mt in parts:
                if strategy == "wt-marginals":  # label_row on one pass of the wild type (BOS: + 1)
                    lp = self.log_probs(self.encode(sequence))
                elif strategy == "masked-marginals":  # predict.py's pass with token 1 + idx masked
                    lp = self.log_probs(self._masked(self.encode(sequence), [1 + idx]))
                elif strategy == "joint-masked-marginals":
                    lp = self.log_probs(self._masked(self.encode(sequence), [1 + i for _, i, _ in parts]))
                else:
                    lp = self.log_probs(self.encode(mutated))
                total += float(lp[0, 1 + idx, tid(mt)] - lp[0, 1 + idx, tid(wt)])
            return total
        tokens = self.encode(mutated)
        if strategy == "pseudo-ppl":  # compute_pppl: for i in range(1, len(sequence) - 1), token i masked
            return sum(float(self.log_probs(self._masked(tokens, [i]))[0, i, tid(mutated[i])])
                       for i in range(1, len(mutated) - 1))
        assert strategy == "pseudo-ll"
        return sum(float(self.log_probs(self._masked(tokens, [1 + i]))[0, 1 + i, tid(mutated[i])])
                   for i in range(len(mutated)))


def _fair_reference(path) -> Reference:
    model, alphabet = esm_checkpoints.load_with_fair_esm(path)
    convert = alphabet.get_batch_converter()

    def log_probs(tokens):
        with torch.no_grad():
            return torch.log_softmax(model(tokens)["logits"], dim=-1)

    return Reference(log_probs, lambda s: convert([("protein1", s)])[2], alphabet.mask_idx, alphabet.get_idx)


def _esmc_reference(model) -> Reference:
    def log_probs(tokens):
        with torch.no_grad():
            return torch.log_softmax(model(tokens).logits, dim=-1)

    return Reference(log_probs, lambda s: torch.tensor([hf.esmc_tokens(s)]), 32, hf.ESMC_VOCAB.index)


@pytest.fixture(scope="module")
def scoring_models(checkpoints, onnx_models, tmp_path_factory):
    """family -> (converted .onnx, its Reference)."""
    out = {k: (onnx_models[k], _fair_reference(checkpoints[k])) for k in FAMILIES if k != "esmc"}
    d = tmp_path_factory.mktemp("esmc")
    model = hf.build_esmc("EsmcForMaskedLM", 2, 128, seed=5)
    folder = hf.save_esmc(model, d / "hf", "save_pretrained")
    run_cli("convert", folder, "-o", d / "esmc.onnx")
    out["esmc"] = (d / "esmc.onnx", _esmc_reference(hf.load(folder, "EsmcForMaskedLM")))
    return out


def _dms_csv(path: pathlib.Path, mutants=MUTANTS) -> pathlib.Path:
    """As real sources write them: a UTF-8 BOM, pandas' unnamed index column, quoted fields, CRLF line ends."""
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
        w.writerow(["", "mutant", "DMS_score", "note"])
        for i, m in enumerate(mutants):
            w.writerow([i, m, 0.1 * i, f'assay, "rep {i}"'])
    return path


def _read(path: pathlib.Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("family", FAMILIES)
def test_strategies_match_the_reference(scoring_models, tmp_path, family, strategy):
    onnx, ref = scoring_models[family]
    src = _dms_csv(tmp_path / "dms.csv")
    out = tmp_path / "out.csv"
    run_cli("score", onnx, "--sequence", SEQUENCE, "--dms-input", src, "--dms-output", out, "--offset-idx", "1",
            "--scoring-strategy", strategy)
    rows = _read(out)
    # the input's columns, rows and fields as they were (the BOM gone), the model's column named as written
    assert list(rows[0]) == ["", "mutant", "DMS_score", "note", str(onnx)]
    assert [r["mutant"] for r in rows] == MUTANTS and rows[3]["note"] == 'assay, "rep 3"'
    got = np.array([float(r[str(onnx)]) for r in rows])
    want = np.array([ref.score(strategy, SEQUENCE, m, 1) for m in MUTANTS])
    assert np.std(want) > 0.01
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)
    if strategy in ("wt-marginals", "masked-marginals", "joint-masked-marginals", "mutant-marginals"):
        assert got[MUTANTS.index("A4A")] == 0.0
    if strategy == "masked-marginals":
        # on single mutants the paper's joint masking is predict.py's
        run_cli("score", onnx, "--sequence", SEQUENCE, "--dms-input", src, "--dms-output", tmp_path / "j.csv",
                "--offset-idx", "1", "--scoring-strategy", "joint-masked-marginals")
        joint = [float(r[str(onnx)]) for r in _read(tmp_path / "j.csv")]
        singles = [i for i, m in enumerate(MUTANTS) if ":" not in m]
        np.testing.assert_allclose([joint[i] for i in singles], got[singles], atol=1e-6)


def test_an_ensemble_adds_each_column_and_their_mean(scoring_models, tmp_path):
    """predict.py's ESM-1v ensemble: --model-location with several models, a column each, named as written."""
    a, ref_a = scoring_models["esm1v_t2_32_zip"]
    b, ref_b = scoring_models["esm1b_t2_48_zip"]
    out = tmp_path / "out.csv"
    run_cli("score", "--model-location", a, b, "--sequence", SEQUENCE, "--dms-input", _dms_csv(tmp_path / "d.csv"),
            "--dms-output", out, "--offset-idx", "1", "--scoring-strategy", "masked-marginals")
    rows = _read(out)
    assert list(rows[0])[-3:] == [str(a), str(b), esm_onnx.ENSEMBLE_COLUMN]
    for r, m in zip(rows, MUTANTS):
        want_a, want_b = ref_a.score("masked-marginals", SEQUENCE, m, 1), ref_b.score("masked-marginals", SEQUENCE, m, 1)
        assert abs(float(r[str(a)]) - want_a) <= TOL and abs(float(r[str(b)]) - want_b) <= TOL
        assert abs(float(r[esm_onnx.ENSEMBLE_COLUMN]) - (want_a + want_b) / 2) <= TOL


def test_rows_that_cannot_be_scored_are_named_and_left_empty(scoring_models, tmp_path):
    onnx, ref = scoring_models["esm2_t3_48_zip"]
    bad = {"G1A": "does not match the sequence", "M0A": "outside the sequence", "M1J": "not an amino acid",
           "M1": "not a mutation of the form", "K2R:K2E": "mutated twice", "": "empty mutation", "M41A": "outside"}
    mutants = ["M1A", *bad, "Q9K"]
    out = tmp_path / "out.csv"
    p = run_cli("score", onnx, "--sequence", SEQUENCE, "--dms-input", _dms_csv(tmp_path / "d.csv", mutants),
                "--dms-output", out, "--offset-idx", "1", check=False)
    assert p.returncode == 3, p.stderr  # finished, with rows skipped
    rows = _read(out)
    assert [r["mutant"] for r in rows] == mutants
    for r in rows:
        if r["mutant"] in bad:
            assert r[str(onnx)] == ""
            assert f"('{r['mutant']}')" in p.stderr and bad[r["mutant"]] in p.stderr.split(f"('{r['mutant']}')")[1].split("\n")[0]
        else:
            assert abs(float(r[str(onnx)]) - ref.score("wt-marginals", SEQUENCE, r["mutant"], 1)) <= TOL
    assert "line 3 ('G1A')" in p.stderr  # the file's own line (header on line 1)
    strict = run_cli("score", onnx, "--sequence", SEQUENCE, "--dms-input", tmp_path / "d.csv", "--dms-output",
                     tmp_path / "s.csv", "--offset-idx", "1", "--strict", check=False)
    assert strict.returncode == 1 and "G1A" in strict.stderr and "does not match" in strict.stderr
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("content,message", [
    ('mutant,x\n"M1A,1\n', "line 2"),                 # a quote never closed
    ("mutant,x\nM1A,1,2\n", "line 2: 3 fields where the header has 2"),
    ("", "empty CSV file"),
])
def test_malformed_csv_is_an_error_naming_the_line(scoring_models, tmp_path, content, message):
    onnx, _ = scoring_models["esm2_t3_48_zip"]
    (tmp_path / "d.csv").write_text(content)
    p = run_cli("score", onnx, "--sequence", SEQUENCE, "--dms-input", tmp_path / "d.csv", "--dms-output",
                tmp_path / "o.csv", check=False)
    assert p.returncode == 1 and message in p.stderr, p.stderr
    assert "internal error" not in p.stderr and not (tmp_path / "o.csv").exists()


def test_usage_errors_name_the_option(scoring_models, tmp_path):
    onnx, _ = scoring_models["esm2_t3_48_zip"]
    d = _dms_csv(tmp_path / "d.csv")
    cases = [
        (["--mutation-col", "variant"], "--mutation-col variant: no such column (the columns are: , mutant, DMS_score, note)"),
        (["--scoring-strategy", "masked"], "--scoring-strategy masked: unknown scoring strategy"),
        (["--long-sequences", "truncate"], "scores need every residue"),
        (["--tile-length", "2000"], "at most 1022"),
        (["--msa-path", "x.a3m"], "MSA Transformer"),
    ]
    for extra, message in cases:
        model = scoring_models["esm1b_t2_48_zip"][0] if "--tile-length" in extra else onnx
        p = run_cli("score", model, "--sequence", SEQUENCE, "--dms-input", d, "--dms-output", tmp_path / "o.csv", *extra,
                    check=False)
        assert p.returncode in (1, 2) and message in p.stderr, (extra, p.stderr)
    p = run_cli("score", onnx, "--sequence", SEQUENCE, "--dms-input", d, "--dms-output", tmp_path / "o.csv",
                "--input-fasta-file", "x.fasta", check=False)
    assert p.returncode == 2 and "either a deep mutational scan" in p.stderr
    p = run_cli("score", onnx, "--sequence", "MK<mask>T", "--dms-input", d, "--dms-output", tmp_path / "o.csv", check=False)
    assert p.returncode == 1 and "--sequence: '<' at index 2" in p.stderr


# --- esm-variants ---------------------------------------------------------------------------------------------------

def _esm_variants_llr(ref_model, alphabet, seq, window=1022, overlap=512):
    """get_wt_LLR for one protein: log-softmax of the wild type (tiled beyond 1,022 residues, weighted sums), the
    20 amino acids in esm-variants' order, less the wild type's."""
    convert = alphabet.get_batch_converter()

    def lp(s):
        with torch.no_grad():
            return torch.log_softmax(ref_model(convert([("p", s)])[2])["logits"], dim=-1)[0].numpy()[1:-1]

    if len(seq) <= window:
        full = lp(seq).astype(np.float64)
    else:
        ints, M_norm = esm_variants_tiles(len(seq), overlap, window)
        full = np.zeros((len(seq), len(alphabet.all_toks)))
        for k, idx in enumerate(ints):
            part = np.zeros_like(full)
            part[idx] = lp("".join(np.array(list(seq))[idx]))
            full += (part.T * M_norm[k]).T
    order = [alphabet.get_idx(a) for a in esm_onnx.MISSENSE_ORDER]
    wt = np.array([full[i, alphabet.get_idx(c)] for i, c in enumerate(seq)])
    return full[:, order] - wt[:, None]


@pytest.mark.parametrize("window,overlap", [(1022, 512), (1022, 511), (300, 200), (64, 40), (100, 90)])
def test_tiles_are_esm_variants_tiles(window, overlap):
    for n in list(range(window + 1, window + 40)) + [1500, 1531, 1532, 1600, 2100, 3000, 5003, 12345]:
        ints, M_norm = esm_variants_tiles(n, overlap, window)
        tiles = esm_onnx.tile_sequence(n, esm_onnx.Tiling(window, overlap, 20.0))
        assert [(int(i[0]), len(i)) for i in ints] == [(s, l) for s, l, _ in tiles], n
        for k, (start, length, w) in enumerate(tiles):
            np.testing.assert_allclose(w, M_norm[k, start:start + length], atol=1e-6)
    assert [(s, l) for s, l, _ in esm_onnx.tile_sequence(window, esm_onnx.Tiling(window, overlap))] == [(0, window)]


def _random_protein(n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), n))


@pytest.mark.parametrize("key", ["esm1b_t2_48_zip", "esm2_t3_48_zip"])
def test_every_missense_variant_matches_esm_variants(checkpoints, onnx_models, tmp_path, key):
    """Proteins of 30, 1,023, 1,600 (a centred window) and 2,100 residues; a protein with X is skipped with its
    reason and a duplicated seq_id too; the CSV is esm-variants' (rows, names, order), the matrices its LLRs."""
    proteins = [("P1 gene one", _random_protein(30, 1)), ("P2", _random_protein(1023, 2)),
                ("P3 long", _random_protein(1600, 3)), ("P4", _random_protein(2100, 4)),
                ("P5 has X", "MKTXAYIAK"), ("P1 again", "MKT")]
    fasta = tmp_path / "in.fasta"
    fasta.write_text("".join(f">{h}\n{s[:70]}\n{s[70:]}\n" for h, s in proteins))
    out = tmp_path / "scores.csv"
    p = run_cli("score", onnx_models[key], "--input-fasta-file", fasta, "--output-csv-file", out, check=False)
    assert p.returncode == 3, p.stderr
    assert "'X' at position 4 is not one of the 20 amino acids" in p.stderr and "duplicate seq_id 'P1'" in p.stderr
    model, alphabet = esm_checkpoints.load_with_fair_esm(checkpoints[key])
    rows = _read(out)
    assert list(rows[0]) == ["seq_id", "mut_name", "esm_score"]
    at = 0
    for header, seq in proteins[:4]:
        want = _esm_variants_llr(model, alphabet, seq)
        seq_id = header.split()[0]
        block = rows[at:at + 20 * len(seq)]
        at += 20 * len(seq)
        assert [r["seq_id"] for r in block] == [seq_id] * len(block)
        assert [r["mut_name"] for r in block] == [f"{w}{i + 1}{a}" for i, w in enumerate(seq) for a in esm_onnx.MISSENSE_ORDER]
        got = np.array([float(r["esm_score"]) for r in block]).reshape(len(seq), 20)
        assert np.abs(want).max() > 0.05
        np.testing.assert_allclose(got, want, atol=TOL, rtol=0)
        stored = esm_onnx.read_matrix(tmp_path / "scores.csv.d" / f"{seq_id}.npz")
        assert stored["sequence"] == seq and stored["label"] == seq_id
        np.testing.assert_allclose(stored["scores"], want, atol=TOL, rtol=0)
    assert at == len(rows)
    # a DMS on a long protein is tiled the same way: its wild-type marginals are the matrix's entries
    seq = proteins[3][1]
    muts = [f"{seq[i]}{i + 1}{a}" for i, a in [(0, "A"), (700, "W"), (1100, "K"), (2099, "P")]]
    scores = esm_onnx.Model(onnx_models[key]).score(seq, muts, offset_idx=1)
    want = _esm_variants_llr(model, alphabet, seq)
    np.testing.assert_allclose(scores, [want[i, esm_onnx.MISSENSE_ORDER.index(a)] for i, a in [(0, "A"), (700, "W"), (1100, "K"), (2099, "P")]], atol=TOL)


def test_missense_resumes_and_rescores_what_changed(onnx_models, tmp_path):
    onnx = onnx_models["esm2_t3_48_zip"]
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">a\nMKTAYIAKQR\n>b\nGSHMSDNGPQ\n>c\nKALTARQQEV\n")
    out = tmp_path / "s.csv"
    first = run_cli("score", onnx, "--input-fasta-file", fasta, "--output-csv-file", out, "--json")
    assert '"scored":3' in first.stdout
    text = out.read_text()
    again = run_cli("score", onnx, "--input-fasta-file", fasta, "--output-csv-file", out, "--json")
    assert '"scored":0,"already_present":3' in again.stdout and out.read_text() == text
    fasta.write_text(">a\nMKTAYIAKQR\n>b\nGSHMSDNGPW\n>c\nKALTARQQEV\n")
    changed = run_cli("score", onnx, "--input-fasta-file", fasta, "--output-csv-file", out, "--json")
    assert '"scored":1,"already_present":2' in changed.stdout and "another sequence" in changed.stderr
    assert "b,W10K," in out.read_text() and "b,Q10K," not in out.read_text()


def test_full_is_refused_beyond_learned_positions(onnx_models, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">long\n{_random_protein(1100, 9)}\n")
    p = run_cli("score", onnx_models["esm1b_t2_48_zip"], "--input-fasta-file", fasta, "--output-csv-file",
                tmp_path / "o.csv", "--long-sequences", "full", check=False)
    assert p.returncode == 3 and "use --long-sequences tile" in p.stderr


def test_python_api_and_heatmaps(scoring_models, onnx_models, tmp_path):
    import pandas as pd

    onnx, ref = scoring_models["esm2_t3_48_zip"]
    model = esm_onnx.Model(onnx)
    got = model.score(SEQUENCE, MUTANTS, strategy="masked-marginals", offset_idx=1)
    np.testing.assert_allclose(got, [ref.score("masked-marginals", SEQUENCE, m, 1) for m in MUTANTS], atol=TOL)
    with pytest.warns(esm_onnx.SkippedRecordWarning, match="G1A"):
        assert np.isnan(model.score(SEQUENCE, ["G1A"], offset_idx=1)[0])
    with pytest.raises(esm_onnx.InputError, match="G1A"):
        model.score(SEQUENCE, ["G1A"], offset_idx=1, strict=True)
    frame = esm_onnx.score_dms([onnx, scoring_models["esm1v_t2_32_zip"][0]], SEQUENCE,
                               pd.DataFrame({"mutant": MUTANTS}), offset_idx=1, strategy="masked-marginals")
    assert list(frame.columns) == ["mutant", str(onnx), str(scoring_models["esm1v_t2_32_zip"][0]), esm_onnx.ENSEMBLE_COLUMN]
    np.testing.assert_allclose(frame[str(onnx)], got, atol=1e-9)
    matrix = model.score_missense(SEQUENCE)
    table = esm_onnx.missense_frame(matrix, SEQUENCE, "p")
    assert table.shape == (20 * len(SEQUENCE), 3) and table.mut_name[0] == "M1K"
    assert table.esm_score[0] == pytest.approx(model.score(SEQUENCE, ["M1K"], offset_idx=1)[0], abs=1e-5)
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">p1\n{SEQUENCE}\n>p2\n{_random_protein(400, 3)}\n")
    summary = esm_onnx.score_missense(onnx, fasta, tmp_path / "s.csv", heatmaps=True)
    assert summary["scored"] == 2 and summary["csv_rows"] == 20 * (len(SEQUENCE) + 400)
    for png in summary["heatmaps"]:
        data = pathlib.Path(png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    # the command-line heatmaps of a matrix folder
    p = subprocess.run([sys.executable, "-c", "import sys; from esm_onnx._score import heatmap_main; "
                        "sys.exit(heatmap_main(sys.argv[1:]))", str(tmp_path / "s.csv.d" / "p1.npz"), "--output",
                        str(tmp_path / "p1.svg")], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(PYPKG)})
    assert p.returncode == 0 and (tmp_path / "p1.svg").read_text().lstrip().startswith("<?xml")


def test_every_precision_scores(checkpoints, tmp_path):
    """Scores of each precision against fp32 on a generated DMS: Spearman and max abs difference."""
    import pandas as pd

    fp32 = tmp_path / "fp32.onnx"
    run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", fp32)
    mutants = [f"{w}{i + 1}{a}" for i, w in enumerate(SEQUENCE) for a in "ACDEFGHIKLMNPQRSTVWY" if a != w]
    base = esm_onnx.Model(fp32).score(SEQUENCE, mutants, offset_idx=1, strategy="masked-marginals")
    for precision in ("fp16", "int8", "int4"):
        path = tmp_path / f"{precision}.onnx"
        run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", path, "--precision", precision)
        got = esm_onnx.Model(path).score(SEQUENCE, mutants, offset_idx=1, strategy="masked-marginals")
        rho = np.corrcoef(pd.Series(base).rank(), pd.Series(got).rank())[0, 1]  # Spearman
        assert rho > (0.999 if precision == "fp16" else 0.9), (precision, rho, np.abs(got - base).max())


def test_hostile_inputs_are_clear_errors_and_lose_nothing(onnx_models, tmp_path):
    onnx = onnx_models["esm2_t3_48_zip"]
    args = ["--sequence", SEQUENCE, "--dms-output", tmp_path / "o.csv"]
    p = run_cli("score", onnx, "--dms-input", "/dev/zero", *args, check=False)  # read on, it would fill memory
    assert p.returncode == 1 and "a row longer than 16 MiB" in p.stderr, p.stderr
    p = run_cli("score", onnx, "--dms-input", tmp_path, *args, check=False)
    assert p.returncode == 1 and "is a folder" in p.stderr
    p = run_cli("score", onnx, "--dms-input", _dms_csv(tmp_path / "d.csv"), "--sequence", SEQUENCE, "--dms-output",
                tmp_path / "no" / "such" / "o.csv", "--offset-idx", "1", check=False)
    assert p.returncode == 1 and "cannot create a file there: No such file" in p.stderr and "internal error" not in p.stderr
    # seq_ids that would escape the matrix folder, or need quoting in the CSV; a FASTA from a pipe (read once)
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    text = ">../escape x\nMKTAYIAKQR\n>a,b quoted\nMKTAYIAKQR\n>/abs\nMKT\n>ok\nGSHMSD\n"
    writer = subprocess.Popen(["sh", "-c", f"cat > {fifo}"], stdin=subprocess.PIPE, text=True)
    p = subprocess.Popen([str(CLI_PATH), "score", str(onnx), "--input-fasta-file", str(fifo), "--output-csv-file",
                          str(tmp_path / "m.csv")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer.communicate(text)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 3, err
    assert "record '../escape x'" in err and "record '/abs'" in err
    rows = _read(tmp_path / "m.csv")
    assert sorted({r["seq_id"] for r in rows}) == ["a,b", "ok"] and len(rows) == 20 * (10 + 6)
    assert not list((tmp_path / "m.csv.d").glob(".order-*")) and not list(tmp_path.glob("*.partial-*"))


def test_openvino_and_a_checkpoint_as_model(scoring_models, checkpoints, tmp_path, monkeypatch):
    """Every engine scores: the OpenVINO graph (fp32 compute) gives ONNX Runtime's numbers. A fair-esm checkpoint as
    MODEL is converted once into the cache, and its column keeps the name as written."""
    onnx, ref = scoring_models["esm1b_t2_48_zip"]
    ov = tmp_path / "ov.onnx"
    run_cli("convert", checkpoints["esm1b_t2_48_zip"], "-o", ov, "--engine", "openvino")
    src = _dms_csv(tmp_path / "d.csv")
    want = np.array([ref.score("masked-marginals", SEQUENCE, m, 1) for m in MUTANTS])
    run_cli("score", ov, "--engine", "openvino", "--compute", "fp32", "--cache-dir", tmp_path / "ovc", "--sequence",
            SEQUENCE, "--dms-input", src, "--dms-output", tmp_path / "o.csv", "--offset-idx", "1", "--scoring-strategy",
            "masked-marginals")
    np.testing.assert_allclose([float(r[str(ov)]) for r in _read(tmp_path / "o.csv")], want, atol=TOL, rtol=0)
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    ckpt = str(checkpoints["esm1b_t2_48_zip"])
    for _ in range(2):
        p = run_cli("score", ckpt, "--sequence", SEQUENCE, "--dms-input", src, "--dms-output", tmp_path / "c.csv",
                    "--offset-idx", "1", "--scoring-strategy", "masked-marginals")
    np.testing.assert_allclose([float(r[ckpt]) for r in _read(tmp_path / "c.csv")], want, atol=TOL, rtol=0)
    assert len(list((tmp_path / "cache").glob("*/model.onnx"))) == 1
