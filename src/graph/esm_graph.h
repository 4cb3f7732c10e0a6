#pragma once
// The pieces of an ESM forward pass as ONNX subgraphs. Each follows fair-esm's arithmetic order
// (see docs in the README's "How the graph matches fair-esm").
#include <map>
#include <string>
#include <vector>

#include "esm_onnx/checkpoint.h"
#include "graph/builder.h"

namespace esm_onnx::graph {

struct Ctx {
  Builder& b;
  const Checkpoint& ckpt;
  const ModelConfig& cfg;
  Alphabet alphabet;
  std::string tokens;    // int64 [B, T]
  std::string pad;       // bool [B, T], true at padding
  std::string nonpad;    // float [B, T], 1 at real tokens
  std::string key_mask;  // bool [B, 1, 1, S], true where attention must not look
  std::string seq_len;   // int64 scalar T
  std::map<std::string, std::pair<std::string, std::string>> rotary;  // inv_freq bytes -> (cos, sin)
  std::map<std::string, std::string> weights;                         // (name, transposed) -> initializer

  // A checkpoint weight as an initializer, named after fair-esm's module; `transpose` for Linear weights.
  std::string weight(const std::string& name, bool transpose = false);
};

// Masks and lengths every stage uses; fills ctx.pad, nonpad, key_mask, seq_len.
void build_masks(Ctx& ctx);

// tokens -> x [B, T, E] as fair-esm's forward computes it before the first layer (representation 0).
std::string build_embeddings(Ctx& ctx);

struct LayerOut {
  std::string x;      // [B, T, E]
  std::string probs;  // [B, H, T, T] attention probabilities (empty unless asked for)
};
LayerOut build_layer(Ctx& ctx, int64_t layer, const std::string& x, bool need_probs);

// Final norm (ESM-1b/ESM-2) applied to the last layer's output; ESM-1 has none.
std::string build_final_norm(Ctx& ctx, const std::string& x);
std::string build_logits(Ctx& ctx, const std::string& x_final);

// Contacts: fair-esm's ContactPredictionHead, accumulated layer by layer so that only one layer's
// attention maps are alive at a time. Call add_layer for each layer, then finish.
class ContactHead {
 public:
  explicit ContactHead(Ctx& ctx);
  void add_layer(int64_t layer, const std::string& probs);
  std::string finish();  // [B, T', T'] probabilities

 private:
  Ctx& ctx_;
  std::string pair_mask_;
  std::string sum_;
  std::vector<float> weight_;
};

}  // namespace esm_onnx::graph
