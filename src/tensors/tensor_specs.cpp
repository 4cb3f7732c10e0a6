#include "tensors/tensor_specs.h"

namespace esm_onnx::model {

std::vector<TensorSpec> tensor_specs(const ModelConfig& c) {
  const auto& a = c.arch;
  const int64_t E = c.embed_dim, F = c.ffn_dim, V = c.vocab_size, D = c.head_dim();
  std::vector<TensorSpec> s;
  auto global = [&](Role r, Part p, std::vector<int64_t> shape) { s.push_back({r, p, false, std::move(shape)}); };
  auto layer = [&](Role r, Part p, std::vector<int64_t> shape) { s.push_back({r, p, true, std::move(shape)}); };
  auto norm = [&](Role r, bool per_layer, bool bias = true) {
    s.push_back({r, Part::Weight, per_layer, {E}});
    if (bias) s.push_back({r, Part::Bias, per_layer, {E}});
  };
  auto linear = [&](Role r, bool per_layer, int64_t out, int64_t in, bool bias) {
    s.push_back({r, Part::Weight, per_layer, {out, in}});
    if (bias) s.push_back({r, Part::Bias, per_layer, {out}});
  };

  global(Role::TokenEmbedding, Part::Weight, {V, E});
  if (a.positions == Positions::Learned) global(Role::PositionEmbedding, Part::Weight, {c.max_positions + 2, E});
  if (a.embed_norm) norm(Role::EmbedNorm, false);

  norm(Role::AttnNorm, true);
  for (Role r : {Role::Query, Role::Key, Role::Value, Role::AttnOut}) linear(r, true, E, E, a.attention_bias);
  if (a.bias_kv) {
    layer(Role::BiasK, Part::Weight, {1, 1, E});
    layer(Role::BiasV, Part::Weight, {1, 1, E});
  }
  if (a.qk_norm) {
    norm(Role::QueryNorm, true, a.qk_norm_bias);
    norm(Role::KeyNorm, true, a.qk_norm_bias);
  }
  if (a.positions == Positions::Rotary) s.push_back({Role::RotaryFreq, Part::Weight, true, {D / 2}, false});
  norm(Role::FfnNorm, true);
  linear(Role::FfnUp, true, F, E, a.ffn_bias);
  if (a.ffn == FeedForward::SwiGlu) linear(Role::FfnGate, true, F, E, a.ffn_bias);
  linear(Role::FfnDown, true, E, F, a.ffn_bias);
  if (a.final_norm) norm(Role::FinalNorm, false, a.final_norm_bias);

  switch (c.head) {
    case OutputHead::LanguageModel:
      if (a.lm_head == LmHeadKind::Dense) {
        linear(Role::LmDense, false, E, E, true);
        norm(Role::LmNorm, false);
      }
      linear(Role::LmOut, false, V, E, a.lm_bias);
      break;
    case OutputHead::SequenceClassification:
      linear(Role::ClassifierDense, false, E, E, true);
      linear(Role::ClassifierOut, false, static_cast<int64_t>(c.labels.size()), E, true);
      break;
    case OutputHead::TokenClassification:
      linear(Role::ClassifierOut, false, static_cast<int64_t>(c.labels.size()), E, true);
      break;
    case OutputHead::None: break;
  }
  if (c.has_contacts) linear(Role::ContactRegression, false, 1, c.num_layers * c.attention_heads, true);
  return s;
}

uint64_t weight_count(const ModelConfig& c) {
  uint64_t n = 0;
  for (const auto& s : tensor_specs(c)) {
    uint64_t k = 1;
    for (auto d : s.shape) k *= static_cast<uint64_t>(d);
    n += k * (s.per_layer ? static_cast<uint64_t>(c.num_layers) : 1);
  }
  return n;
}

}  // namespace esm_onnx::model
