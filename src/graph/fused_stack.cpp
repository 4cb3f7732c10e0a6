// The layers with ONNX Runtime's fused CPU/CUDA ops. The arithmetic is fair-esm's pre-LayerNorm layer;
// only the grouping changes:
//   h = LN1(x); q,k,v = split(h @ [Wq Wk Wv] + b); rotary(q, k) (ESM-2); a = MHA(q, k, v, key padding)
//   (f, x') = SkipLayerNorm(a @ Wo, skip = x, bias = bo, LN2)      x' = x + attention
//   g = BiasGelu(f @ W1, b1) @ W2
//   (h_next, x_next) = SkipLayerNorm(g, skip = x', bias = b2, LN1 of the next layer or the final norm)
// so each residual add rides in the LayerNorm that follows it. MHA applies 1/sqrt(head_dim) to the scores,
// which is where fair-esm's scaling of q ends up too (rotary is linear).
#include <fmt/format.h>

#include "esm_onnx/errors.h"
#include "graph/esm_graph.h"

namespace esm_onnx::graph {
namespace {

constexpr const char* kMs = "com.microsoft";

// Returns (normed, sum): LN(input + skip + bias) and input + skip + bias.
// `bias_role` is the Linear whose bias rides in the op, `norm` the LayerNorm it applies.
std::pair<std::string, std::string> skip_layer_norm(Ctx& ctx, const std::string& input, const std::string& skip,
                                                    Role bias_role, int64_t bias_layer, Role norm, int64_t norm_layer) {
  auto& b = ctx.b;
  Builder::Scope s(b, role_name(norm));
  const auto beta = ctx.ckpt.has(bias_of(norm, norm_layer)) ? ctx.act_weight(bias_of(norm, norm_layer)) : std::string();
  const auto bias = ctx.has_bias(bias_role, bias_layer) ? ctx.act_weight(bias_of(bias_role, bias_layer)) : std::string();
  auto outs = b.node_multi("SkipLayerNormalization",
                           {input, skip, ctx.act_weight(weight_of(norm, norm_layer)), beta, bias},
                           {attr_float("epsilon", ctx.cfg.arch.layer_norm_eps)}, "SkipLayerNorm", 4);
  b.graph().mutable_node(b.graph().node_size() - 1)->set_domain(kMs);
  b.drop_output(1);  // mean
  b.drop_output(2);  // inverse standard deviation
  return {outs[0], outs[3]};
}

// 1 where a key may be looked at, [B, S] int32: build_masks' key mask (with ESM-1's bias_k column) inverted.
std::string key_padding_mask(Ctx& ctx) {
  auto& b = ctx.b;
  Builder::Scope s(b, "masks");
  auto attend = b.node("Not", {b.squeeze(ctx.key_mask, {1, 2}, "keys")}, {}, "attend");
  return b.cast(attend, onnx::TensorProto::INT32, "key_padding_mask");
}

}  // namespace

bool fused_stack_supports(const Architecture& a) {
  return !a.qk_norm && !a.chain_breaks && a.ffn == FeedForward::Gelu && a.ffn_bias && a.residual_divisor == 1.0;
}

std::string build_fused_stack(Ctx& ctx, const std::string& x0,
                              const std::function<void(int64_t, const LayerOut&)>& on_layer) {
  auto& b = ctx.b;
  const auto& cfg = ctx.cfg;
  if (!fused_stack_supports(cfg.arch)) throw UnsupportedError(fmt::format("{}: the fused layers do not cover this architecture", cfg.variant));
  const std::string mask = key_padding_mask(ctx);
  // ONNX Runtime's CPU MultiHeadAttention runs its flash kernel (no [B, H, T, S] maps) only without a mask,
  // so each layer picks the masked op only for batches that have padding.
  std::string padded;
  {
    Builder::Scope s(b, "masks");
    auto any = b.node("ReduceMax", {b.cast(ctx.pad, onnx::TensorProto::INT32, "pad_i32")}, {attr_int("keepdims", 0)}, "any_padding");
    padded = b.cast(any, onnx::TensorProto::BOOL, "has_padding");
  }
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
        if (masked) in.insert(in.end(), {"", mask});
        return std::vector<std::string>{
            b.node("MultiHeadAttention", in, {attr_int("num_heads", cfg.attention_heads)}, "MultiHeadAttention", 1, kMs)};
      };
      auto context = b.if_node(padded, [&] { return mha(true); }, [&] { return mha(false); }, ctx.act, "If_padding")[0];
      out.q = q;
      out.k = k;
      auto a = ctx.linear(context, {Role::AttnOut}, i, /*with_bias=*/false);
      std::tie(f, x) = skip_layer_norm(ctx, a, x, Role::AttnOut, i, Role::FfnNorm, i);
    }
    Builder::Scope ffn(b, "ffn");
    auto up = ctx.linear(f, {Role::FfnUp}, i, /*with_bias=*/false);
    auto act = b.node("BiasGelu", {up, ctx.act_weight(bias_of(Role::FfnUp, i))}, {}, "BiasGelu", 1, kMs);
    auto down = ctx.linear(act, {Role::FfnDown}, i, /*with_bias=*/false);
    const bool last = i + 1 == cfg.num_layers;
    if (!last) {
      std::tie(h, x) = skip_layer_norm(ctx, down, x, Role::FfnDown, i, Role::AttnNorm, i + 1);
    } else if (cfg.arch.final_norm) {
      std::tie(x_final, x) = skip_layer_norm(ctx, down, x, Role::FfnDown, i, Role::FinalNorm, -1);
    } else {
      x = b.add(b.add(down, ctx.act_weight(bias_of(Role::FfnDown, i)), "Add_bias"), x, "residual");
      x_final = x;
    }
    out.x = x;
    on_layer(i + 1, out);
  }
  return x_final;
}

}  // namespace esm_onnx::graph
