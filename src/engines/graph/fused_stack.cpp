// The layers with ONNX Runtime's fused CPU/CUDA ops, for every family. The arithmetic is the reference's
// pre-LayerNorm layer; only the grouping changes:
//   h = LN1(x); q,k,v = split(h @ [Wq Wk Wv] + b); q,k = LN(q), LN(k) (ESM C); rotary(q, k) (ESM-2, ESM C)
//   a = MHA(q, k, v, mask)                 x' = x + (a @ Wo + bo) / divisor
//   f = LN2(x');  g = act(f @ W1 + b1) @ W2   (GELU, or SwiGLU: silu(f @ Wg) * (f @ Wu))
//   x_next = x' + (g + b2) / divisor, normed by the next layer's LN1 (or the final norm) right away
// MHA applies 1/sqrt(head_dim) to the scores, which is where the reference's scaling of q ends up too
// (rotary is linear). The divisor is ESM C's sqrt(layers / 36); the others have none.
#include <fmt/format.h>

#include <limits>

#include "engines/graph/esm_graph.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::graph {
namespace {

constexpr const char* kMs = "com.microsoft";

// Whether the Linear ops of this weight format take the bias themselves (DynamicQuantizeMatMul,
// MatMulNBits): then a bias costs nothing, and the activation after it can be a plain one.
bool bias_rides_in_linear(WeightFormat f) { return f == WeightFormat::Int8 || f == WeightFormat::Int4; }

// (LN(skip + branch'), skip + branch') with branch' = (branch + bias) / divisor, the bias of `bias_role`'s
// Linear still to be added to `branch` when it has one and `bias_added` is false.
//
// fp32 activations: Add then LayerNormalization. ONNX Runtime's CPU SkipLayerNormalization (1.32) takes
// about four times as long as the two ops it replaces (measured: 1.6 ms against 0.4 ms on [3, 340, 480]),
// 17% of an int8 forward pass. fp16 activations (the GPU's format) keep the single fused kernel.
std::pair<std::string, std::string> residual_norm(Ctx& ctx, std::string branch, const std::string& skip, Role bias_role,
                                                  int64_t bias_layer, bool bias_added, Role norm, int64_t norm_layer) {
  auto& b = ctx.b;
  Builder::Scope s(b, role_name(norm));
  const double divisor = ctx.cfg.arch.residual_divisor;
  std::string bias = !bias_added && ctx.has_bias(bias_role, bias_layer) ? ctx.act_weight(bias_of(bias_role, bias_layer)) : "";
  const bool fused = ctx.act != onnx::TensorProto::FLOAT;
  if (!bias.empty() && (divisor != 1.0 || !fused)) {
    branch = b.add(branch, bias, "Add_bias");
    bias.clear();
  }
  if (divisor != 1.0) branch = b.div(branch, ctx.scalar(static_cast<float>(divisor), "residual_divisor"), "scale_branch");
  if (!fused) {
    auto sum = b.add(skip, branch, "residual");
    return {layer_norm(ctx, sum, norm, norm_layer), sum};
  }
  const auto beta = ctx.ckpt.has(bias_of(norm, norm_layer)) ? ctx.act_weight(bias_of(norm, norm_layer)) : std::string();
  auto outs = b.node_multi("SkipLayerNormalization", {branch, skip, ctx.act_weight(weight_of(norm, norm_layer)), beta, bias},
                           {attr_float("epsilon", ctx.cfg.arch.layer_norm_eps)}, "SkipLayerNorm", 4);
  b.graph().mutable_node(b.graph().node_size() - 1)->set_domain(kMs);
  b.drop_output(1);  // mean
  b.drop_output(2);  // inverse standard deviation
  return {outs[0], outs[3]};
}

// What the masked MultiHeadAttention takes, and when a batch needs it.
struct AttentionMask {
  std::vector<std::string> inputs;  // after q, k, v: (bias, key_padding_mask[, attention_bias])
  std::string needed;               // bool scalar: the batch has padding (or chain breaks)
};

// Padding alone: a [B, S] int32 key-padding mask (1 where a key may be looked at). With chain breaks
// (ESM C's '|'), the additive [B, 1, T, S] bias of padding and other chains, built only for batches that
// need it, so that unbroken, unpadded batches hold no [T, S] tensor at all.
AttentionMask attention_mask(Ctx& ctx) {
  auto& b = ctx.b;
  Builder::Scope s(b, "masks");
  auto any = [&](const std::string& flags, const std::string& name) {
    auto m = b.node("ReduceMax", {b.cast(flags, onnx::TensorProto::INT32, name + "_i32")}, {attr_int("keepdims", 0)}, name);
    return b.cast(m, onnx::TensorProto::BOOL, name + "_bool");
  };
  AttentionMask mask;
  mask.needed = any(ctx.pad, "any_padding");
  if (!ctx.cfg.arch.chain_breaks) {
    auto attend = b.node("Not", {b.squeeze(ctx.key_mask, {1, 2}, "keys")}, {}, "attend");
    mask.inputs = {"", b.cast(attend, onnx::TensorProto::INT32, "key_padding_mask")};
    return mask;
  }
  auto brk = b.node("Equal", {ctx.tokens, b.const_i64({ctx.alphabet.chain_break_idx()}, "chain_break_idx", true)}, {}, "is_break");
  mask.needed = b.node("Or", {mask.needed, any(brk, "any_break")}, {}, "needs_mask");
  auto bias = b.if_node(
      mask.needed,
      [&] {
        auto neg_inf = ctx.scalar(-std::numeric_limits<float>::infinity(), "neg_inf");
        return std::vector<std::string>{b.node("Where", {ctx.key_mask, neg_inf, ctx.scalar(0.0f, "zero")}, {}, "attention_bias")};
      },
      [&] { return std::vector<std::string>{b.node("Identity", {ctx.scalar(0.0f, "unused_bias")}, {}, "no_bias")}; },
      ctx.act, "If_attention_bias")[0];
  mask.inputs = {"", "", bias};
  return mask;
}

std::string feed_forward(Ctx& ctx, const std::string& f, int64_t layer) {
  auto& b = ctx.b;
  const bool in_linear = bias_rides_in_linear(ctx.opt.weights);
  switch (ctx.cfg.arch.ffn) {
    case FeedForward::Gelu: {
      auto up = ctx.linear(f, {Role::FfnUp}, layer, /*with_bias=*/in_linear);
      // BiasGelu where the bias would be a separate Add (ONNX Runtime fuses Add + Gelu into it anyway);
      // the plain Gelu kernel is about twice as fast where the Linear already added the bias.
      auto act = in_linear || !ctx.has_bias(Role::FfnUp, layer)
                     ? b.node("Gelu", {up}, {}, "Gelu", 1, kMs)
                     : b.node("BiasGelu", {up, ctx.act_weight(bias_of(Role::FfnUp, layer))}, {}, "BiasGelu", 1, kMs);
      return ctx.linear(act, {Role::FfnDown}, layer, /*with_bias=*/in_linear);
    }
    case FeedForward::SwiGlu: {
      // One Linear for both halves (one quantization of f in int8); QuickGelu with alpha 1 is x * sigmoid(x),
      // silu, in one pass.
      auto both = ctx.linear(f, {Role::FfnGate, Role::FfnUp}, layer);
      const int64_t hidden = ctx.ckpt.shape(weight_of(Role::FfnUp, layer)).at(0);
      auto halves = b.node_multi("Split", {both, b.const_i64({hidden, hidden}, "split")}, {attr_int("axis", -1)}, "split_gate_up", 2);
      auto silu = b.node("QuickGelu", {halves[0]}, {attr_float("alpha", 1.0f)}, "silu", 1, kMs);
      return ctx.linear(b.mul(silu, halves[1], "gated"), {Role::FfnDown}, layer, /*with_bias=*/in_linear);
    }
  }
  throw UnsupportedError("unknown feed-forward kind");
}

}  // namespace

