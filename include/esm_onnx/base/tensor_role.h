#pragma once
// The weights of an ESM model named by what they do, not by any file's spelling. Each checkpoint
// layout maps these roles to its own tensor names (src/layouts/).
#include <cstdint>
#include <string>

namespace esm_onnx {

enum class Role {
  TokenEmbedding,
  PositionEmbedding,
  EmbedNorm,  // LayerNorm right after the embeddings
  AttnNorm,   // pre-attention LayerNorm
  Query,
  Key,
  Value,
  AttnOut,
  BiasK,  // ESM-1's extra key and value
  BiasV,
  QueryNorm,  // ESM C's LayerNorms on q and k
  KeyNorm,
  RotaryFreq,  // the rotary inverse frequencies, [head_dim / 2]
  FfnNorm,     // pre-feed-forward LayerNorm
  FfnUp,       // fc1; with SwiGLU the linear branch
  FfnGate,     // SwiGLU's gated branch
  FfnDown,     // fc2
  FinalNorm,
  LmDense,
  LmNorm,
  LmOut,  // the vocabulary projection
  ContactRegression,
  ClassifierDense,  // sequence classification: dense + tanh on the BOS token
  ClassifierOut,
};

enum class Part { Weight, Bias };

// One tensor: a role, weight or bias, and its layer (-1 outside the layers).
struct TensorKey {
  Role role;
  Part part{Part::Weight};
  int64_t layer{-1};
  bool operator<(const TensorKey& o) const;
  bool operator==(const TensorKey& o) const = default;
};

inline TensorKey weight_of(Role role, int64_t layer = -1) { return {role, Part::Weight, layer}; }
inline TensorKey bias_of(Role role, int64_t layer = -1) { return {role, Part::Bias, layer}; }

const char* role_name(Role role);         // "query", "ffn_up", ...
std::string key_name(const TensorKey& key);  // "layers.3.query.weight", "token_embedding.weight"

}  // namespace esm_onnx
