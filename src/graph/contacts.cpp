// fair-esm's ContactPredictionHead: mask, crop, symmetrize, APC, logistic regression, sigmoid.
#include <fmt/format.h>

#include "graph/esm_graph.h"

namespace esm_onnx::graph {

ContactHead::ContactHead(Ctx& ctx) : ctx_(ctx) {
  auto& b = ctx.b;
  Builder::Scope s(b, "contacts");
  // Rows and columns of padding and (ESM-1b/ESM-2) EOS are zeroed before cropping.
  std::string valid = ctx.nonpad;
  if (ctx.alphabet.append_eos()) {
    auto not_eos = b.node("Not", {b.node("Equal", {ctx.tokens, b.const_i64({ctx.alphabet.eos_idx()}, "eos_idx", true)},
                                         {}, "is_eos")});
    valid = b.mul(valid, b.cast(not_eos, onnx::TensorProto::FLOAT), "valid");
  }
  pair_mask_ = b.mul(b.unsqueeze(valid, {1, 3}, "rows"), b.unsqueeze(valid, {1, 2}, "cols"), "pair_mask");
  weight_ = ctx.ckpt.read("contact_head.regression.weight").data;
}

void ContactHead::add_layer(int64_t layer, const std::string& probs) {
  auto& b = ctx_.b;
  Builder::Scope s(b, fmt::format("contacts/layers.{}", layer));
  const int64_t H = ctx_.cfg.attention_heads;
  auto a = b.mul(to_f32(ctx_, probs), pair_mask_, "mask");
  // ESM-1b/ESM-2 drop the last row/column (EOS or padding) and BOS; ESM-1 only BOS.
  const int64_t end = ctx_.alphabet.append_eos() ? -1 : std::numeric_limits<int64_t>::max();
  a = b.slice(a, {1, 1}, {end, end}, {2, 3}, "crop");
  auto sym = b.add(a, b.transpose(a, {0, 1, 3, 2}), "symmetrize");
  auto a1 = b.reduce_sum(sym, {-1}, true, "row_sums");
  auto a2 = b.reduce_sum(sym, {-2}, true, "col_sums");
  auto a12 = b.reduce_sum(sym, {-1, -2}, true, "total");
  auto avg = b.div(b.mul(a1, a2), a12, "apc_expected");
  auto apc = b.sub(sym, avg, "apc");
  std::vector<float> w(weight_.begin() + layer * H, weight_.begin() + (layer + 1) * H);
  auto wl = b.weight(fmt::format("contact_head.regression.weight.layers.{}", layer), {1, H, 1, 1}, w);
  auto contrib = b.reduce_sum(b.mul(apc, wl, "weigh_heads"), {1}, false, "sum_heads");
  sum_ = sum_.empty() ? contrib : b.add(sum_, contrib, "accumulate");
}

std::string ContactHead::finish() {
  auto& b = ctx_.b;
  Builder::Scope s(b, "contacts");
  auto bias = ctx_.weight("contact_head.regression.bias");
  return b.node("Sigmoid", {b.add(sum_, bias, "Add_bias")}, {}, "Sigmoid");
}

}  // namespace esm_onnx::graph
