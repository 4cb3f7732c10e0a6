// Transformer layers (pre-LayerNorm), final norm and output heads, switched by the architecture.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "engines/graph/esm_graph.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::graph {
namespace {

// [B, T, E] -> [B, H, T, D]
std::string split_heads(Ctx& ctx, const std::string& x, const std::string& name) {
  auto& b = ctx.b;
  auto r = b.reshape(x, {0, 0, ctx.cfg.attention_heads, ctx.cfg.head_dim()}, name + "_split");
  return b.transpose(r, {0, 2, 1, 3}, name + "_heads");
}

// x * cos + rotate_half(x) * sin, rotate_half([a, b]) = [-b, a]; x is [B, H, T, D].
std::string apply_rotary(Ctx& ctx, const std::string& x, const std::pair<std::string, std::string>& cs,
                         const std::string& name) {
  auto& b = ctx.b;
  Builder::Scope s(b, name);
  const int64_t half = ctx.cfg.head_dim() / 2;
  auto x1 = b.slice(x, {0}, {half}, {3}, "first_half");
  auto x2 = b.slice(x, {half}, {std::numeric_limits<int64_t>::max()}, {3}, "second_half");
  auto rotated = b.concat({b.node("Neg", {x2}), x1}, 3, "rotate_half");
  return b.add(b.mul(x, cs.first, "mul_cos"), b.mul(rotated, cs.second, "mul_sin"), "Add");
}

std::string linear(Ctx& ctx, const std::string& x, Role role, int64_t layer = -1) { return ctx.linear(x, {role}, layer); }

// The residual branch, divided by the architecture's residual divisor when it has one.
std::string residual(Ctx& ctx, const std::string& x, const std::string& branch) {
  const double d = ctx.cfg.arch.residual_divisor;
  const auto scaled = d == 1.0 ? branch : ctx.b.div(branch, ctx.scalar(static_cast<float>(d), "residual_divisor"), "scale_branch");
  return ctx.b.add(x, scaled, "residual");
}

std::string feed_forward(Ctx& ctx, const std::string& f, int64_t layer) {
  auto& b = ctx.b;
  switch (ctx.cfg.arch.ffn) {
    case FeedForward::Gelu: return linear(ctx, b.gelu(linear(ctx, f, Role::FfnUp, layer), ctx.act), Role::FfnDown, layer);
    case FeedForward::SwiGlu: {
      auto gate = linear(ctx, f, Role::FfnGate, layer);
      auto silu = b.mul(gate, b.node("Sigmoid", {gate}, {}, "sigmoid"), "silu");
      return linear(ctx, b.mul(silu, linear(ctx, f, Role::FfnUp, layer), "gated"), Role::FfnDown, layer);
    }
  }
  throw UnsupportedError("unknown feed-forward kind");
}

}  // namespace

std::pair<std::string, std::string> rotary_cos_sin(Ctx& ctx, int64_t layer, bool full_width) {
  auto& b = ctx.b;
  Tensor inv = ctx.ckpt.read(weight_of(Role::RotaryFreq, layer));
  auto [it, fresh] = ctx.rotary.try_emplace(
      std::string(reinterpret_cast<const char*>(inv.data.data()), inv.data.size() * sizeof(float)));
  Ctx::Rotary& r = it->second;
  if (fresh) {
    r.index = ctx.rotary.size() - 1;
    Builder::Scope s(b, fmt::format("rotary_{}", r.index));
    // inv_freq comes from the file when it has one: the released values were rounded to fp16.
    auto inv_freq = b.weight(fmt::format("rotary_{}.inv_freq", r.index), {1, inv.shape[0]}, inv.data);
    auto range = b.node("Range", {b.const_i64({0}, "start", true), ctx.seq_len, b.const_i64({1}, "delta", true)}, {}, "Range");
    auto t = b.cast(range, onnx::TensorProto::FLOAT, "t");
    r.freqs = b.mul(b.unsqueeze(t, {1}), inv_freq, "freqs");  // [T, D/2]
  }
  if (auto c = r.cos_sin.find(full_width); c != r.cos_sin.end()) return c->second;
  Builder::Scope s(b, fmt::format("rotary_{}", r.index));
  const auto angles = full_width ? b.concat({r.freqs, r.freqs}, 1, "emb") : r.freqs;
  auto cos = b.node("Cos", {angles}, {}, "cos"), sin = b.node("Sin", {angles}, {}, "sin");
  if (ctx.act != onnx::TensorProto::FLOAT) {
    cos = b.cast(cos, ctx.act, "cos_act");
    sin = b.cast(sin, ctx.act, "sin_act");
  }
  return r.cos_sin[full_width] = {cos, sin};
}

