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
std::pair<std::string, std::string> skip_layer_norm(Ctx& ctx, const std::string& input, const std::string& skip,
                                                    const std::string& bias_module, const std::string& norm_module) {
  auto& b = ctx.b;
  Builder::Scope s(b, norm_module.substr(norm_module.rfind('.') + 1));
  auto outs = b.node_multi("SkipLayerNormalization",
                           {input, skip, ctx.act_weight(norm_module + ".weight"), ctx.act_weight(norm_module + ".bias"),
                            ctx.act_weight(bias_module + ".bias")},
                           {attr_float("epsilon", ctx.cfg.layer_norm_eps)}, "SkipLayerNorm", 4);
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

std::string build_fused_stack(Ctx& ctx, const std::string& x0,
                              const std::function<void(int64_t, const std::string&)>& on_layer) {
  auto& b = ctx.b;
  const auto& cfg = ctx.cfg;
  const std::string mask = key_padding_mask(ctx);
  std::string x = x0;
  std::string h;
  {
    Builder::Scope scope(b, "layers.0");
    h = layer_norm(ctx, x, layer_module(0, "self_attn_layer_norm"));
  }
  std::string x_final;
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    Builder::Scope scope(b, fmt::format("layers.{}", i));
    std::string f;
    {
      Builder::Scope attn(b, "attn");
      auto qkv = ctx.linear(h, {layer_module(i, "self_attn.q_proj"), layer_module(i, "self_attn.k_proj"), layer_module(i, "self_attn.v_proj")});
      auto parts = b.node_multi("Split", {qkv, b.const_i64({cfg.embed_dim, cfg.embed_dim, cfg.embed_dim}, "split")},
                                {attr_int("axis", -1)}, "split_qkv", 3);
      std::string q = parts[0], k = parts[1], v = parts[2];
      if (cfg.family == Family::Esm2) {
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
      if (cfg.family == Family::Esm1) {
        k = append_bias_kv(ctx, k, layer_module(i, "self_attn.bias_k"));
        v = append_bias_kv(ctx, v, layer_module(i, "self_attn.bias_v"));
      }
      auto context = b.node("MultiHeadAttention", {q, k, v, "", mask}, {attr_int("num_heads", cfg.attention_heads)},
                            "MultiHeadAttention", 1, kMs);
      auto a = ctx.linear(context, {layer_module(i, "self_attn.out_proj")}, /*with_bias=*/false);
      std::tie(f, x) = skip_layer_norm(ctx, a, x, layer_module(i, "self_attn.out_proj"), layer_module(i, "final_layer_norm"));
    }
    Builder::Scope ffn(b, "ffn");
    auto up = ctx.linear(f, {layer_module(i, "fc1")}, /*with_bias=*/false);
    auto act = b.node("BiasGelu", {up, ctx.act_weight(layer_module(i, "fc1") + ".bias")}, {}, "BiasGelu", 1, kMs);
    auto down = ctx.linear(act, {layer_module(i, "fc2")}, /*with_bias=*/false);
    const bool last = i + 1 == cfg.num_layers;
    if (!last) {
      std::tie(h, x) = skip_layer_norm(ctx, down, x, layer_module(i, "fc2"), layer_module(i + 1, "self_attn_layer_norm"));
    } else if (cfg.family != Family::Esm1) {
      std::tie(x_final, x) = skip_layer_norm(ctx, down, x, layer_module(i, "fc2"), "emb_layer_norm_after");
    } else {
      x = b.add(b.add(down, ctx.act_weight(layer_module(i, "fc2") + ".bias"), "Add_bias"), x, "residual");
      x_final = x;
    }
    on_layer(i + 1, x);
  }
  return x_final;
}

}  // namespace esm_onnx::graph
