// fair-esm's ContactPredictionHead: mask, crop, symmetrize, APC, logistic regression, sigmoid.
//
// Per layer fair-esm computes, for each head h, APC(sym(a_h)) with sym(a) = a + a^T and
// APC(s) = s - rowsum(s) colsum(s)^T / sum(s), then sums the heads with the regression weights w_h.
// Everything but the APC term is linear in a_h, and sym's row and column sums are both r_h = rowsum(a_h) +
// colsum(a_h), so the same value is
//     sym(sum_h w_h a_h) - sum_h (w_h / sum(r_h)) r_h r_h^T
// which reads each layer's [B, H, T, T] maps three times (one weighted sum, two masked sums, all MatMuls)
// instead of building several [B, H, T, T] intermediates. Masking zeroes padding, EOS and BOS rows and
// columns, which makes fair-esm's crop of BOS/EOS a plain slice of the final [B, T, T] map.
#include <fmt/format.h>

#include "graph/esm_graph.h"

namespace esm_onnx::graph {

ContactHead::ContactHead(Ctx& ctx) : ctx_(ctx) {
  auto& b = ctx.b;
  Builder::Scope s(b, "contacts");
  std::string valid = ctx.nonpad;
  if (ctx.alphabet.append_eos()) {
    auto not_eos = b.node("Not", {b.node("Equal", {ctx.tokens, b.const_i64({ctx.alphabet.eos_idx()}, "eos_idx", true)},
                                         {}, "is_eos")});
    valid = b.mul(valid, b.cast(not_eos, onnx::TensorProto::FLOAT), "valid");
  }
  // BOS (position 0) is cropped by fair-esm: zero it so that it adds nothing to the sums either.
  auto first = b.slice(valid, {0}, {1}, {1}, "bos_column");
  auto rest = b.slice(valid, {1}, {std::numeric_limits<int64_t>::max()}, {1}, "after_bos");
  valid = b.concat({b.mul(first, b.const_f32(0.0f, "zero"), "no_bos"), rest}, 1, "valid_no_bos");
  valid_col_ = b.unsqueeze(valid, {1, 3}, "valid_col");  // [B, 1, T, 1]
  valid_row_ = b.unsqueeze(valid, {1, 2}, "valid_row");  // [B, 1, 1, T]
  // [B, T, T] from the tokens, whose shape shape inference always knows (not from the maps).
  auto bt = b.node("Shape", {ctx.tokens}, {}, "b_t");
  b_t_t_ = b.concat({bt, b.slice(bt, {1}, {2}, {0}, "t")}, 0, "b_t_t");
  pair_mask_ = b.mul(b.unsqueeze(valid, {2}, "rows"), b.unsqueeze(valid, {1}, "cols"), "pair_mask");  // [B, T, T]
  weight_ = ctx.ckpt.read(weight_of(Role::ContactRegression)).data;
}

void ContactHead::add_layer(int64_t layer, const std::string& probs) {
  auto& b = ctx_.b;
  Builder::Scope s(b, fmt::format("contacts/layers.{}", layer));
  const int64_t H = ctx_.cfg.attention_heads;
  const auto a = to_f32(ctx_, probs);  // [B, H, T, T]
  std::vector<float> w(weight_.begin() + layer * H, weight_.begin() + (layer + 1) * H);
  // sum_h w_h a_h as one MatMul over the flattened maps: [1, H] x [B, H, T*T].
  auto wl = b.weight(fmt::format("contact_head.regression.weight.layers.{}", layer), {1, H}, w);
  auto flat = b.reshape(a, {0, H, -1}, "flatten_maps");
  auto weighted = b.node("Reshape", {b.matmul(wl, flat, "weigh_heads"), b_t_t_}, {}, "weighted");  // [B, T, T]
  weighted = b.mul(weighted, pair_mask_, "mask");
  auto sym = b.add(weighted, b.transpose(weighted, {0, 2, 1}), "symmetrize");
  // Masked row and column sums of each head's map, and r_h = rowsum + colsum of sym(a_h).
  auto rows = b.mul(b.matmul(a, valid_col_, "row_sums"), valid_col_, "mask_rows");       // [B, H, T, 1]
  auto cols = b.mul(b.matmul(valid_row_, a, "col_sums"), valid_row_, "mask_cols");       // [B, H, 1, T]
  auto r = b.add(b.squeeze(rows, {3}), b.squeeze(cols, {2}), "sym_sums");                  // [B, H, T]
  auto total = b.reduce_sum(r, {2}, true, "total");                                        // [B, H, 1]
  auto scaled = b.div(b.mul(r, b.reshape(wl, {1, H, 1}, "w_col"), "weigh_sums"), total, "over_total");
  auto apc = b.matmul(b.transpose(scaled, {0, 2, 1}), r, "apc_expected");                  // [B, T, T]
  auto contrib = b.sub(sym, apc, "apc");
  sum_ = sum_.empty() ? contrib : b.add(sum_, contrib, "accumulate");
}

std::string ContactHead::finish() {
  auto& b = ctx_.b;
  Builder::Scope s(b, "contacts");
  // ESM-1b/ESM-2 drop the first and last row/column (BOS, EOS or padding); ESM-1 only BOS.
  const int64_t end = ctx_.alphabet.append_eos() ? -1 : std::numeric_limits<int64_t>::max();
  auto cropped = b.slice(sum_, {1, 1}, {end, end}, {1, 2}, "crop");
  auto bias = ctx_.weight(bias_of(Role::ContactRegression));
  return b.node("Sigmoid", {b.add(cropped, bias, "Add_bias")}, {}, "Sigmoid");
}

}  // namespace esm_onnx::graph