std::string append_bias_kv(Ctx& ctx, const std::string& x, Role role, int64_t layer) {
  auto& b = ctx.b;
  Builder::Scope s(b, role_name(role));
  auto bias = ctx.act_weight(weight_of(role, layer));  // [1, 1, E]
  // The batch size comes from the tokens, whose shape is always known to shape inference.
  auto batch = b.node("Shape", {ctx.tokens}, {attr_int("start", 0), attr_int("end", 1)}, "batch");
  auto shape = b.concat({batch, b.const_i64({1, ctx.cfg.embed_dim}, "one_e")}, 0, "shape");
  auto expanded = b.node("Expand", {bias, shape}, {}, "Expand");
  return b.concat({x, expanded}, 1, "append");
}

std::string layer_norm(Ctx& ctx, const std::string& x, Role role, int64_t layer) {
  Builder::Scope s(ctx.b, role_name(role));
  std::string bias;
  if (ctx.ckpt.has(bias_of(role, layer))) {
    bias = ctx.act_weight(bias_of(role, layer));
  } else {
    // A bias-free norm gets an explicit zero bias (adding 0 is exact): ONNX Runtime 1.32's layer-norm
    // fusions crash at session creation on a LayerNormalization whose optional bias is absent.
    const auto key = std::string("zero_bias.") + (ctx.act == onnx::TensorProto::FLOAT ? "fp32" : "fp16");
    if (auto it = ctx.weights.find(key); it != ctx.weights.end()) {
      bias = it->second;
    } else {
      bias = ctx.weights[key] = ctx.b.weight_as(key, ctx.act, {ctx.cfg.embed_dim},
                                                std::vector<float>(static_cast<std::size_t>(ctx.cfg.embed_dim), 0.0f));
    }
  }
  return ctx.b.layer_norm(x, ctx.act_weight(weight_of(role, layer)), bias, ctx.cfg.arch.layer_norm_eps);
}

LayerOut build_layer(Ctx& ctx, int64_t layer, const std::string& x, bool need_probs) {
  auto& b = ctx.b;
  const auto& a = ctx.cfg.arch;
  Builder::Scope scope(b, fmt::format("layers.{}", layer));
  LayerOut out;
  std::string h = layer_norm(ctx, x, Role::AttnNorm, layer);
  {
    Builder::Scope attn(b, "attn");
    const float scaling = static_cast<float>(std::pow(static_cast<double>(ctx.cfg.head_dim()), -0.5));
    auto q = linear(ctx, h, Role::Query, layer);
    auto k = linear(ctx, h, Role::Key, layer);
    auto v = linear(ctx, h, Role::Value, layer);
    if (a.qk_norm) {
      q = layer_norm(ctx, q, Role::QueryNorm, layer);
      k = layer_norm(ctx, k, Role::KeyNorm, layer);
    }
    // The reference scales q before rotary (rotary is linear, so the order only moves rounding).
    q = b.mul(q, ctx.scalar(scaling, "scaling"), "scale_q");
    if (a.bias_kv) {
      k = append_bias_kv(ctx, k, Role::BiasK, layer);
      v = append_bias_kv(ctx, v, Role::BiasV, layer);
    }
    q = split_heads(ctx, q, "q");
    k = split_heads(ctx, k, "k");
    v = split_heads(ctx, v, "v");
    if (a.positions == Positions::Rotary) {
      auto tables = rotary_cos_sin(ctx, layer, /*full_width=*/true);
      q = apply_rotary(ctx, q, tables, "rotary_q");
      k = apply_rotary(ctx, k, tables, "rotary_k");
    }
    auto scores = b.matmul(q, b.transpose(k, {0, 1, 3, 2}, "k_t"), "scores");  // [B, H, T, S]
    auto masked = b.add(scores, ctx.key_bias, "mask_padding");
    auto probs = b.softmax(masked, -1, "Softmax");
    auto ctx_heads = b.matmul(probs, v, "context");                            // [B, H, T, D]
    auto merged = b.reshape(b.transpose(ctx_heads, {0, 2, 1, 3}, "merge_heads"), {0, 0, ctx.cfg.embed_dim}, "merge");
    auto attn_out = linear(ctx, merged, Role::AttnOut, layer);
    if (need_probs) {
      // The reference drops the extra bias_k column from the attention maps it returns.
      out.probs = a.bias_kv ? b.slice(probs, {0}, {-1}, {3}, "drop_bias_k") : probs;
    }
    h = residual(ctx, x, attn_out);
  }
  Builder::Scope ffn(b, "ffn");
  auto f = layer_norm(ctx, h, Role::FfnNorm, layer);
  out.x = residual(ctx, h, feed_forward(ctx, f, layer));
  return out;
}

