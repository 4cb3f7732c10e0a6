// Embedding stage of each family: token embedding, token dropout, positions, padding.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "engines/graph/esm_graph.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::graph {

void build_masks(Ctx& ctx) {
  auto& b = ctx.b;
  Builder::Scope s(b, "masks");
  ctx.pad = b.node("Equal", {ctx.tokens, b.const_i64({ctx.alphabet.padding_idx()}, "pad_idx", true)}, {}, "is_pad");
  ctx.nonpad = b.cast(b.node("Not", {ctx.pad}, {}, "not_pad"), onnx::TensorProto::FLOAT, "nonpad");
  auto shape = b.node("Shape", {ctx.tokens}, {attr_int("start", 1), attr_int("end", 2)}, "seq_len_1d");
  ctx.seq_len = b.squeeze(shape, {0}, "seq_len");
  std::string keys = ctx.pad;
  if (ctx.cfg.arch.bias_kv) {
    // ESM-1 appends bias_k as one extra key that is never masked.
    auto first = b.slice(ctx.tokens, {0}, {1}, {1}, "first_token");
    auto never = b.node("Less", {first, b.const_i64({0}, "zero", true)}, {}, "never_masked");
    keys = b.concat({ctx.pad, never}, 1, "keys_with_bias_kv");
  }
  ctx.key_mask = b.unsqueeze(keys, {1, 2}, "key_mask");
  if (ctx.cfg.arch.chain_breaks) {
    // Chains separated by '|' do not attend to each other. A token's chain is the number of breaks before
    // it (the break itself closes its chain); positions keep counting across chains.
    const int64_t brk = ctx.alphabet.chain_break_idx();
    auto is_break = b.cast(b.node("Equal", {ctx.tokens, b.const_i64({brk}, "chain_break_idx", true)}, {}, "is_break"),
                           onnx::TensorProto::INT64, "is_break_i64");
    auto chain = b.node("CumSum", {is_break, b.const_i64({1}, "axis", true)}, {attr_int("exclusive", 1)}, "chain");
    auto same = b.node("Equal", {b.unsqueeze(chain, {2}, "chain_rows"), b.unsqueeze(chain, {1}, "chain_cols")}, {}, "same_chain");
    auto other = b.unsqueeze(b.node("Not", {same}, {}, "other_chain"), {1}, "other_chain_4d");  // [B, 1, T, T]
    ctx.key_mask = b.node("Or", {ctx.key_mask, other}, {}, "key_mask_chains");
  }
  // Adding -inf is exact where Where(mask, -inf, scores) would be, and cheaper over [B, H, T, S]. The fused
  // attention takes a key-padding mask of its own instead.
  if (!ctx.opt.fused) {
    auto neg_inf = ctx.scalar(-std::numeric_limits<float>::infinity(), "neg_inf");
    ctx.key_bias = b.node("Where", {ctx.key_mask, neg_inf, ctx.scalar(0.0f, "zero")}, {}, "key_bias");
  }
}

