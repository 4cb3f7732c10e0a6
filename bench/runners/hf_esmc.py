"""transformers' ESM C (`EsmcModel`, SDPA attention) from a model folder, over esm-extract's batches with an
attention mask: the reference ESM C implementation as a peer."""
from __future__ import annotations

from common import embed_all, parse_args, save_mean, Timer


def main() -> None:
    import esm
    import torch
    from transformers import EsmcModel

    a = parse_args(__doc__)
    torch.set_num_threads(a.threads)
    timer = Timer()
    model = EsmcModel.from_pretrained(a.model, attn_implementation="sdpa").eval()
    layer = model.config.num_hidden_layers
    # ESM C's ids 0-30 and <mask> are ESM-1b's: fair-esm's batch converter tokenizes protein FASTA identically.
    alphabet = esm.Alphabet.from_architecture("ESM-1b")

    def forward(toks):
        return model(input_ids=toks, attention_mask=(toks != alphabet.padding_idx).long()).last_hidden_state, None

    embed_all(a, timer, alphabet, forward, lambda label, mean, _: save_mean(a.outdir, label, layer, mean.numpy()))


if __name__ == "__main__":
    main()
