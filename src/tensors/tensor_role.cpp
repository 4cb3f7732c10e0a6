#include "esm_onnx/base/tensor_role.h"

#include <fmt/format.h>

#include <tuple>

namespace esm_onnx {

bool TensorKey::operator<(const TensorKey& o) const {
  return std::tie(role, part, layer) < std::tie(o.role, o.part, o.layer);
}

const char* role_name(Role role) {
  switch (role) {
    case Role::TokenEmbedding: return "token_embedding";
    case Role::PositionEmbedding: return "position_embedding";
    case Role::EmbedNorm: return "embed_norm";
    case Role::AttnNorm: return "attn_norm";
    case Role::Query: return "query";
    case Role::Key: return "key";
    case Role::Value: return "value";
    case Role::AttnOut: return "attn_out";
    case Role::BiasK: return "bias_k";
    case Role::BiasV: return "bias_v";
    case Role::QueryNorm: return "query_norm";
    case Role::KeyNorm: return "key_norm";
    case Role::RotaryFreq: return "rotary_inv_freq";
    case Role::FfnNorm: return "ffn_norm";
    case Role::FfnUp: return "ffn_up";
    case Role::FfnGate: return "ffn_gate";
    case Role::FfnDown: return "ffn_down";
    case Role::FinalNorm: return "final_norm";
    case Role::LmDense: return "lm_dense";
    case Role::LmNorm: return "lm_norm";
    case Role::LmOut: return "lm_out";
    case Role::ContactRegression: return "contact_regression";
    case Role::ClassifierDense: return "classifier_dense";
    case Role::ClassifierOut: return "classifier_out";
  }
  return "?";
}

std::string key_name(const TensorKey& key) {
  const char* part = key.part == Part::Weight ? "weight" : "bias";
  if (key.layer < 0) return fmt::format("{}.{}", role_name(key.role), part);
  return fmt::format("layers.{}.{}.{}", key.layer, role_name(key.role), part);
}

}  // namespace esm_onnx
