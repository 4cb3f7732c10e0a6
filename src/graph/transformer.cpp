// Transformer layers (pre-LayerNorm, fair-esm's TransformerLayer), final norm and LM heads.
#include <fmt/format.h>

#include <algorithm>
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

// cos/sin tables [T, D] in the activation type, built once per distinct inv_freq.
std::pair<std::string, std::string> rotary_tables(Ctx& ctx, int64_t layer) {
  auto& b = ctx.b;
  const auto freqs = rotary_freqs(ctx, layer);
  const std::string key = freqs + "#cos_sin";
  if (auto it = ctx.cache.find(key); it != ctx.cache.end()) return {it->second, ctx.cache.at(key + "#sin")};
  Builder::Scope s(b, freqs.substr(0, freqs.find('/', 1)).substr(1));
  auto emb = b.concat({freqs, freqs}, 1, "emb");  // [T, D]
  auto cos = b.node("Cos", {emb}, {}, "cos"), sin = b.node("Sin", {emb}, {}, "sin");
  if (ctx.act != onnx::TensorProto::FLOAT) {
    cos = b.cast(cos, ctx.act, "cos_act");
    sin = b.cast(sin, ctx.act, "sin_act");
  }
  ctx.cache[key] = cos;
  ctx.cache[key + "#sin"] = sin;
  return {cos, sin};
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

std::string linear(Ctx& ctx, const std::string& x, const std::string& module) { return ctx.linear(x, {module}); }

}  // namespace

std::string rotary_freqs(Ctx& ctx, int64_t layer) {
  auto& b = ctx.b;
  Tensor inv = ctx.ckpt.read(L(layer, "self_attn.rot_emb.inv_freq"));
  const std::string key = "rotary#" + std::string(reinterpret_cast<const char*>(inv.data.data()), inv.data.size() * sizeof(float));
  if (auto it = ctx.cache.find(key); it != ctx.cache.end()) return it->second;
  const auto index = std::count_if(ctx.cache.begin(), ctx.cache.end(), [](const auto& kv) { return kv.first.rfind("rotary#", 0) == 0; });
  Builder::Scope s(b, fmt::format("rotary_{}", index));
  // inv_freq comes from the file: the released values were rounded to fp16.
  auto inv_freq = b.weight(fmt::format("rotary_{}.inv_freq", index), {1, inv.shape[0]}, inv.data);
  auto range = b.node("Range", {b.const_i64({0}, "start", true), ctx.seq_len, b.const_i64({1}, "delta", true)}, {}, "Range");
  auto t = b.cast(range, onnx::TensorProto::FLOAT, "t");
  return ctx.cache[key] = b.mul(b.unsqueeze(t, {1}), inv_freq, "freqs");  // [T, D/2]
}

std::string append_bias_kv(Ctx& ctx, const std::string& x, const std::string& module) {
  auto& b = ctx.b;
  Builder::Scope s(b, module.substr(module.rfind('.') + 1));
  auto bias = ctx.act_weight(module);  // [1, 1, E]
  // The batch size comes from the tokens, whose shape is always known to shape inference.
  auto batch = b.node("Shape", {ctx.tokens}, {attr_int("start", 0), attr_int("end", 1)}, "batch");
  auto shape = b.concat({batch, b.const_i64({1, ctx.cfg.embed_dim}, "one_e")}, 0, "shape");
  auto expanded = b.node("Expand", {bias, shape}, {}, "Expand");
  return b.concat({x, expanded}, 1, "append");
}

std::string layer_norm(Ctx& ctx, const std::string& x, const std::string& module) {
  Builder::Scope s(ctx.b, module.substr(module.rfind('.') + 1));
  return ctx.b.layer_norm(x, ctx.act_weight(module + ".weight"), ctx.act_weight(module + ".bias"), ctx.cfg.layer_norm_eps);
}

LayerOut build_layer(Ctx& ctx, int64_t layer, const std::string& x, bool need_probs) {
  auto& b = ctx.b;
  Builder::Scope scope(b, fmt::format("layers.{}", layer));
  LayerOut out;
  std::string h = layer_norm(ctx, x, L(layer, "self_attn_layer_norm"));
  {
    Builder::Scope attn(b, "attn");
    const float scaling = static_cast<float>(std::pow(static_cast<double>(ctx.cfg.head_dim()), -0.5));
    auto q = b.mul(linear(ctx, h, L(layer, "self_attn.q_proj")), ctx.scalar(scaling, "scaling"), "scale_q");
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
    auto masked = b.add(scores, ctx.key_bias, "mask_padding");
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
  f = b.gelu(f, ctx.act);
  f = linear(ctx, f, L(layer, "fc2"));
  out.x = b.add(h, f, "residual");
  return out;
}

std::string to_f32(Ctx& ctx, const std::string& x) {
  return ctx.act == onnx::TensorProto::FLOAT ? x : ctx.b.cast(x, onnx::TensorProto::FLOAT, "to_fp32");
}

std::string build_final_norm(Ctx& ctx, const std::string& x) {
  if (ctx.cfg.family == Family::Esm1) return x;
  return layer_norm(ctx, x, "emb_layer_norm_after");
}

std::string build_logits(Ctx& ctx, const std::string& x) {
  auto& b = ctx.b;
  Builder::Scope s(b, "lm_head");
  if (ctx.cfg.family == Family::Esm1) {
    // The vocabulary projection stays fp32 in every precision: it is small and shares the embedding's weight.
    auto y = b.matmul(to_f32(ctx, x), ctx.weight("embed_out", true), "MatMul");
    return ctx.cfg.final_bias ? b.add(y, ctx.weight("embed_out_bias"), "Add_bias") : y;
  }
  auto h = linear(ctx, x, "lm_head.dense");
  h = b.gelu(h, ctx.act);
  h = layer_norm(ctx, h, "lm_head.layer_norm");
  auto y = b.matmul(to_f32(ctx, h), ctx.weight("lm_head.weight", true), "MatMul");
  return b.add(y, ctx.weight("lm_head.bias"), "Add_bias");
}

}  // namespace esm_onnx::graph
