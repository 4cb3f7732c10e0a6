"""Random-weight fair-esm checkpoints laid out like the released files, made with fair-esm itself.

Used by the tests (parity against fair-esm) and to build the demo checkpoint. The weights are random:
the numbers mean nothing biologically, but every code path of the real on-disk formats is exercised.
"""
from __future__ import annotations

import argparse
import functools
import pathlib

import numpy as np
import torch

import esm

FAMILIES = ("esm2", "esm1b", "esm1v", "esm1")


def _randomize(model: torch.nn.Module, seed: int) -> None:
    # Default inits leave LayerNorms at 1/0 and biases at 0; random values everywhere make a wrong
    # parameter mapping visible in the outputs.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("inv_freq"):
                continue
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / p.shape[-1] ** 0.5))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def build_model(family: str, layers: int, dim: int, heads: int, seed: int = 0):
    """A fair-esm model object with random weights, and the args/cfg a released file would carry."""
    if family == "esm2":
        model = esm.ESM2(num_layers=layers, embed_dim=dim, attention_heads=heads, alphabet="ESM-1b", token_dropout=True)
        for layer in model.layers:
            # Released inv_freq buffers were rounded to fp16; keep that quirk.
            rot = layer.self_attn.rot_emb
            rot.inv_freq.copy_(rot.inv_freq.half().float())
        meta = {"cfg": {"model": argparse.Namespace(encoder_layers=layers, encoder_embed_dim=dim,
                                                    encoder_attention_heads=heads, token_dropout=True)}}
    elif family in ("esm1b", "esm1v"):
        args = argparse.Namespace(arch="roberta_large", layers=layers, embed_dim=dim, ffn_embed_dim=4 * dim,
                                  attention_heads=heads, max_positions=1024, token_dropout=True,
                                  emb_layer_norm_before=(family == "esm1b"))
        model = esm.ProteinBertModel(args, esm.Alphabet.from_architecture("roberta_large"))
        meta = {"args": argparse.Namespace(arch="roberta_large", encoder_layers=layers, encoder_embed_dim=dim,
                                           encoder_ffn_embed_dim=4 * dim, encoder_attention_heads=heads,
                                           max_positions=1024, token_dropout=True, dropout=0.1)}
    elif family == "esm1":
        args = argparse.Namespace(arch="protein_bert_base", layers=layers, embed_dim=dim, ffn_embed_dim=4 * dim,
                                  attention_heads=heads, max_positions=1024, final_bias=True)
        model = esm.ProteinBertModel(args, esm.Alphabet.from_architecture("protein_bert_base"))
        meta = {"args": argparse.Namespace(arch="protein_bert_base", decoder_layers=layers, decoder_embed_dim=dim,
                                           decoder_ffn_embed_dim=4 * dim, decoder_attention_heads=heads,
                                           max_positions=1024, final_bias=True)}
    else:
        raise ValueError(f"unknown family {family}")
    _randomize(model, seed)
    model.eval()
    return model, meta


AMINO_ACIDS = "LAGVSERTIDPKQNFYMHWC"


def train_briefly(model, alphabet, steps: int, seed: int = 0) -> None:
    """A few hundred masked-LM steps on random sequences, so that the model, like a released one, is
    confident about the tokens it sees. Random weights give near-tied logits, where any rounding flips the
    argmax; reduced-precision fidelity is measured on these briefly trained weights instead."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for n, p in model.named_parameters() if not n.endswith("inv_freq")], lr=2e-3)
    aa = torch.tensor([alphabet.get_idx(c) for c in AMINO_ACIDS])
    model.eval()  # no dropout: the loss is only a way to make confident weights
    for _ in range(steps):
        toks = aa[torch.randint(len(aa), (8, 64), generator=g)]
        full = torch.full((8, 66), alphabet.padding_idx)
        full[:, 0] = alphabet.cls_idx
        full[:, 1:65] = toks
        if alphabet.append_eos:
            full[:, 65] = alphabet.eos_idx
        else:
            full = full[:, :65]
        inp = full.clone()
        masked = (torch.rand(inp.shape, generator=g) < 0.15) & (inp != alphabet.cls_idx) & (inp != alphabet.eos_idx)
        inp[masked] = alphabet.mask_idx
        logits = model(inp)["logits"]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), full.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def _file_key(family: str, name: str) -> str:
    if family == "esm1":
        return "decoder." + name
    if name.startswith("lm_head"):
        return "encoder." + name
    return "encoder.sentence_encoder." + name


def save_checkpoint(family: str, layers: int, dim: int, heads: int, path: pathlib.Path, legacy: bool = False,
                    contacts: bool = True, seed: int = 0, train_steps: int = 0) -> pathlib.Path:
    """Writes `path` (and `<stem>-contact-regression.pt` when `contacts`) in the released layout."""
    model, meta = build_model(family, layers, dim, heads, seed)
    if train_steps:
        alphabet = esm.Alphabet.from_architecture("ESM-1" if family == "esm1" else "ESM-1b")
        train_briefly(model, alphabet, train_steps, seed)
    state = model.state_dict()  # tied embed_tokens / lm_head stay one storage, as in released files
    body = {_file_key(family, k): v for k, v in state.items() if not k.startswith("contact_head")}
    # What else real files carry: a numpy scalar in extra_state and optimizer state that must not be read.
    data = dict(meta)
    data["model"] = body
    data["extra_state"] = {"epoch": np.float64(7.0), "train_iterator": {"epoch": np.int64(7)}}
    data["last_optimizer_state"] = {"state": {0: {"exp_avg": torch.randn(1000), "step": 3}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, path, _use_new_zipfile_serialization=not legacy)
    if contacts:
        reg = {k: v for k, v in state.items() if k.startswith("contact_head")}
        torch.save({"model": reg}, path.with_name(path.stem + "-contact-regression.pt"),
                   _use_new_zipfile_serialization=not legacy)
    return path


def load_with_fair_esm(path: pathlib.Path):
    """fair-esm's own loader; torch >= 2.6 needs weights_only=False for argparse.Namespace."""
    original = torch.load
    torch.load = functools.partial(original, weights_only=False)
    try:
        model, alphabet = esm.pretrained.load_model_and_alphabet_local(str(path))
    finally:
        torch.load = original
    model.eval()
    return model, alphabet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("family", choices=FAMILIES)
    ap.add_argument("output", type=pathlib.Path)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--legacy", action="store_true", help="legacy (non-zip) torch serialization")
    ap.add_argument("--no-contacts", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-steps", type=int, default=0, help="masked-LM steps on random sequences (see train_briefly)")
    a = ap.parse_args()
    save_checkpoint(a.family, a.layers, a.dim, a.heads, a.output, a.legacy, not a.no_contacts, a.seed, a.train_steps)
    print(a.output)


if __name__ == "__main__":
    main()