namespace {

// fair-esm's token dropout at inference: zero <mask> rows, then scale by 0.88 / (1 - masked share).
std::string token_dropout(Ctx& ctx, const std::string& x) {
  auto& b = ctx.b;
  Builder::Scope s(b, "token_dropout");
  auto is_mask = b.node("Equal", {ctx.tokens, b.const_i64({ctx.alphabet.mask_idx()}, "mask_idx", true)}, {}, "is_mask");
  auto zero = b.const_f32(0.0f, "zero");
  auto filled = b.node("Where", {b.unsqueeze(is_mask, {2}), zero, x}, {}, "zero_masked");
  auto n_mask = b.reduce_sum(b.cast(is_mask, onnx::TensorProto::FLOAT), {1}, true, "n_mask");
  auto n_tok = b.reduce_sum(ctx.nonpad, {1}, true, "n_tokens");
  auto observed = b.div(n_mask, n_tok, "mask_ratio");
  auto keep = b.sub(b.const_f32(1.0f, "one"), observed, "one_minus_ratio");
  auto scaled = b.mul(filled, b.const_f32(static_cast<float>(1.0 - 0.15 * 0.8), "train_keep"), "scale_train");
  return b.div(scaled, b.unsqueeze(keep, {2}), "scale_observed");
}

std::string zero_padding(Ctx& ctx, const std::string& x) {
  return ctx.b.mul(x, ctx.b.unsqueeze(ctx.nonpad, {2}, "nonpad_3d"), "zero_padding");
}

// positions = cumsum(non_pad) * non_pad + padding_idx: BOS gets padding_idx + 1, padding padding_idx.
std::string learned_positions(Ctx& ctx, const std::string& x) {
  auto& b = ctx.b;
  Builder::Scope s(b, "embed_positions");
  auto nonpad_i = b.cast(b.node("Not", {ctx.pad}), onnx::TensorProto::INT64, "nonpad_i64");
  auto cum = b.node("CumSum", {nonpad_i, b.const_i64({1}, "axis", true)}, {}, "CumSum");
  auto pos = b.add(b.mul(cum, nonpad_i), b.const_i64({ctx.alphabet.padding_idx()}, "pad_idx", true), "positions");
  auto pe = b.node("Gather", {ctx.weight(weight_of(Role::PositionEmbedding)), pos}, {attr_int("axis", 0)}, "Gather");
  return b.add(x, pe, "add_positions");
}

// Sinusoidal table row p = [sin(p f), cos(p f)], positions padding_idx + 1.. for tokens, zero rows for
// padding. f is computed as torch does, in float32: exp(float(i) * float(-ln(10000) / (half - 1))).
std::string sinusoidal_positions(Ctx& ctx, const std::string& x) {
  auto& b = ctx.b;
  const int64_t E = ctx.cfg.embed_dim;
  if (E % 2 != 0) throw UnsupportedError(fmt::format("{}: sinusoidal positions with odd embed_dim {}", ctx.ckpt.path(), E));
  Builder::Scope s(b, "embed_positions");
  const int64_t half = E / 2;
  const float neg = static_cast<float>(-(std::log(10000.0) / static_cast<double>(half - 1)));
  std::vector<float> freq(static_cast<std::size_t>(half));
  for (int64_t i = 0; i < half; ++i) freq[i] = std::exp(static_cast<float>(i) * neg);
  auto freqs = b.weight("/embed_positions/inv_freq", {1, half}, freq);
  auto range = b.node("Range", {b.const_i64({0}, "start", true), ctx.seq_len, b.const_i64({1}, "delta", true)}, {}, "Range");
  auto pos = b.cast(b.add(range, b.const_i64({ctx.alphabet.padding_idx() + 1}, "first_pos", true)), onnx::TensorProto::FLOAT, "positions");
  auto angle = b.mul(b.unsqueeze(pos, {1}), freqs, "angles");
  auto table_pe = b.concat({b.node("Sin", {angle}), b.node("Cos", {angle})}, 1, "sin_cos");  // [T, E]
  auto pe = b.mul(b.unsqueeze(table_pe, {0}), b.unsqueeze(ctx.nonpad, {2}), "zero_padding_rows");
  return b.add(x, pe, "add_positions");
}

}  // namespace

std::string build_embeddings(Ctx& ctx) {
  auto& b = ctx.b;
  const auto& a = ctx.cfg.arch;
  Builder::Scope s(b, "embeddings");
  auto table = ctx.weight(weight_of(Role::TokenEmbedding));
  std::string x = b.node("Gather", {table, ctx.tokens}, {attr_int("axis", 0)}, "embed_tokens");
  if (a.embed_scale) {
    const auto scale = static_cast<float>(std::sqrt(static_cast<double>(ctx.cfg.embed_dim)));
    x = b.mul(x, b.const_f32(scale, "embed_scale"), "embed_scale");
  }
  if (a.token_dropout) x = token_dropout(ctx, x);
  switch (a.positions) {
    case Positions::Learned: x = learned_positions(ctx, x); break;
    // The sinusoidal table has zero rows at padding, so padded rows keep their token embedding (as the reference).
    case Positions::Sinusoidal: return sinusoidal_positions(ctx, x);
    case Positions::Rotary: break;  // applied to q and k in every layer
  }
  if (a.embed_norm) {
    // In fp32 in every precision, as the rest of the embeddings.
    Builder::Scope n(b, "emb_layer_norm_before");
    const auto bias = ctx.weight(bias_of(Role::EmbedNorm));
    x = b.layer_norm(x, ctx.weight(weight_of(Role::EmbedNorm)), bias, a.layer_norm_eps);
  }
  return zero_padding(ctx, x);
}

}  // namespace esm_onnx::graph
