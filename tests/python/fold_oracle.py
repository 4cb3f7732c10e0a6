"""ESMFold reference for the parity tests: transformers' EsmForProteinFolding does the forward, fair-esm's own
helpers (esm/esmfold/v1/misc.py) do the multimer encoding and the PDB writing, each record run alone (batch of 1)
the way fair-esm's ESMFold.infer and esm-fold compute it.

fair-esm's misc.py imports openfold (not installed) and einops (not installed): `_fair_esm_misc()` imports it with
transformers' vendored openfold_utils registered under the openfold names, and a stand-in einops whose functions
raise (misc uses einops only in its Attention class, which the oracle never touches). The stand-ins are taken out of
sys.modules again once misc is imported; misc keeps its own references.
"""
from __future__ import annotations

import contextlib
import importlib
import math
import pathlib
import sys
import types

import numpy as np
import torch

# The 33-token ESM-2 alphabet, in the order of facebook/esmfold_v1's config.json vocab_list (and vocab.txt).
VOCAB = ("<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N",
         "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>")

# Recycling distogram: FoldingTrunk.distogram(coords, 3.375, 21.375, 15) -> 14 edges.
RECYCLE_EDGES = np.linspace(3.375, 21.375, 14)

_SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "scripts"


# fair-esm's misc ---------------------------------------------------------------------------------------------

_MISC = None


def _fair_esm_misc():
    """esm.esmfold.v1.misc, imported against transformers' openfold_utils."""
    global _MISC
    if _MISC is not None:
        return _MISC
    if "esm.esmfold.v1.misc" in sys.modules:
        _MISC = sys.modules["esm.esmfold.v1.misc"]
        return _MISC
    from transformers.models.esm.openfold_utils import feats, protein, residue_constants

    def package(name, **children):
        m = types.ModuleType(name)
        m.__path__ = []  # a package, so that "openfold.np.protein" style imports resolve through sys.modules
        for k, v in children.items():
            setattr(m, k, v)
        return m

    def _no_einops(*_a, **_k):
        raise NotImplementedError("einops is not installed; the fold oracle's einops stand-in only lets misc import")

    shims = {"openfold.np.residue_constants": residue_constants, "openfold.np.protein": protein,
             "openfold.utils.feats": feats}
    shims["openfold.np"] = package("openfold.np", residue_constants=residue_constants, protein=protein)
    shims["openfold.utils"] = package("openfold.utils", feats=feats)
    shims["openfold"] = package("openfold", np=shims["openfold.np"], utils=shims["openfold.utils"])
    try:
        importlib.import_module("einops")
    except ImportError:
        shims["einops"] = types.ModuleType("einops")
        shims["einops"].rearrange = shims["einops"].repeat = _no_einops
    added = [k for k in shims if k not in sys.modules]
    for k in added:
        sys.modules[k] = shims[k]
    try:
        _MISC = importlib.import_module("esm.esmfold.v1.misc")
    finally:
        for k in added:
            sys.modules.pop(k, None)
    # The openfold pieces misc is now bound to must be transformers' (a real openfold would also do, but say so).
    assert _MISC.residue_constants.restype_order_with_x == residue_constants.restype_order_with_x
    return _MISC


# The model ----------------------------------------------------------------------------------------------------

