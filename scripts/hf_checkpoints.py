"""Random-weight transformers ESM models in the on-disk layouts people hold, for tests and benchmarks.

  save_pretrained  - what transformers 5.x writes (LayerNorm gamma/beta, one rotary frequency tensor)
  hub              - what the hub serves (written by 4.x: LayerNorm weight/bias, per-layer inv_freq, an
                     unused position table in rotary models)
  bin              - pytorch_model.bin (a torch zip of the state dict)
  sharded          - model.safetensors.index.json and several shards
"""
from __future__ import annotations

import pathlib

import torch

HEADS = ("EsmForMaskedLM", "EsmModel", "EsmForSequenceClassification", "EsmForTokenClassification")
LABELS = {"EsmForSequenceClassification": ["soluble", "membrane", "secreted"],
          "EsmForTokenClassification": ["helix", "strand", "coil", "turn"]}


def config(positions: str, layers: int, dim: int, heads: int, head: str, emb_layer_norm_before: bool = False,
           token_dropout: bool | None = None):
    from transformers import EsmConfig

    labels = LABELS.get(head)
    extra = {"id2label": dict(enumerate(labels)), "label2id": {l: i for i, l in enumerate(labels)}} if labels else {}
    return EsmConfig(vocab_size=33, hidden_size=dim, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=4 * dim, position_embedding_type=positions, pad_token_id=1, mask_token_id=32,
                     token_dropout=positions == "rotary" if token_dropout is None else token_dropout, emb_layer_norm_before=emb_layer_norm_before,
                     max_position_embeddings=1026, layer_norm_eps=1e-5, architectures=[head], **extra)


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Every parameter random (LayerNorms near 1), so that a wrong mapping shows in the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / p.shape[-1] ** 0.5))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def build(head: str, positions: str = "rotary", layers: int = 2, dim: int = 32, heads: int = 4, seed: int = 0,
          emb_layer_norm_before: bool = False):
    import transformers

    cfg = config(positions, layers, dim, heads, head, emb_layer_norm_before)
    model = getattr(transformers, head)(cfg)
    randomize(model, seed)
    return model.eval()


def save(model, path: pathlib.Path, layout: str = "save_pretrained") -> pathlib.Path:
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    if layout == "save_pretrained":
        model.save_pretrained(path)
    elif layout == "sharded":
        model.save_pretrained(path, max_shard_size="20KB")
        assert (path / "model.safetensors.index.json").exists()
    elif layout in ("hub", "bin"):
        model.config.save_pretrained(path)
        state = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
        if layout == "hub":
            state = _as_hub(model, state)
            save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
        else:
            torch.save(state, path / "pytorch_model.bin")
    else:
        raise ValueError(layout)
    return path


def _as_hub(model, state: dict) -> dict:
    """The names and extra tensors of files written by transformers 4.x."""
    out = {}
    prefix = "esm." if any(k.startswith("esm.") for k in state) else ""
    for k, v in state.items():
        if k.endswith("rotary_embeddings.inv_freq"):
            continue
        out[k.replace(".gamma", ".weight").replace(".beta", ".bias")] = v
    cfg = model.config
    if cfg.position_embedding_type == "rotary":
        d = cfg.hidden_size // cfg.num_attention_heads
        inv = (1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))).half().float()
        for i in range(cfg.num_hidden_layers):
            out[f"{prefix}encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq"] = inv.clone()
        out[f"{prefix}embeddings.position_embeddings.weight"] = torch.randn(cfg.max_position_embeddings, cfg.hidden_size)
    return out


def load(path: pathlib.Path, head: str):
    import transformers

    return getattr(transformers, head).from_pretrained(path, attn_implementation="eager").eval()


