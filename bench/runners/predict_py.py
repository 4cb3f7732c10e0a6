"""fair-esm's examples/variant-prediction/predict.py on the CPU: its strategies as the script runs them (one
batch-1 pass per masked position; pseudo-ppl one per position of each mutant), its CSV in and out, with only its
`.cuda()` calls removed. --hf runs the same loop on transformers' EsmForMaskedLM with the same weights."""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

t_start = time.perf_counter()
import pandas as pd  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
import esm_checkpoints  # noqa: E402


def hf_masked_lm(fair):
    from transformers import EsmConfig, EsmForMaskedLM

    import hf_checkpoints

    esm2 = not hasattr(fair, "embed_positions")
    args = getattr(fair, "args", fair)
    E = args.embed_dim
    cfg = EsmConfig(vocab_size=33, hidden_size=E, num_hidden_layers=fair.num_layers, num_attention_heads=args.attention_heads,
                    intermediate_size=4 * E, max_position_embeddings=1026,
                    position_embedding_type="rotary" if esm2 else "absolute", token_dropout=True, mask_token_id=32,
                    pad_token_id=1, layer_norm_eps=1e-5,
                    emb_layer_norm_before=not esm2 and fair.emb_layer_norm_before is not None,
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = EsmForMaskedLM(cfg)
    state = hf_checkpoints.fair_esm_state_to_hf(fair.state_dict(), "rotary" if esm2 else "absolute")
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not any(s in k for s in ("inv_freq", "position_ids", "contact_head"))]
    if missing:
        raise RuntimeError(f"HF mapping: missing {missing}")
    model.eval()
    return lambda toks: model(input_ids=toks).logits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model-location", required=True)
    ap.add_argument("--sequence", required=True)
    ap.add_argument("--dms-input", type=pathlib.Path, required=True)
    ap.add_argument("--mutation-col", default="mutant")
    ap.add_argument("--dms-output", type=pathlib.Path, required=True)
    ap.add_argument("--offset-idx", type=int, default=0)
    ap.add_argument("--scoring-strategy", default="wt-marginals", choices=["wt-marginals", "pseudo-ppl", "masked-marginals"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hf", action="store_true", help="transformers' EsmForMaskedLM instead of fair-esm")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    def label_row(row, sequence, token_probs, alphabet, offset_idx):
        wt, idx, mt = row[0], int(row[1:-1]) - offset_idx, row[-1]
        assert sequence[idx] == wt, "The listed wildtype does not match the provided sequence"
        wt_encoded, mt_encoded = alphabet.get_idx(wt), alphabet.get_idx(mt)
        score = token_probs[0, 1 + idx, mt_encoded] - token_probs[0, 1 + idx, wt_encoded]
        return score.item()

    def compute_pppl(row, sequence, model, alphabet, offset_idx):
        wt, idx, mt = row[0], int(row[1:-1]) - offset_idx, row[-1]
        assert sequence[idx] == wt, "The listed wildtype does not match the provided sequence"
        sequence = sequence[:idx] + mt + sequence[(idx + 1):]
        batch_tokens = alphabet.get_batch_converter()([("protein1", sequence)])[2]
        log_probs = []
        for i in range(1, len(sequence) - 1):
            batch_tokens_masked = batch_tokens.clone()
            batch_tokens_masked[0, i] = alphabet.mask_idx
            with torch.no_grad():
                token_probs = torch.log_softmax(model(batch_tokens_masked), dim=-1)
            log_probs.append(token_probs[0, i, alphabet.get_idx(sequence[i])].item())
        return sum(log_probs)

    df = pd.read_csv(args.dms_input)
    fair, alphabet = esm_checkpoints.load_with_fair_esm(pathlib.Path(args.model_location))
    model = hf_masked_lm(fair) if args.hf else (lambda toks: fair(toks)["logits"])
    passes = 0
    batch_tokens = alphabet.get_batch_converter()([("protein1", args.sequence)])[2]
    if args.scoring_strategy == "wt-marginals":
        with torch.no_grad():
            token_probs = torch.log_softmax(model(batch_tokens), dim=-1)
        passes = 1
        df[args.model_location] = df.apply(lambda row: label_row(row[args.mutation_col], args.sequence, token_probs,
                                                                 alphabet, args.offset_idx), axis=1)
    elif args.scoring_strategy == "masked-marginals":
        all_token_probs = []
        for i in range(batch_tokens.size(1)):
            batch_tokens_masked = batch_tokens.clone()
            batch_tokens_masked[0, i] = alphabet.mask_idx
            with torch.no_grad():
                token_probs = torch.log_softmax(model(batch_tokens_masked), dim=-1)
            all_token_probs.append(token_probs[:, i])
        passes = batch_tokens.size(1)
        token_probs = torch.cat(all_token_probs, dim=0).unsqueeze(0)
        df[args.model_location] = df.apply(lambda row: label_row(row[args.mutation_col], args.sequence, token_probs,
                                                                 alphabet, args.offset_idx), axis=1)
    else:
        df[args.model_location] = df.apply(lambda row: compute_pppl(row[args.mutation_col], args.sequence, model,
                                                                    alphabet, args.offset_idx), axis=1)
        passes = len(df) * (len(args.sequence) - 2)
    df.to_csv(args.dms_output)
    print(json.dumps({"seconds": time.perf_counter() - t_start, "passes": passes}))


if __name__ == "__main__":
    main()
