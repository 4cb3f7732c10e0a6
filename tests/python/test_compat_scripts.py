"""fair-esm's own scripts through the drop-in: copies of examples/variant-prediction/predict.py's and
scripts/extract.py's logic (their imports and tensor calls as the scripts have them, `.cuda()` included) run
with `esm` replaced by esm_onnx.compat, against the same code run live with fair-esm, within 1e-4; and
fair-esm's public surface, its quirks and its errors."""
from __future__ import annotations

import functools
import pathlib
import types

import numpy as np
import pytest
import torch

import esm
import esm_onnx
from conftest import DATA
from esm_onnx import compat
from test_extract import _compare as compare_pt_files
from test_extract import _extract_py

TOL = 1e-4
SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWUAXB"[:60]
# ProteinGym-style mutation strings (wild type, 1-based position, mutant) at positions along the sequence.
MUTATIONS = [f"{SEQUENCE[p - 1]}{p}{'A' if SEQUENCE[p - 1] != 'A' else 'W'}" for p in (1, 2, 3, 10, 11, 15, 20, 30, 40, 59)]


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """The drop-in says each of its notes once per process; each test starts as a new process would."""
    from esm_onnx.compat import _arrays

    monkeypatch.setattr(_arrays, "_warned", set())


@pytest.fixture
def fair_esm_on_cpu(monkeypatch):
    """fair-esm as its scripts run it, on this machine without a GPU: torch.load with weights_only=False (the
    checkpoints hold an argparse.Namespace) and Tensor.cuda() kept on the CPU, since predict.py calls it
    unconditionally. The drop-in needs neither."""
    def run(fn, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setattr(torch, "load", functools.partial(torch.load, weights_only=False))
            m.setattr(torch.Tensor, "cuda", lambda self, *a, **k: self)
            return fn(*args, **kwargs)
    return run


def _predict_py(esm_module: types.ModuleType, model_location: str, sequence: str, mutations: list[str],
                scoring_strategy: str, offset_idx: int = 1) -> list[float]:
    """examples/variant-prediction/predict.py's main() for one model: its loader, its .cuda() calls, its
    scoring of each mutation ("wt-marginals", "masked-marginals") as label_row computes it, and "pseudo-ppl" as
    compute_pppl does (one masked pass per position of each mutant, batch 1)."""
    pretrained, MSATransformer = esm_module.pretrained, esm_module.MSATransformer

    def label_row(row, sequence, token_probs, alphabet, offset_idx):
        wt, idx, mt = row[0], int(row[1:-1]) - offset_idx, row[-1]
        assert sequence[idx] == wt, "The listed wildtype does not match the provided sequence"
        wt_encoded, mt_encoded = alphabet.get_idx(wt), alphabet.get_idx(mt)
        # add 1 for BOS
        score = token_probs[0, 1 + idx, mt_encoded] - token_probs[0, 1 + idx, wt_encoded]
        return score.item()

    def compute_pppl(row, sequence, model, alphabet, offset_idx):
        wt, idx, mt = row[0], int(row[1:-1]) - offset_idx, row[-1]
        assert sequence[idx] == wt, "The listed wildtype does not match the provided sequence"
        sequence = sequence[:idx] + mt + sequence[(idx + 1):]
        batch_converter = alphabet.get_batch_converter()
        batch_labels, batch_strs, batch_tokens = batch_converter([("protein1", sequence)])
        log_probs = []
        for i in range(1, len(sequence) - 1):
            batch_tokens_masked = batch_tokens.clone()
            batch_tokens_masked[0, i] = alphabet.mask_idx
            with torch.no_grad():
                token_probs = torch.log_softmax(model(batch_tokens_masked.cuda())["logits"], dim=-1)
            log_probs.append(token_probs[0, i, alphabet.get_idx(sequence[i])].item())
        return sum(log_probs)

    model, alphabet = pretrained.load_model_and_alphabet(model_location)
    model.eval()
    if torch.cuda.is_available():
        model = model.cuda()
    batch_converter = alphabet.get_batch_converter()
    assert not isinstance(model, MSATransformer)
    data = [("protein1", sequence)]
    batch_labels, batch_strs, batch_tokens = batch_converter(data)
    if scoring_strategy == "wt-marginals":
        with torch.no_grad():
            token_probs = torch.log_softmax(model(batch_tokens.cuda())["logits"], dim=-1)
    elif scoring_strategy == "masked-marginals":
        all_token_probs = []
        for i in range(batch_tokens.size(1)):
            batch_tokens_masked = batch_tokens.clone()
            batch_tokens_masked[0, i] = alphabet.mask_idx
            with torch.no_grad():
                token_probs = torch.log_softmax(model(batch_tokens_masked.cuda())["logits"], dim=-1)
            all_token_probs.append(token_probs[:, i])  # vocab size
        token_probs = torch.cat(all_token_probs, dim=0).unsqueeze(0)
    elif scoring_strategy == "pseudo-ppl":
        return [compute_pppl(m, sequence, model, alphabet, offset_idx) for m in mutations]
    return [label_row(m, sequence, token_probs, alphabet, offset_idx) for m in mutations]


@pytest.mark.parametrize("strategy", ["wt-marginals", "masked-marginals", "pseudo-ppl"])
@pytest.mark.parametrize("key", ["esm1v_t2_32_zip", "esm2_t3_48_zip", "esm1b_t2_48_zip"])
def test_predict_py_scores_match_fair_esm(checkpoints, fair_esm_on_cpu, tmp_path, monkeypatch, key, strategy):
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    ckpt = str(checkpoints[key])
    want = fair_esm_on_cpu(_predict_py, esm, ckpt, SEQUENCE, MUTATIONS, strategy)
    with pytest.warns(RuntimeWarning, match="cuda"):  # the script's .cuda() is kept on the CPU, said once
        got = _predict_py(compat, ckpt, SEQUENCE, MUTATIONS, strategy)
    assert len(got) == len(MUTATIONS) and np.std(want) > 0
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


@pytest.mark.parametrize("key,include", [
    ("esm2_t3_48_zip", "mean per_tok bos contacts"),
    ("esm1b_t2_32_legacy", "mean per_tok bos contacts"),
    ("esm1_t2_48_zip", "per_tok contacts"),
    ("esm1v_t2_32_zip", "mean bos"),
])
def test_extract_py_through_the_drop_in(checkpoints, fair_esm_on_cpu, tmp_path, monkeypatch, key, include):
    """extract.py's logic (FastaBatchedDataset, a DataLoader over its batches, the batch converter as collate_fn)
    on parity.fasta, inline <mask> records included: the drop-in tokenizes as fair-esm does, so even the script's
    character-length slicing gives the same rows."""
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    argv = [str(checkpoints[key]), str(DATA / "parity.fasta"), "{out}", "--toks_per_batch", "300", "--repr_layers",
            "0", "-1", "--include", *include.split()]
    fair_esm_on_cpu(_extract_py, [a.format(out=tmp_path / "ref") for a in argv], esm)
    _extract_py([a.format(out=tmp_path / "ours") for a in argv], compat)
    compare_pt_files(tmp_path / "ours", tmp_path / "ref")


@pytest.mark.parametrize("key", ["esm2_t3_48_zip", "esm1_t2_48_zip", "esm1b_t2_32_legacy", "esm1v_t2_32_zip"])
def test_need_head_weights_matches_fair_esm(checkpoints, fair_esm_on_cpu, tmp_path, monkeypatch, key):
    """model(tokens, need_head_weights=True)["attentions"] on a padded batch; the checkpoint is converted once
    more, with the attentions output, and that graph replaces the first."""
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    records = [("a", "MKTAYIAKQRQISFVKSHFSRQ"), ("b", "KALTARQQ"), ("c", "GSHMSDNGPQNQRNAPRITFGG<mask>PSD")]
    fair, fair_alphabet = fair_esm_on_cpu(esm.pretrained.load_model_and_alphabet_local, str(checkpoints[key]))
    fair.eval()
    _, _, toks = fair_alphabet.get_batch_converter()(records)
    with torch.no_grad():
        want = fair(toks, repr_layers=[1], need_head_weights=True)
    model, alphabet = compat.pretrained.load_model_and_alphabet_local(checkpoints[key])
    got = model(alphabet.get_batch_converter()(records)[2], repr_layers=[1], need_head_weights=True)
    assert sorted(got) == sorted(k for k in want if k != "contacts" or k in got)
    for k in ("attentions", "logits"):
        assert got[k].shape == want[k].shape
        assert float((got[k] - want[k]).abs().max()) <= TOL, k
    assert len(list((tmp_path / "cache").glob("*-attentions/model.onnx"))) == 1


def test_fair_esms_public_names_import(checkpoints):
    """Everything esm, esm.data and esm.pretrained export is importable from the drop-in under the same name."""
    def public(module, kinds):
        return {n for n, v in vars(module).items() if not n.startswith("_") and isinstance(v, kinds)
                and getattr(v, "__module__", module.__name__).startswith("esm")}

    for name in ("Alphabet", "BatchConverter", "FastaBatchedDataset", "ProteinBertModel", "ESM2", "MSATransformer",
                 "pretrained", "__version__"):
        assert hasattr(esm, name) and hasattr(compat, name), name
    assert compat.__version__ == esm.__version__
    for name in public(esm.data, (type, types.FunctionType)):
        assert hasattr(compat.data, name), f"esm.data.{name}"
    for name in public(esm.pretrained, types.FunctionType):
        assert hasattr(compat.pretrained, name), f"esm.pretrained.{name}"
    from esm_onnx.compat import inverse_folding  # noqa: F401  (imports; using it raises)

    with pytest.raises(esm_onnx.UnsupportedError, match="ESM-IF"):
        compat.inverse_folding.util.load_structure("x.pdb", "A")
    with pytest.raises(esm_onnx.UnsupportedError, match="MSA Transformer"):
        compat.pretrained.esm_msa1b_t12_100M_UR50S()
    with pytest.raises(esm_onnx.UnsupportedError, match="esmfold_v0"):  # fair-esm's files only
        compat.pretrained.esmfold_v0()
    with pytest.raises(esm_onnx.UnsupportedError, match="MSA Transformer"):
        compat.MSATransformer()
    with pytest.raises(esm_onnx.UnsupportedError, match="PyTorch model"):
        compat.ESM2(num_layers=2)


def test_alphabet_and_tokenizer_are_fair_esms():
    for arch in ("ESM-1b", "ESM-1", "roberta_large", "protein_bert_base"):
        a, f = compat.Alphabet.from_architecture(arch), esm.Alphabet.from_architecture(arch)
        for attr in ("all_toks", "standard_toks", "prepend_toks", "append_toks", "all_special_tokens",
                     "unique_no_split_tokens", "padding_idx", "cls_idx", "eos_idx", "mask_idx", "unk_idx",
                     "prepend_bos", "append_eos", "use_msa"):
            assert getattr(a, attr) == getattr(f, attr), (arch, attr)
        for text in ("MKTAYIAKQR", "K A <mask> I S Q", "<cls>MK<eos><pad>", " MK  TA ", "M<mask><mask>K", "XBZUO.-",
                     "", "A\tC\nD"):
            assert a.tokenize(text) == f.tokenize(text), (arch, text)
            assert a.encode(text) == f.encode(text), (arch, text)
        for bad in ("MKj", "MK*", "mk", "<masK", "M K <"):
            with pytest.raises(KeyError):
                f.encode(bad)
            with pytest.raises(KeyError):
                a.encode(bad)
            assert a.tokenize(bad) == f.tokenize(bad)


def test_fasta_batched_dataset_quirks(tmp_path):
    path = tmp_path / "odd.fasta"
    path.write_text("MKT\n>first one\nMKTA\n  YIAK \n>\nGGG\n>third\n\n>fourth\nAAAAAAAAAAAAAAAAAAAA\n>x\nM\n")
    a, f = compat.FastaBatchedDataset.from_file(path), esm.FastaBatchedDataset.from_file(path)
    assert a.sequence_labels == f.sequence_labels and a.sequence_strs == f.sequence_strs
    assert len(a) == len(f) and a[1] == f[1]
    for budget, extra in ((1, 0), (8, 1), (12, 2), (25, 1), (1000, 0)):
        assert a.get_batch_indices(budget, extra_toks_per_seq=extra) == f.get_batch_indices(budget, extra), budget
    (tmp_path / "dup.fasta").write_text(">a\nMK\n>a\nKM\n")
    for ds in (compat.FastaBatchedDataset, esm.FastaBatchedDataset):
        with pytest.raises(AssertionError, match="duplicate"):
            ds.from_file(tmp_path / "dup.fasta")


def test_model_methods_scripts_call(checkpoints, tmp_path, monkeypatch, recwarn):
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    model, alphabet = compat.pretrained.load_model_and_alphabet_local(checkpoints["esm2_t3_48_zip"])
    assert isinstance(model, compat.ESM2) and not isinstance(model, compat.MSATransformer)
    assert model.eval() is model and model.train(False) is model and model.cpu() is model
    assert model.to("cpu") is model and model.requires_grad_(False) is model
    assert (model.num_layers, model.embed_dim, model.attention_heads) == (3, 48, 4)
    assert len(model.layers) == 3 and model.embed_tokens.embedding_dim == 48
    assert model.alphabet is alphabet
    assert model.cuda() is model and model.cuda() is model and model.half() is model
    said = [str(w.message) for w in recwarn.list]
    assert sum("model.cuda()" in s for s in said) == 1 and sum("model.half()" in s for s in said) == 1
    with pytest.raises(esm_onnx.UsageError, match="inference only"):
        model.train()
    fair_esm_too_long = "Sequence length 1100 above maximum  sequence length of 1024"
    model1b, _ = compat.pretrained.load_model_and_alphabet_local(checkpoints["esm1b_t2_48_zip"])
    assert isinstance(model1b, compat.ProteinBertModel) and model1b.model_version == "ESM-1b"
    with pytest.raises(ValueError, match=fair_esm_too_long):
        model1b(torch.full((1, 1100), alphabet.get_idx("A")))


def test_too_long_batch_leaves_no_engine_lines_on_stderr(checkpoints, tmp_path):
    """fair-esm's ValueError, and nothing from ONNX Runtime on the terminal (a subprocess, to see its stderr)."""
    import os
    import subprocess
    import sys

    from conftest import PYPKG

    code = f"""
import sys
sys.path.insert(0, {str(PYPKG)!r})
import numpy as np
from esm_onnx import compat
model, alphabet = compat.pretrained.load_model_and_alphabet_local({str(checkpoints["esm1b_t2_48_zip"])!r})
try:
    model(np.full((1, 1030), 5))
except ValueError as e:
    print(e)
try:
    model.onnx_model.forward(np.full((1, 1030), 5))
except ValueError as e:
    print(type(e).__name__, e)
"""
    env = dict(os.environ, ESM_ONNX_CACHE=str(tmp_path / "cache"))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "Sequence length 1030 above maximum  sequence length of 1024"
    assert lines[1].startswith("UsageError") and "at most 1024" in lines[1]
    assert p.stderr == "", p.stderr


def test_model_to_takes_a_device_and_a_dtype_together(checkpoints, tmp_path, monkeypatch, recwarn):
    """nn.Module.to("cuda", torch.float16): both parts are taken (here: one note each), in any spelling."""
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    model, _ = compat.pretrained.load_model_and_alphabet_local(checkpoints["esm2_t3_48_zip"])
    assert model.to(torch.device("cpu"), dtype=torch.float32) is model and not recwarn.list
    assert model.to("cuda", torch.float16) is model
    said = [str(w.message) for w in recwarn.list]
    assert sum("model.cuda()" in s for s in said) == 1 and sum("model.half()" in s for s in said) == 1


def _esm_variants_main(esm_module: types.ModuleType, model_location: str, records: list[tuple[str, str]]):
    """esm-variants' esm_score_missense_mutations.py main() with get_wt_LLR as esm_variants_utils.py writes it: the
    model called with repr_layers=[33] whatever its depth, `.to(device)` on the model and the tokens, proteins beyond
    1,022 residues tiled (get_intervals_and_weights, chunks of 20 tiles), the LLR table stacked into its CSV rows.
    The loader is fair-esm's pretrained.load_model_and_alphabet (the script's torch.hub.load needs the network);
    the FASTA is given as its (id, seq) records (the script's Bio.SeqIO is not installed here)."""
    import pandas as pd

    from oracle import esm_variants_tiles

    AAorder = ['K', 'R', 'H', 'E', 'D', 'N', 'Q', 'T', 'S', 'C', 'G', 'A', 'V', 'L', 'I', 'M', 'P', 'Y', 'F', 'W']
    device = "cpu"
    model, alphabet = esm_module.pretrained.load_model_and_alphabet(model_location)
    model = model.eval().to(device)
    batch_converter = alphabet.get_batch_converter()
    input_df = pd.DataFrame({"id": [r[0] for r in records], "seq": [r[1] for r in records],
                             "length": [len(r[1]) for r in records]})
    LLRs, input_df_ids = [], []
    for gname in input_df.id.values:
        seq_length = input_df[input_df.id == gname].length.values[0]
        seq = input_df[input_df.id == gname].seq.values[0]
        if seq_length <= 1022:
            batch_labels, batch_strs, batch_tokens = batch_converter([(gname + '_WT', seq)])
            with torch.no_grad():
                results_ = torch.log_softmax(model(batch_tokens.to(device), repr_layers=[33], return_contacts=False)['logits'], dim=-1)
            WTlogits = pd.DataFrame(results_[0, :, :].cpu().numpy()[1:-1, :], columns=alphabet.all_toks, index=list(seq)).T.iloc[4:24].loc[AAorder]
        else:
            ints, M_norm = esm_variants_tiles(len(seq), min_overlap=512, max_len=1022, s=20)
            dt = [(gname + '_WT_' + str(i), ''.join(list(np.array(list(seq))[idx]))) for i, idx in enumerate(ints)]
            logit_parts = []
            for start in range(0, len(dt), 20):
                batch_labels, batch_strs, batch_tokens = batch_converter(dt[start:start + 20])
                with torch.no_grad():
                    results_ = torch.log_softmax(model(batch_tokens.to(device), repr_layers=[33], return_contacts=False)['logits'], dim=-1)
                for i in range(results_.shape[0]):
                    logit_parts += [results_[i, :, :].cpu().numpy()[1:-1, :]]
            logits_full = np.zeros((len(seq), 33))
            for i in range(len(ints)):
                logit = np.zeros((len(seq), 33))
                logit[ints[i]] = logit_parts[i][:len(ints[i])].copy()
                logit = np.multiply(logit.T, M_norm[i, :]).T
                logits_full += logit
            WTlogits = pd.DataFrame(logits_full, columns=alphabet.all_toks, index=list(seq)).T.iloc[4:24].loc[AAorder]
        WTlogits.columns = [j.split('.')[0] + ' ' + str(i + 1) for i, j in enumerate(WTlogits.columns)]
        wt_norm = np.diag(WTlogits.loc[[i.split(' ')[0] for i in WTlogits.columns]])
        LLRs += [WTlogits - wt_norm]
        input_df_ids += [gname]
    results = []
    for seq_id, LLR in zip(input_df_ids, LLRs):
        raw = LLR.transpose().stack().reset_index().rename(columns={'level_0': 'wt_aa_and_pos', 'level_1': 'mut_aa', 0: 'esm_score'})
        results.append(pd.DataFrame({'seq_id': seq_id, 'mut_name': raw['wt_aa_and_pos'].str.replace(' ', '') + raw['mut_aa'],
                                     'esm_score': raw['esm_score']}))
    return pd.concat(results).reset_index(drop=True)


@pytest.mark.parametrize("key", ["esm2_t3_48_zip", "esm1b_t2_48_zip"])
def test_esm_variants_script_through_the_drop_in(checkpoints, fair_esm_on_cpu, tmp_path, monkeypatch, key):
    """Round three, case 12: get_wt_LLR passes repr_layers=[33] to every model; fair-esm's forward returns the layers
    that exist and ignores the rest, the drop-in raised "layer 33 does not exist" for any smaller model."""
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(7)
    aa = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    records = [("p1", SEQUENCE), ("p2", "".join(rng.choice(aa, 25))), ("long", "".join(rng.choice(aa, 1100)))]
    want = fair_esm_on_cpu(_esm_variants_main, esm, str(checkpoints[key]), records)
    got = _esm_variants_main(compat, str(checkpoints[key]), records)
    assert list(got.columns) == ["seq_id", "mut_name", "esm_score"] and len(got) == 20 * sum(len(s) for _, s in records)
    assert (got["mut_name"] == want["mut_name"]).all() and (got["seq_id"] == want["seq_id"]).all()
    np.testing.assert_allclose(got["esm_score"], want["esm_score"], atol=TOL, rtol=0)


@pytest.mark.parametrize("layers", [[33], [-1], [0, 2, 99], [1, 1, 3]])
def test_repr_layers_are_treated_as_fair_esms_forward_treats_them(checkpoints, fair_esm_on_cpu, tmp_path, monkeypatch,
                                                                  layers):
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "cache"))
    ckpt = str(checkpoints["esm2_t3_48_zip"])

    def run(module):
        model, alphabet = module.pretrained.load_model_and_alphabet(ckpt)
        tokens = alphabet.get_batch_converter()([("a", SEQUENCE)])[2]
        with torch.no_grad():
            return {k: np.asarray(v) for k, v in model(tokens, repr_layers=layers)["representations"].items()}

    want = fair_esm_on_cpu(run, esm)
    got = run(compat)
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], atol=TOL, rtol=0)