def fair_esm_state_to_hf(fair_state: dict, positions: str) -> dict:
    """fair-esm ESM-2 / ESM-1b weights under transformers' EsmForMaskedLM names (convert_esm.py's mapping)."""
    names = {"self_attn.q_proj": "attention.self.query", "self_attn.k_proj": "attention.self.key",
             "self_attn.v_proj": "attention.self.value", "self_attn.out_proj": "attention.output.dense",
             "self_attn_layer_norm": "attention.LayerNorm", "fc1": "intermediate.dense", "fc2": "output.dense",
             "final_layer_norm": "LayerNorm"}
    out = {"esm.embeddings.word_embeddings.weight": fair_state["embed_tokens.weight"],
           "esm.encoder.emb_layer_norm_after.weight": fair_state["emb_layer_norm_after.weight"],
           "esm.encoder.emb_layer_norm_after.bias": fair_state["emb_layer_norm_after.bias"],
           "lm_head.dense.weight": fair_state["lm_head.dense.weight"], "lm_head.dense.bias": fair_state["lm_head.dense.bias"],
           "lm_head.layer_norm.weight": fair_state["lm_head.layer_norm.weight"],
           "lm_head.layer_norm.bias": fair_state["lm_head.layer_norm.bias"],
           "lm_head.decoder.weight": fair_state["lm_head.weight"], "lm_head.bias": fair_state["lm_head.bias"],
           "esm.contact_head.regression.weight": fair_state["contact_head.regression.weight"],
           "esm.contact_head.regression.bias": fair_state["contact_head.regression.bias"]}
    if positions == "absolute":
        out["esm.embeddings.position_embeddings.weight"] = fair_state["embed_positions.weight"]
    if "emb_layer_norm_before.weight" in fair_state:
        out["esm.embeddings.layer_norm.weight"] = fair_state["emb_layer_norm_before.weight"]
        out["esm.embeddings.layer_norm.bias"] = fair_state["emb_layer_norm_before.bias"]
    for k, v in fair_state.items():
        if not k.startswith("layers."):
            continue
        _, i, rest = k.split(".", 2)
        for src, dst in names.items():
            if rest.startswith(src + "."):
                out[f"esm.encoder.layer.{i}.{dst}.{rest[len(src) + 1:]}"] = v
        if rest == "self_attn.rot_emb.inv_freq":
            out[f"esm.encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq"] = v
    return {k: v.clone().contiguous() for k, v in out.items()}



# ESM C ---------------------------------------------------------------------------------------------

ESMC_HEADS = ("EsmcForMaskedLM", "EsmcModel", "EsmcForSequenceClassification", "EsmcForTokenClassification")
# The two released geometries scaled down: 64-wide heads, SwiGLU hidden size rounded up to 256 as released.
ESMC_GEOMETRIES = {"300m-like": (3, 192), "600m-like": (2, 256)}  # (layers, width)


