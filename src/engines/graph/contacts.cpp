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

#include <limits>

#include "engines/graph/esm_graph.h"
#include "esm_onnx/base/model_info.h"

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
  valid_ = b.concat({b.mul(first, b.const_f32(0.0f, "zero"), "no_bos"), rest}, 1, "valid_no_bos");
  valid_col_ = b.unsqueeze(valid_, {1, 3}, "valid_col");  // [B, 1, T, 1]
  valid_row_ = b.unsqueeze(valid_, {1, 2}, "valid_row");  // [B, 1, 1, T]
  // [B, T, T] from the tokens, whose shape shape inference always knows (not from the maps).
  auto bt = b.node("Shape", {ctx.tokens}, {}, "b_t");
  b_t_t_ = b.concat({bt, b.slice(bt, {1}, {2}, {0}, "t")}, 0, "b_t_t");
  weight_ = ctx.ckpt.read(weight_of(Role::ContactRegression)).data;
  bias_ = ctx.weight(bias_of(Role::ContactRegression));
}

std::string ContactHead::contribution(int64_t layer, const std::string& probs) {
  auto& b = ctx_.b;
  const int64_t H = ctx_.cfg.attention_heads;
  const auto a = to_f32(ctx_, probs);  // [B, H, T, T]
  std::vector<float> w(weight_.begin() + layer * H, weight_.begin() + (layer + 1) * H);
  // sum_h w_h a_h as one MatMul over the flattened maps: [1, H] x [B, H, T*T].
  auto wl = b.weight(fmt::format("contact_head.regression.weight.layers.{}", layer), {1, H}, w);
  auto flat = b.reshape(a, {0, H, -1}, "flatten_maps");
  auto weighted = b.node("Reshape", {b.matmul(wl, flat, "weigh_heads"), b_t_t_}, {}, "weighted");  // [B, T, T]
  auto sym = b.add(weighted, b.transpose(weighted, {0, 2, 1}), "symmetrize");
  // Masked row and column sums of each head's map, and r_h = rowsum + colsum of sym(a_h). r_h is zero at
  // masked positions, so the APC term is too, and the pair mask can wait for finish (sym commutes with it).
  auto rows = b.mul(b.matmul(a, valid_col_, "row_sums"), valid_col_, "mask_rows");       // [B, H, T, 1]
  auto cols = b.mul(b.matmul(valid_row_, a, "col_sums"), valid_row_, "mask_cols");       // [B, H, 1, T]
  auto r = b.add(b.squeeze(rows, {3}), b.squeeze(cols, {2}), "sym_sums");                  // [B, H, T]
  auto total = b.reduce_sum(r, {2}, true, "total");                                        // [B, H, 1]
  auto scaled = b.div(b.mul(r, b.reshape(wl, {1, H, 1}, "w_col"), "weigh_sums"), total, "over_total");
  auto apc = b.matmul(b.transpose(scaled, {0, 2, 1}), r, "apc_expected");                  // [B, T, T]
  return b.sub(sym, apc, "apc");
}

void ContactHead::add_layer(int64_t layer, const std::string& probs) {
  Builder::Scope s(ctx_.b, fmt::format("contacts/layers.{}", layer));
  auto contrib = contribution(layer, probs);
  sum_ = sum_.empty() ? contrib : ctx_.b.add(sum_, contrib, "accumulate");
}

void ContactHead::add_fused_layer(int64_t layer, const std::string& q, const std::string& k) {
  auto& b = ctx_.b;
  if (wanted_.empty()) {
    Builder::Scope s(b, "contacts");
    // An initializer that is also a graph input: true unless a run feeds false.
    auto& g = b.graph();
    auto* init = g.add_initializer();
    init->set_name(kContactsWantedInput);
    init->set_data_type(onnx::TensorProto::BOOL);
    init->add_int32_data(1);
    auto* in = g.add_input();
    in->set_name(kContactsWantedInput);
    in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
    in->mutable_type()->mutable_tensor_type()->mutable_shape();
    wanted_ = kContactsWantedInput;
    auto neg_inf = b.const_f32(-std::numeric_limits<float>::infinity(), "neg_inf");
    key_bias_ = b.node("Where", {ctx_.key_mask, neg_inf, b.const_f32(0.0f, "zero")}, {}, "key_bias");
  }
  Builder::Scope s(b, fmt::format("contacts/layers.{}", layer));
  const std::string prev = sum_;
  sum_ = b.if_node(
      wanted_,
      [&] {
        auto contrib = contribution(layer, attention_probs(ctx_, q, k, key_bias_));
        return std::vector<std::string>{prev.empty() ? b.node("Identity", {contrib}) : b.add(prev, contrib, "accumulate")};
      },
      [&] {
        // Nothing computed: a [1, 1, 1] zero stands in for the sum.
        if (!prev.empty()) return std::vector<std::string>{b.node("Identity", {prev})};
        auto zeros = b.node("ConstantOfShape", {b.const_i64({1, 1, 1}, "shape")}, {}, "no_contacts");
        return std::vector<std::string>{zeros};
      },
      onnx::TensorProto::FLOAT, "If_contacts")[0];
}

std::string ContactHead::crop(const std::string& sum) {
  auto& b = ctx_.b;
  auto pair_mask = b.mul(b.unsqueeze(valid_, {2}, "rows"), b.unsqueeze(valid_, {1}, "cols"), "pair_mask");  // [B, T, T]
  auto masked = b.mul(sum, pair_mask, "mask");
  // ESM-1b/ESM-2 drop the first and last row/column (BOS, EOS or padding); ESM-1 only BOS.
  const int64_t end = ctx_.alphabet.append_eos() ? -1 : std::numeric_limits<int64_t>::max();
  auto cropped = b.slice(masked, {1, 1}, {end, end}, {1, 2}, "crop");
  return b.node("Sigmoid", {b.add(cropped, bias_, "Add_bias")}, {}, "Sigmoid");
}

std::string ContactHead::finish() {
  auto& b = ctx_.b;
  Builder::Scope s(b, "contacts");
  if (wanted_.empty()) return crop(sum_);
  return b.if_node(
      wanted_, [&] { return std::vector<std::string>{crop(sum_)}; },
      [&] {
        auto* t = b.graph().add_initializer();
        t->set_name(b.scope() + "/no_contacts");
        t->set_data_type(onnx::TensorProto::FLOAT);
        for (int64_t d : {1, 0, 0}) t->add_dims(d);
        return std::vector<std::string>{b.node("Identity", {t->name()})};
      },
      onnx::TensorProto::FLOAT, "If_contacts")[0];
}

}  // namespace esm_onnx::graph
