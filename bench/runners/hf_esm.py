"""HF transformers `EsmModel` (SDPA attention) on the same weights, mapped from the fair-esm checkpoint,
over esm-extract's batches with an attention mask."""
from __future__ import annotations

from common import embed_all, save_mean, start_torch_runner

import hf_checkpoints  # noqa: E402 (scripts/ is on the path once common is imported)


def hf_model(fair_model):
    """EsmModel with fair-esm's weights. ESM-2 (rotary) and ESM-1b (learned positions) map one to one."""
    from transformers import EsmConfig, EsmModel

    esm2 = not hasattr(fair_model, "embed_positions")
    args = getattr(fair_model, "args", fair_model)
    E, heads = args.embed_dim, args.attention_heads
    cfg = EsmConfig(vocab_size=33, hidden_size=E, num_hidden_layers=fair_model.num_layers,
                    num_attention_heads=heads, intermediate_size=4 * E,
                    max_position_embeddings=1026, position_embedding_type="rotary" if esm2 else "absolute",
                    token_dropout=True, mask_token_id=32, pad_token_id=1, layer_norm_eps=1e-5,
                    emb_layer_norm_before=not esm2 and fair_model.emb_layer_norm_before is not None,
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = EsmModel(cfg, add_pooling_layer=False)
    # transformers' convert_esm.py mapping (scripts/hf_checkpoints.py), the base model's part of it.
    mapped = hf_checkpoints.fair_esm_state_to_hf(fair_model.state_dict(), "rotary" if esm2 else "absolute")
    dst = {k.removeprefix("esm."): v for k, v in mapped.items()
           if k.startswith("esm.") and not k.startswith("esm.contact_head")}
    missing, unexpected = model.load_state_dict(dst, strict=False)
    missing = [k for k in missing if not any(s in k for s in ("inv_freq", "position_ids", "contact_head"))]
    if missing or unexpected:
        raise RuntimeError(f"HF mapping: missing {missing}, unexpected {unexpected}")
    return model.eval()


def main() -> None:
    a, timer, fair, alphabet = start_torch_runner(__doc__)
    layer = fair.num_layers
    model = hf_model(fair)
    del fair

    def forward(toks):
        return model(input_ids=toks, attention_mask=(toks != alphabet.padding_idx).long()).last_hidden_state, None

    embed_all(a, timer, alphabet, forward, lambda label, mean, _: save_mean(a.outdir, label, layer, mean.numpy()))


if __name__ == "__main__":
    main()
