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

std::string linear(Ctx& ctx, const std::string& x, const std::string& module) { return ctx.linear(x, {module}); }

}  // namespace

std::string layer_module(int64_t layer, const std::string& rest) { return fmt::format("layers.{}.{}", layer, rest); }

std::pair<std::string, std::string> rotary_cos_sin(Ctx& ctx, int64_t layer, bool full_width) {
  auto& b = ctx.b;
  Tensor inv = ctx.ckpt.read(layer_module(layer, "self_attn.rot_emb.inv_freq"));
  auto [it, fresh] = ctx.rotary.try_emplace(
      std::string(reinterpret_cast<const char*>(inv.data.data()), inv.data.size() * sizeof(float)));
  Ctx::Rotary& r = it->second;
  if (fresh) {
    r.index = ctx.rotary.size() - 1;
    Builder::Scope s(b, fmt::format("rotary_{}", r.index));
    // inv_freq comes from the file: the released values were rounded to fp16.
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
  std::string h = layer_norm(ctx, x, layer_module(layer, "self_attn_layer_norm"));
  {
    Builder::Scope attn(b, "attn");
    const float scaling = static_cast<float>(std::pow(static_cast<double>(ctx.cfg.head_dim()), -0.5));
    auto q = b.mul(linear(ctx, h, layer_module(layer, "self_attn.q_proj")), ctx.scalar(scaling, "scaling"), "scale_q");
    auto k = linear(ctx, h, layer_module(layer, "self_attn.k_proj"));
    auto v = linear(ctx, h, layer_module(layer, "self_attn.v_proj"));
    if (ctx.cfg.family == Family::Esm1) {
      k = append_bias_kv(ctx, k, layer_module(layer, "self_attn.bias_k"));
      v = append_bias_kv(ctx, v, layer_module(layer, "self_attn.bias_v"));
    }
    q = split_heads(ctx, q, "q");
    k = split_heads(ctx, k, "k");
    v = split_heads(ctx, v, "v");
    if (ctx.cfg.family == Family::Esm2) {
      auto tables = rotary_cos_sin(ctx, layer, /*full_width=*/true);
      q = apply_rotary(ctx, q, tables, "rotary_q");
      k = apply_rotary(ctx, k, tables, "rotary_k");
    }
    auto scores = b.matmul(q, b.transpose(k, {0, 1, 3, 2}, "k_t"), "scores");  // [B, H, T, S]
    auto masked = b.add(scores, ctx.key_bias, "mask_padding");
    auto probs = b.softmax(masked, -1, "Softmax");
    auto ctx_heads = b.matmul(probs, v, "context");                            // [B, H, T, D]
    auto merged = b.reshape(b.transpose(ctx_heads, {0, 2, 1, 3}, "merge_heads"), {0, 0, ctx.cfg.embed_dim}, "merge");
    auto attn_out = linear(ctx, merged, layer_module(layer, "self_attn.out_proj"));
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
  auto f = layer_norm(ctx, h, layer_module(layer, "final_layer_norm"));
  f = linear(ctx, f, layer_module(layer, "fc1"));
  f = b.gelu(f, ctx.act);
  f = linear(ctx, f, layer_module(layer, "fc2"));
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