std::string build_fused_stack(Ctx& ctx, const std::string& x0,
                              const std::function<void(int64_t, const LayerOut&)>& on_layer) {
  auto& b = ctx.b;
  const auto& cfg = ctx.cfg;
  const bool in_linear = bias_rides_in_linear(ctx.opt.weights);
  // ONNX Runtime's CPU MultiHeadAttention runs its flash kernel (no [B, H, T, S] maps) only without a mask,
  // so each layer picks the masked op only for batches that need one.
  const AttentionMask mask = attention_mask(ctx);
  std::string x = x0;
  std::string h;
  {
    Builder::Scope scope(b, "layers.0");
    h = layer_norm(ctx, x, Role::AttnNorm, 0);
  }
  std::string x_final;
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    Builder::Scope scope(b, fmt::format("layers.{}", i));
    LayerOut out;
    std::string f;
    {
      Builder::Scope attn(b, "attn");
      auto qkv = ctx.linear(h, {Role::Query, Role::Key, Role::Value}, i);
      auto parts = b.node_multi("Split", {qkv, b.const_i64({cfg.embed_dim, cfg.embed_dim, cfg.embed_dim}, "split")},
                                {attr_int("axis", -1)}, "split_qkv", 3);
      std::string q = parts[0], k = parts[1], v = parts[2];
      if (cfg.arch.qk_norm) {
        q = layer_norm(ctx, q, Role::QueryNorm, i);
        k = layer_norm(ctx, k, Role::KeyNorm, i);
      }
      if (cfg.arch.positions == Positions::Rotary) {
        const auto cos_sin = rotary_cos_sin(ctx, i, /*full_width=*/false);
        const auto& cos = cos_sin.first;  // not a structured binding: lambdas capture these (clang 14)
        const auto& sin = cos_sin.second;
        auto start = b.const_i64({0}, "position_start");
        auto rot = [&](const std::string& t, const std::string& name) {
          return b.node("RotaryEmbedding", {t, start, cos, sin},
                        {attr_int("interleaved", 0), attr_int("num_heads", cfg.attention_heads)}, name, 1, kMs);
        };
        q = rot(q, "rotary_q");
        k = rot(k, "rotary_k");
      }
      if (cfg.arch.bias_kv) {
        k = append_bias_kv(ctx, k, Role::BiasK, i);
        v = append_bias_kv(ctx, v, Role::BiasV, i);
      }
      auto mha = [&](bool masked) {
        std::vector<std::string> in{q, k, v};
        if (masked) in.insert(in.end(), mask.inputs.begin(), mask.inputs.end());
        return std::vector<std::string>{
            b.node("MultiHeadAttention", in, {attr_int("num_heads", cfg.attention_heads)}, "MultiHeadAttention", 1, kMs)};
      };
      auto context = b.if_node(mask.needed, [&] { return mha(true); }, [&] { return mha(false); }, ctx.act, "If_mask")[0];
      out.q = q;
      out.k = k;
      auto a = ctx.linear(context, {Role::AttnOut}, i, /*with_bias=*/in_linear);
      std::tie(f, x) = residual_norm(ctx, a, x, Role::AttnOut, i, in_linear, Role::FfnNorm, i);
    }
    Builder::Scope ffn(b, "ffn");
    auto down = feed_forward(ctx, f, i);
    const bool last = i + 1 == cfg.num_layers;
    if (!last) {
      std::tie(h, x) = residual_norm(ctx, down, x, Role::FfnDown, i, in_linear, Role::AttnNorm, i + 1);
    } else if (cfg.arch.final_norm) {
      std::tie(x_final, x) = residual_norm(ctx, down, x, Role::FfnDown, i, in_linear, Role::FinalNorm, -1);
    } else {
      if (!in_linear && ctx.has_bias(Role::FfnDown, i)) down = b.add(down, ctx.act_weight(bias_of(Role::FfnDown, i)), "Add_bias");
      if (cfg.arch.residual_divisor != 1.0) {
        down = b.div(down, ctx.scalar(static_cast<float>(cfg.arch.residual_divisor), "residual_divisor"), "scale_branch");
      }
      x = b.add(x, down, "residual");
      x_final = x;
    }
    out.x = x;
    on_layer(i + 1, out);
  }
  return x_final;
}

}  // namespace esm_onnx::graph
