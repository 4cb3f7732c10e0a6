#include "esm/tensor_spec.h"

namespace esm_onnx::spec {

std::string layer_name(const std::string& templ, int64_t layer) {
  std::string out = templ;
  const auto pos = out.find("{i}");
  if (pos != std::string::npos) out.replace(pos, 3, std::to_string(layer));
  return out;
}

std::vector<TensorSpec> tensor_specs(const ModelConfig& c) {
  const int64_t E = c.embed_dim, F = c.ffn_dim, V = c.vocab_size;
  std::vector<TensorSpec> s = {
      {"embed_tokens.weight", {V, E}},
      {"layers.{i}.self_attn.q_proj.weight", {E, E}, true},
      {"layers.{i}.self_attn.q_proj.bias", {E}, true},
      {"layers.{i}.self_attn.k_proj.weight", {E, E}, true},
      {"layers.{i}.self_attn.k_proj.bias", {E}, true},
      {"layers.{i}.self_attn.v_proj.weight", {E, E}, true},
      {"layers.{i}.self_attn.v_proj.bias", {E}, true},
      {"layers.{i}.self_attn.out_proj.weight", {E, E}, true},
      {"layers.{i}.self_attn.out_proj.bias", {E}, true},
      {"layers.{i}.self_attn_layer_norm.weight", {E}, true},
      {"layers.{i}.self_attn_layer_norm.bias", {E}, true},
      {"layers.{i}.fc1.weight", {F, E}, true},
      {"layers.{i}.fc1.bias", {F}, true},
      {"layers.{i}.fc2.weight", {E, F}, true},
      {"layers.{i}.fc2.bias", {E}, true},
      {"layers.{i}.final_layer_norm.weight", {E}, true},
      {"layers.{i}.final_layer_norm.bias", {E}, true},
  };
  if (c.family == Family::Esm2) {
    s.push_back({"layers.{i}.self_attn.rot_emb.inv_freq", {c.head_dim() / 2}, true});
  }
  if (c.family == Family::Esm1) {
    s.push_back({"layers.{i}.self_attn.bias_k", {1, 1, E}, true});
    s.push_back({"layers.{i}.self_attn.bias_v", {1, 1, E}, true});
    s.push_back({"embed_out", {V, E}});
    if (c.final_bias) s.push_back({"embed_out_bias", {V}});
  } else {
    s.push_back({"emb_layer_norm_after.weight", {E}});
    s.push_back({"emb_layer_norm_after.bias", {E}});
    s.push_back({"lm_head.dense.weight", {E, E}});
    s.push_back({"lm_head.dense.bias", {E}});
    s.push_back({"lm_head.layer_norm.weight", {E}});
    s.push_back({"lm_head.layer_norm.bias", {E}});
    s.push_back({"lm_head.weight", {V, E}});
    s.push_back({"lm_head.bias", {V}});
  }
  if (c.family == Family::Esm1b) {
    s.push_back({"embed_positions.weight", {c.max_positions + 2, E}});
    if (c.emb_layer_norm_before) {
      s.push_back({"emb_layer_norm_before.weight", {E}});
      s.push_back({"emb_layer_norm_before.bias", {E}});
    }
  }
  if (c.has_contacts) {
    s.push_back({"contact_head.regression.weight", {1, c.num_layers * c.attention_heads}});
    s.push_back({"contact_head.regression.bias", {1}});
  }
  return s;
}

}  // namespace esm_onnx::spec