def esmfold_config(*, stem_layers=2, stem_dim=64, stem_heads=4, trunk_blocks=2, c_s=64, c_z=32, seq_head_width=16,
                   pair_head_width=8, sm_blocks=8, position_bins=32, sm_c_s=48, sm_c_z=24, ipa_dim=8, ipa_heads=4,
                   qk_points=4, v_points=8, resnet_dim=32, lddt_hid=32, max_recycles=4):
    """EsmConfig of a scaled-down facebook/esmfold_v1. Everything not a size is as released: ESM-2 stem (rotary,
    token_dropout, no embedding layer norm, eps 1e-5, 33-token vocab, pad 1, mask 32), fp16_esm False, 4 max
    recycles, position_bins 32, 7 angles, trans_scale_factor 10. The structure module's widths (sm_c_s, sm_c_z)
    differ from the trunk's on purpose, so that a mix-up of the two shows."""
    from transformers import EsmConfig

    structure_module = dict(sequence_dim=sm_c_s, pairwise_dim=sm_c_z, ipa_dim=ipa_dim, resnet_dim=resnet_dim,
                            num_heads_ipa=ipa_heads, num_qk_points=qk_points, num_v_points=v_points, dropout_rate=0.1,
                            num_blocks=sm_blocks, num_transition_layers=1, num_resnet_blocks=2, num_angles=7,
                            trans_scale_factor=10, epsilon=1e-8, inf=1e5)
    trunk = dict(num_blocks=trunk_blocks, sequence_state_dim=c_s, pairwise_state_dim=c_z,
                 sequence_head_width=seq_head_width, pairwise_head_width=pair_head_width, position_bins=position_bins,
                 dropout=0, layer_drop=0, cpu_grad_checkpoint=False, max_recycles=max_recycles, chunk_size=None,
                 structure_module=structure_module)
    fold = dict(esm_type="esm2_3B", fp16_esm=False, use_esm_attn_map=False, esm_ablate_pairwise=False,
                esm_ablate_sequence=False, esm_input_dropout=0, embed_aa=True, bypass_lm=False,
                lddt_head_hid_dim=lddt_hid, trunk=trunk)
    return EsmConfig(vocab_size=len(VOCAB), hidden_size=stem_dim, num_hidden_layers=stem_layers,
                     num_attention_heads=stem_heads, intermediate_size=4 * stem_dim, hidden_act="gelu",
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=1026,
                     position_embedding_type="rotary", layer_norm_eps=1e-5, emb_layer_norm_before=False,
                     token_dropout=True, pad_token_id=VOCAB.index("<pad>"), mask_token_id=VOCAB.index("<mask>"),
                     is_folding_model=True, esmfold_config=fold, vocab_list=list(VOCAB),
                     architectures=["EsmForProteinFolding"])


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Every learned weight drawn afresh, none zero: linears N(0, 1/fan_in) with N(0, 0.1^2) biases, layer norms
    1 + N(0, 0.1^2) with N(0, 0.1^2) biases, embedding tables N(0, 0.5^2) (padding rows included), esm_s_combine
    N(0, 1), IPA head_weights N(0, 0.5^2). Buffers (af2_to_esm, position_ids, inv_freq) are not weights and stay."""
    g = torch.Generator().manual_seed(seed)

    def normal(shape, std, mean=0.0):
        return mean + std * torch.randn(shape, generator=g)

    done = set()
    with torch.no_grad():
        for mname, m in model.named_modules():
            own = dict(m.named_parameters(recurse=False))
            if not own:
                continue
            kind = type(m).__name__
            for pname, p in own.items():
                full = f"{mname}.{pname}" if mname else pname
                if isinstance(m, torch.nn.Linear):
                    v = normal(p.shape, 1.0 / math.sqrt(m.in_features)) if pname == "weight" else normal(p.shape, 0.1)
                elif "LayerNorm" in kind or isinstance(m, torch.nn.LayerNorm):
                    v = normal(p.shape, 0.1, 1.0) if pname == "weight" else normal(p.shape, 0.1)
                elif isinstance(m, torch.nn.Embedding):
                    v = normal(p.shape, 0.5)
                elif full == "esm_s_combine":
                    v = normal(p.shape, 1.0)
                elif pname == "head_weights":
                    v = normal(p.shape, 0.5)
                else:
                    raise AssertionError(f"no rule for parameter {full} in {kind}")
                p.copy_(v.to(p.dtype))
                done.add(full)
    missing = {n for n, _ in model.named_parameters()} - done
    assert not missing, missing


def make_esmfold(seed: int, **sizes):
    """A random-weight, float32, eval-mode transformers EsmForProteinFolding (see esmfold_config for the sizes)."""
    from transformers import EsmForProteinFolding

    model = EsmForProteinFolding(esmfold_config(**sizes))
    randomize(model, seed)
    return model.float().eval()


def save_transformers_folder(model, path, layout: str = "save_pretrained") -> pathlib.Path:
    """What facebook/esmfold_v1 holds: config.json, the weights, and the EsmTokenizer files (vocab.txt,
    tokenizer_config.json, special_tokens_map.json).

    layout (scripts/hf_checkpoints.save's): "save_pretrained" - model.save_pretrained, i.e. transformers 5's
    model.safetensors (ESM LayerNorms as gamma/beta, one "esm.encoder.layer.*.attention.self.rotary_embeddings.
    inv_freq" key); "hub" - the names of files written by transformers 4.x as on the hub (LayerNorm weight/bias,
    per-layer inv_freq, an unused position table); "bin" - pytorch_model.bin of the state dict; "sharded"."""
    import json

    from transformers import EsmTokenizer

    if str(_SCRIPTS) not in sys.path:
        sys.path.insert(0, str(_SCRIPTS))
    import hf_checkpoints

    path = pathlib.Path(path)
    hf_checkpoints.save(model, path, layout)
    vocab = path / "vocab.txt"
    vocab.write_text("\n".join(model.config.vocab_list) + "\n")
    EsmTokenizer(str(vocab)).save_pretrained(path)
    specials = path / "special_tokens_map.json"
    if not specials.exists():
        specials.write_text(json.dumps({"cls_token": "<cls>", "eos_token": "<eos>", "mask_token": "<mask>",
                                        "pad_token": "<pad>", "unk_token": "<unk>"}, indent=2) + "\n")
    return path


def load_transformers_folder(path):
    """EsmForProteinFolding.from_pretrained, float32, eval. Fold with this, not the in-memory model, after a "hub"
    save: transformers then uses the file's rotary inv_freq, which that layout stores fp16-rounded as 4.x did."""
    from transformers import EsmForProteinFolding

    return EsmForProteinFolding.from_pretrained(pathlib.Path(path)).float().eval()


# The reference fold ------------------------------------------------------------------------------------------

def _bin_margin(coords: torch.Tensor, min_bin: float, max_bin: float, num_bins: int) -> float:
    """Smallest |CB-CB distance - recycling bin edge| in Angstrom over all pairs i<j, the CBs built exactly as
    EsmFoldingTrunk.distogram builds them (float32, the same formula)."""
    N, CA, C = [x.squeeze(-2) for x in coords.chunk(3, dim=-2)]
    b = CA - N
    c = C - CA
    a = b.cross(c, dim=-1)
    CB = -0.58273431 * a + 0.56802827 * b - 0.54067466 * c + CA
    d2 = (CB[..., None, :, :] - CB[..., :, None, :]).pow(2).sum(dim=-1)
    d = d2.double().sqrt().reshape(-1, d2.shape[-2], d2.shape[-1])
    L = d.shape[-1]
    iu = torch.triu_indices(L, L, offset=1)
    if iu.shape[1] == 0:
        return math.inf
    d = d[:, iu[0], iu[1]].reshape(-1)
    edges = torch.linspace(min_bin, max_bin, num_bins - 1, dtype=torch.float64)
    return float((d[:, None] - edges[None, :]).abs().min())


@contextlib.contextmanager
def _recording_distogram(margins: list):
    from transformers.models.esm.modeling_esmfold import EsmFoldingTrunk

    original = EsmFoldingTrunk.__dict__["distogram"]
    fn = original.__func__

    def distogram(coords, min_bin, max_bin, num_bins):
        margins.append(_bin_margin(coords, min_bin, max_bin, num_bins))
        return fn(coords, min_bin, max_bin, num_bins)

    EsmFoldingTrunk.distogram = staticmethod(distogram)
    try:
        yield
    finally:
        EsmFoldingTrunk.distogram = original


def _fold_one(model, misc, sequence, num_recycles, residue_index_offset, chain_linker) -> dict:
    from transformers.models.esm.openfold_utils import compute_tm, feats

    aatype, mask, residx, linker_mask, chain_index = misc.batch_encode_sequences(
        [sequence], residue_index_offset, chain_linker)
    dev = model.esm_s_combine.device
    aatype, mask, residx, linker_mask = (t.to(dev) for t in (aatype, mask, residx, linker_mask))
    margins: list[float] = []
    with _recording_distogram(margins):
        out = model(aatype, attention_mask=mask, position_ids=residx, num_recycles=num_recycles)
    # ESMFold.infer: the linker's atoms do not exist; mean_plddt over the atoms that do.
    atom37_exists = out["atom37_atom_exists"] * linker_mask.unsqueeze(2)
    plddt = 100 * out["plddt"]  # transformers predicts 0-1; fair-esm scales to 0-100 in forward
    mean_plddt = (plddt * atom37_exists).sum(dim=(1, 2)) / atom37_exists.sum(dim=(1, 2))
    fair = {"positions": out["positions"], "aatype": aatype, "atom37_atom_exists": atom37_exists,
            "residx_atom37_to_atom14": out["residx_atom37_to_atom14"], "residue_index": residx, "plddt": plddt,
            "chain_index": chain_index.to(dev)}
    # esm-fold: output = {k: v.cpu()}; pdbs = model.output_to_pdb(output) -> misc.output_to_pdb
    pdb = misc.output_to_pdb({k: v.cpu() for k, v in fair.items()})[0]
    positions = feats.atom14_to_atom37(out["positions"][-1], fair)
    # fair-esm's ptm: compute_tm over each sequence's own length (transformers' takes the whole padded batch and one
    # value for it); for a batch of 1 the two agree.
    sl = int(mask.sum())
    ptm = float(compute_tm(out["ptm_logits"][0, None, :sl, :sl], max_bin=31, no_bins=model.distogram_bins))
    assert abs(ptm - float(out["ptm"])) <= 1e-6, (ptm, float(out["ptm"]))

    def np0(t):
        return t[0].detach().cpu().numpy()

    return {
        "sequence": sequence,
        "positions": np0(positions).astype(np.float32),
        "atom14_positions": np0(out["positions"][-1]).astype(np.float32),
        "atom_mask": np0(atom37_exists).astype(np.float32),
        "plddt_atoms": np0(plddt).astype(np.float32),
        "plddt": np0(plddt[..., 1]).astype(np.float32),
        "mean_plddt": float(mean_plddt[0]),
        "ptm": ptm,
        "predicted_aligned_error": np0(out["predicted_aligned_error"]).astype(np.float32),
        "max_predicted_aligned_error": float(out["max_predicted_aligned_error"]),
        "distogram_logits": np0(out["distogram_logits"]).astype(np.float32),
        "lm_logits": np0(out["lm_logits"]).astype(np.float32),
        "aatype": np0(aatype),
        "residue_index": np0(residx),
        "chain_index": np0(chain_index),
        "linker_mask": np0(linker_mask).astype(np.float32),
        "pdb": pdb,
        "bin_margin": min(margins[:-1], default=math.inf),
        "bin_margins": margins[:-1],
        "cycles": len(margins),
    }


def reference_fold(model, sequences, num_recycles=None, chunk_size=None, residue_index_offset=512,
                   chain_linker="G" * 25, threads: int | None = 1) -> list[dict]:
    """One dict per sequence, each folded alone as fair-esm's ESMFold.infer + esm-fold would, with transformers'
    model doing the forward. num_recycles as both: None = config max_recycles passes in all (4 as released, i.e. 3
    recycles), n = n recycles after the first pass. ':' separates chains.

    Keys: positions [L,37,3] (atom37 of the last structure-module block, zero where atom_mask is 0, linker included),
    atom14_positions [L,14,3] (unmasked), atom_mask [L,37], plddt_atoms [L,37] (0-100), plddt [L] (CA's),
    mean_plddt, ptm, predicted_aligned_error [L,L], max_predicted_aligned_error, distogram_logits [L,L,64],
    lm_logits [L,23], aatype, residue_index, chain_index, linker_mask [L], pdb (esm-fold's text), bin_margin (min
    over the cycles that fed a next one of the CB-CB distance's distance to a recycling bin edge, Angstrom; inf
    when nothing was recycled), bin_margins (per such cycle), cycles (trunk passes run), sequence.

    threads: torch intra-op threads for the call (restored after); 1 by default, as the tiny models' many small ops
    run faster on one thread than on two contended ones. None leaves torch's setting alone."""
    if isinstance(sequences, str):
        sequences = [sequences]
    misc = _fair_esm_misc()
    previous, previous_threads = model.trunk.chunk_size, torch.get_num_threads()
    model.trunk.set_chunk_size(chunk_size)
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            return [_fold_one(model, misc, s, num_recycles, residue_index_offset, chain_linker) for s in sequences]
    finally:
        model.trunk.set_chunk_size(previous)
        torch.set_num_threads(previous_threads)


def write_fasta(path, records) -> pathlib.Path:
    """records: [(label, sequence)] or {label: sequence}."""
    path = pathlib.Path(path)
    items = records.items() if isinstance(records, dict) else records
    path.write_text("".join(f">{label}\n{seq}\n" for label, seq in items))
    return path
