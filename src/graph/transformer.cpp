// Transformer layers (pre-LayerNorm, fair-esm's TransformerLayer), final norm and LM heads.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "esm/tensor_spec.h"
#include "esm_onnx/errors.h"
#include "graph/esm_graph.h"

namespace esm_onnx::graph {
namespace {

std::string L(int64_t layer, const std::string& rest) { return fmt::format("layers.{}.{}", layer, rest); }

// [B, T, E] -> [B, H, T, D]
std::string split_heads(Ctx& ctx, const std::string& x, const std::string& name) {
  auto& b = ctx.b;
  auto r = b.reshape(x, {0, 0, ctx.cfg.attention_heads, ctx.cfg.head_dim()}, name + "_split");
  return b.transpose(r, {0, 2, 1, 3}, name + "_heads");
}

// cos/sin tables [T, D] for one inv_freq vector, shared by the layers that have the same one.
std::pair<std::string, std::string> rotary_tables(Ctx& ctx, int64_t layer) {
  auto& b = ctx.b;
  Tensor inv = ctx.ckpt.read(L(layer, "self_attn.rot_emb.inv_freq"));
  std::string key(reinterpret_cast<const char*>(inv.data.data()), inv.data.size() * sizeof(float));
  if (auto it = ctx.rotary.find(key); it != ctx.rotary.end()) return it->second;
  Builder::Scope s(b, fmt::format("rotary_{}", ctx.rotary.size()));
  // inv_freq comes from the file: the released values were rounded to fp16.
  auto inv_freq = b.weight(fmt::format("rotary_{}.inv_freq", ctx.rotary.size()), {1, inv.shape[0]}, inv.data);
  auto range = b.node("Range", {b.const_i64({0}, "start", true), ctx.seq_len, b.const_i64({1}, "delta", true)}, {}, "Range");
  auto t = b.cast(range, onnx::TensorProto::FLOAT, "t");
  auto freqs = b.mul(b.unsqueeze(t, {1}), inv_freq, "freqs");  // [T, D/2]
  auto emb = b.concat({freqs, freqs}, 1, "emb");               // [T, D]
  auto tables = std::make_pair(b.node("Cos", {emb}, {}, "cos"), b.node("Sin", {emb}, {}, "sin"));
  ctx.rotary.emplace(std::move(key), tables);
  return tables;
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

std::string layer_norm(Ctx& ctx, const std::string& x, const std::string& module) {
  Builder::Scope s(ctx.b, module.substr(module.rfind('.') + 1));
  return ctx.b.layer_norm(x, ctx.weight(module + ".weight"), ctx.weight(module + ".bias"), ctx.cfg.layer_norm_eps);
}

std::string linear(Ctx& ctx, const std::string& x, const std::string& module) {
  Builder::Scope s(ctx.b, module.substr(module.rfind('.') + 1));
  return ctx.b.linear(x, ctx.weight(module + ".weight", true), ctx.weight(module + ".bias"));
}

// ESM-1's bias_k / bias_v: one extra key and value appended after the sequence.
std::string append_bias_kv(Ctx& ctx, const std::string& x, const std::string& module) {
  auto& b = ctx.b;
  Builder::Scope s(b, module.substr(module.rfind('.') + 1));
  auto bias = ctx.weight(module);  // [1, 1, E]
  auto batch = b.node("Shape", {x}, {attr_int("start", 0), attr_int("end", 1)}, "batch");
  auto shape = b.concat({batch, b.const_i64({1, ctx.cfg.embed_dim}, "one_e")}, 0, "shape");
  auto expanded = b.node("Expand", {bias, shape}, {}, "Expand");
  return b.concat({x, expanded}, 1, "append");
}

}  // namespace

LayerOut build_layer(Ctx& ctx, int64_t layer, const std::string& x, bool need_probs) {
  auto& b = ctx.b;
  Builder::Scope scope(b, fmt::format("layers.{}", layer));
  LayerOut out;
  std::string h = layer_norm(ctx, x, L(layer, "self_attn_layer_norm"));
  {
    Builder::Scope attn(b, "attn");
    const float scaling = static_cast<float>(std::pow(static_cast<double>(ctx.cfg.head_dim()), -0.5));
    auto q = b.mul(linear(ctx, h, L(layer, "self_attn.q_proj")), b.const_f32(scaling, "scaling"), "scale_q");
    auto k = linear(ctx, h, L(layer, "self_attn.k_proj"));
    auto v = linear(ctx, h, L(layer, "self_attn.v_proj"));
    if (ctx.cfg.family == Family::Esm1) {
      k = append_bias_kv(ctx, k, L(layer, "self_attn.bias_k"));
      v = append_bias_kv(ctx, v, L(layer, "self_attn.bias_v"));
    }
    q = split_heads(ctx, q, "q");
    k = split_heads(ctx, k, "k");
    v = split_heads(ctx, v, "v");
    if (ctx.cfg.family == Family::Esm2) {
      auto tables = rotary_tables(ctx, layer);
      q = apply_rotary(ctx, q, tables, "rotary_q");
      k = apply_rotary(ctx, k, tables, "rotary_k");
    }
    auto scores = b.matmul(q, b.transpose(k, {0, 1, 3, 2}, "k_t"), "scores");  // [B, H, T, S]
    auto neg_inf = b.const_f32(-std::numeric_limits<float>::infinity(), "neg_inf");
    auto masked = b.node("Where", {ctx.key_mask, neg_inf, scores}, {}, "mask_padding");
    auto probs = b.softmax(masked, -1, "Softmax");
    auto ctx_heads = b.matmul(probs, v, "context");                            // [B, H, T, D]
    auto merged = b.reshape(b.transpose(ctx_heads, {0, 2, 1, 3}, "merge_heads"), {0, 0, ctx.cfg.embed_dim}, "merge");
    auto attn_out = linear(ctx, merged, L(layer, "self_attn.out_proj"));
    if (need_probs) {
      out.probs = probs;
      if (ctx.cfg.family == Family::Esm1) {
        // fair-esm drops the bias_k column from the attention maps it returns.
        out.probs = b.slice(probs, {0}, {-1}, {3}, "drop_bias_k");
      }
    }
    h = b.add(x, attn_out, "residual");
  }
  Builder::Scope ffn(b, "ffn");
  auto f = layer_norm(ctx, h, L(layer, "final_layer_norm"));
  f = linear(ctx, f, L(layer, "fc1"));
  f = b.gelu(f);
  f = linear(ctx, f, L(layer, "fc2"));
  out.x = b.add(h, f, "residual");
  return out;
}

std::string build_final_norm(Ctx& ctx, const std::string& x) {
  if (ctx.cfg.family == Family::Esm1) return x;
  return layer_norm(ctx, x, "emb_layer_norm_after");
}

std::string build_logits(Ctx& ctx, const std::string& x) {
  auto& b = ctx.b;
  Builder::Scope s(b, "lm_head");
  if (ctx.cfg.family == Family::Esm1) {
    auto y = b.matmul(x, ctx.weight("embed_out", true), "MatMul");
    return ctx.cfg.final_bias ? b.add(y, ctx.weight("embed_out_bias"), "Add_bias") : y;
  }
  auto h = linear(ctx, x, "lm_head.dense");
  h = b.gelu(h);
  h = layer_norm(ctx, h, "lm_head.layer_norm");
  auto y = b.matmul(h, ctx.weight("lm_head.weight", true), "MatMul");
  return b.add(y, ctx.weight("lm_head.bias"), "Add_bias");
}

}  // namespace esm_onnx::graph