def esmc_ffn(dim: int) -> int:
    return int(((8 / 3 * dim) + 255) // 256 * 256)


def build_esmc(head: str = "EsmcForMaskedLM", layers: int = 2, dim: int = 128, seed: int = 0):
    import transformers
    from transformers import EsmcConfig

    labels = LABELS.get(head.replace("Esmc", "Esm"))
    extra = {"id2label": dict(enumerate(labels)), "label2id": {l: i for i, l in enumerate(labels)}} if labels else {}
    cfg = EsmcConfig(vocab_size=64, hidden_size=dim, intermediate_size=esmc_ffn(dim), num_hidden_layers=layers,
                     num_attention_heads=dim // 64, architectures=[head], **extra)
    model = getattr(transformers, head)(cfg)
    randomize(model, seed)
    return model.eval()


def esmc_release_state(model) -> dict:
    """The weights under EvolutionaryScale's release names (esmc_300m_2024_12_v0.pth): q, k, v packed in
    layernorm_qkv.1, the SwiGLU gate and input packed in ffn.1, the LM head as sequence_head."""
    s = {k.removeprefix("esmc."): v for k, v in model.state_dict().items()}
    n = model.config.num_hidden_layers
    out = {"embed.weight": s["embed_tokens.weight"], "transformer.norm.weight": s["norm.weight"]}
    for i in range(n):
        p, b = f"layers.{i}.", f"transformer.blocks.{i}."
        out[b + "attn.layernorm_qkv.0.weight"] = s[p + "input_layernorm.weight"]
        out[b + "attn.layernorm_qkv.0.bias"] = s[p + "input_layernorm.bias"]
        out[b + "attn.layernorm_qkv.1.weight"] = torch.cat([s[p + f"self_attn.{x}_proj.weight"] for x in "qkv"])
        out[b + "attn.q_ln.weight"] = s[p + "self_attn.q_norm.weight"]
        out[b + "attn.k_ln.weight"] = s[p + "self_attn.k_norm.weight"]
        out[b + "attn.out_proj.weight"] = s[p + "self_attn.o_proj.weight"]
        out[b + "ffn.0.weight"] = s[p + "post_attention_layernorm.weight"]
        out[b + "ffn.0.bias"] = s[p + "post_attention_layernorm.bias"]
        out[b + "ffn.1.weight"] = torch.cat([s[p + "mlp.gate_proj.weight"], s[p + "mlp.up_proj.weight"]])
        out[b + "ffn.3.weight"] = s[p + "mlp.down_proj.weight"]
    for src, dst in (("dense", 0), ("layer_norm", 2), ("decoder", 3)):
        for part in ("weight", "bias"):
            if f"lm_head.{src}.{part}" in s:
                out[f"sequence_head.{dst}.{part}"] = s[f"lm_head.{src}.{part}"]
    return {k: v.clone().contiguous() for k, v in out.items()}


def esmc_te_state(model) -> dict:
    """The TransformerEngine names some hub repositories carry, with their empty _extra_state entries."""
    release = esmc_release_state(model)
    out = {}
    renames = (("attn.layernorm_qkv.0.weight", "attn.layernorm_qkv.layer_norm_weight"),
               ("attn.layernorm_qkv.0.bias", "attn.layernorm_qkv.layer_norm_bias"),
               ("attn.layernorm_qkv.1.weight", "attn.layernorm_qkv.weight"),
               ("ffn.0.weight", "ffn.layer_norm_weight"), ("ffn.0.bias", "ffn.layer_norm_bias"),
               ("ffn.1.weight", "ffn.fc1_weight"), ("ffn.3.weight", "ffn.fc2_weight"))
    for k, v in release.items():
        if k.startswith("sequence_head."):
            out["lm_head." + k.removeprefix("sequence_head.")] = v
            continue
        for a, b in renames:
            if k.endswith(a):
                k = k[: -len(a)] + b
        out["esmc." + k] = v
    for i in range(model.config.num_hidden_layers):
        out[f"esmc.transformer.blocks.{i}.attn.layernorm_qkv._extra_state"] = torch.empty(0)
        out[f"esmc.transformer.blocks.{i}.ffn._extra_state"] = torch.empty(0)
    return out


def save_esmc(model, path: pathlib.Path, layout: str) -> pathlib.Path:
    """save_pretrained: a folder; release: a .pth file; te: a .safetensors file. Returns what to convert."""
    from safetensors.torch import save_file

    if layout == "save_pretrained":
        model.save_pretrained(path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout == "release":
        torch.save(esmc_release_state(model), path)
    elif layout == "te":
        save_file(esmc_te_state(model), str(path))
    else:
        raise ValueError(layout)
    return path


ESMC_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", *"LAGVSERTIDPKQNFYMHWCXBUZO.-|", "<mask>"]


def esmc_tokens(sequence: str) -> list[int]:
    """BOS, the ids, EOS, as ESM C's tokenizer writes them (`<mask>` inline is one token)."""
    out, i = [0], 0
    while i < len(sequence):
        if sequence.startswith("<mask>", i):
            out.append(32)
            i += 6
        else:
            out.append(ESMC_VOCAB.index(sequence[i]))
            i += 1
    return out + [2]


def esmc_batch(records):
    """Right-padded tokens, the attention mask, and transformers' sequence_id: the chain of each token is
    the number of '|' before it (the break closes its chain), -1 at padding."""
    ids = [esmc_tokens(s) for _, s in records]
    T = max(map(len, ids))
    toks = torch.tensor([x + [1] * (T - len(x)) for x in ids])
    brk = (toks == 31).long()
    sid = torch.cumsum(brk, 1) - brk
    sid[toks == 1] = -1
    return toks, (toks != 1).long(), sid


def train_esmc_briefly(model, steps: int, seed: int = 0) -> None:
    """Masked-LM steps on random sequences, so that the logits are confident as a released model's are."""
    from esm_checkpoints import AMINO_ACIDS

    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    aa = torch.tensor([ESMC_VOCAB.index(c) for c in AMINO_ACIDS])
    for _ in range(steps):
        full = torch.full((8, 66), 1)
        full[:, 0], full[:, 65] = 0, 2
        full[:, 1:65] = aa[torch.randint(len(aa), (8, 64), generator=g)]
        inp = full.clone()
        masked = (torch.rand(inp.shape, generator=g) < 0.15) & (inp > 2)
        inp[masked] = 32
        logits = model(inp).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), full.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
