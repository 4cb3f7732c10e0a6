// ESM C: pre-LayerNorm blocks without Linear biases, LayerNorms on q and k, rotary positions, a SwiGLU
// feed-forward, each residual branch divided by sqrt(layers / 36), a bias-free final norm and the dense
// LM head; '|' separates chains.
#include <cmath>

#include "tensors/families/families.h"

namespace esm_onnx::families {

FamilyTraits esmc(int64_t layers) {
  Architecture a;
  a.positions = Positions::Rotary;
  a.attention_bias = false;
  a.qk_norm = true;
  a.qk_norm_bias = false;
  a.ffn = FeedForward::SwiGlu;
  a.ffn_bias = false;
  a.residual_divisor = std::sqrt(static_cast<double>(layers) / 36.0);
  a.final_norm_bias = false;
  a.chain_breaks = true;
  return {Family::EsmC, "ESM C", a, AlphabetKind::EsmC};
}

}  // namespace esm_onnx::families