std::string attention_probs(Ctx& ctx, const std::string& q, const std::string& k, const std::string& key_bias) {
  auto& b = ctx.b;
  Builder::Scope s(b, "probs");
  const float scaling = static_cast<float>(std::pow(static_cast<double>(ctx.cfg.head_dim()), -0.5));
  auto qh = split_heads(ctx, b.mul(to_f32(ctx, q), b.const_f32(scaling, "scaling"), "scale_q"), "q");
  auto kh = split_heads(ctx, to_f32(ctx, k), "k");
  auto scores = b.matmul(qh, b.transpose(kh, {0, 1, 3, 2}, "k_t"), "scores");  // [B, H, T, S]
  auto probs = b.softmax(b.add(scores, key_bias, "mask_padding"), -1, "Softmax");
  return ctx.cfg.arch.bias_kv ? b.slice(probs, {0}, {-1}, {3}, "drop_bias_k") : probs;
}

std::string to_f32(Ctx& ctx, const std::string& x) {
  return ctx.act == onnx::TensorProto::FLOAT ? x : ctx.b.cast(x, onnx::TensorProto::FLOAT, "to_fp32");
}

std::string build_final_norm(Ctx& ctx, const std::string& x) {
  return ctx.cfg.arch.final_norm ? layer_norm(ctx, x, Role::FinalNorm) : x;
}

std::string build_logits(Ctx& ctx, const std::string& x) {
  auto& b = ctx.b;
  const auto& a = ctx.cfg.arch;
  switch (ctx.cfg.head) {
    case OutputHead::None: return {};
    case OutputHead::LanguageModel: {
      Builder::Scope s(b, "lm_head");
      std::string h = x;
      if (a.lm_head == LmHeadKind::Dense) {
        h = linear(ctx, h, Role::LmDense);
        h = b.gelu(h, ctx.act);
        h = layer_norm(ctx, h, Role::LmNorm);
      }
      // The vocabulary projection stays fp32 in every precision: it is small and shares the embedding's weight.
      auto y = b.matmul(to_f32(ctx, h), ctx.weight(weight_of(Role::LmOut), true), "MatMul");
      return ctx.has_bias(Role::LmOut) ? b.add(y, ctx.weight(bias_of(Role::LmOut)), "Add_bias") : y;
    }
    case OutputHead::SequenceClassification: {
      // dense, tanh and the output projection on the BOS token, in fp32.
      Builder::Scope s(b, "classifier");
      auto bos = b.squeeze(b.slice(to_f32(ctx, x), {0}, {1}, {1}, "bos"), {1}, "bos_2d");  // [B, E]
      auto d = b.add(b.matmul(bos, ctx.weight(weight_of(Role::ClassifierDense), true), "dense"),
                     ctx.weight(bias_of(Role::ClassifierDense)), "dense_bias");
      auto t = b.node("Tanh", {d}, {}, "Tanh");
      return b.add(b.matmul(t, ctx.weight(weight_of(Role::ClassifierOut), true), "out_proj"),
                   ctx.weight(bias_of(Role::ClassifierOut)), "out_proj_bias");
    }
    case OutputHead::TokenClassification: {
      Builder::Scope s(b, "classifier");
      return b.add(b.matmul(to_f32(ctx, x), ctx.weight(weight_of(Role::ClassifierOut), true), "MatMul"),
                   ctx.weight(bias_of(Role::ClassifierOut)), "Add_bias");
    }
  }
  throw UnsupportedError("unknown output head");
}

}  // namespace esm_onnx::graph
