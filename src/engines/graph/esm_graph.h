#pragma once
// The pieces of an ESM forward pass as ONNX subgraphs. Each follows fair-esm's arithmetic order
// (see docs in the README's "How the graph matches fair-esm").
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engines/graph/builder.h"
#include "esm_onnx/checkpoint/checkpoint.h"

namespace esm_onnx::graph {

// How the layers are computed: which weight encoding, and fused ONNX Runtime ops or standard ops only.
// Int8Dequant: the same int8 weights behind a standard DequantizeLinear, which OpenVINO runs as compressed
// weights (int8 in memory, its own kernels); ONNX Runtime's Int8 needs com.microsoft DynamicQuantizeMatMul.
enum class WeightFormat { Fp32, Fp16, Int8, Int4, Int8Dequant };
struct GraphOptions {
  WeightFormat weights{WeightFormat::Fp32};
  bool fused{false};       // com.microsoft attention, rotary, skip-layer-norm, bias-gelu
  int64_t int4_block{128};  // MatMulNBits block size along the input dimension
};

struct Ctx {
  Builder& b;
  const Checkpoint& ckpt;
  const ModelConfig& cfg;
  Alphabet alphabet;
  std::string tokens;      // int64 [B, T]
  std::string pad{};       // bool [B, T], true at padding
  std::string nonpad{};    // float [B, T], 1 at real tokens
  std::string key_mask{};  // bool [B, 1, 1, S] (or [B, 1, T, S] with chain breaks), true where attention must not look
  std::string key_bias{};  // activation type [B, 1, 1, S]: -inf where key_mask, else 0 (added to the scores)
  std::string seq_len{};   // int64 scalar T
  GraphOptions opt{};
  int act{onnx::TensorProto::FLOAT};             // element type of the activations between the layers
  std::map<std::string, std::string> weights{};  // (name, encoding) -> initializer
  // Rotary tables, built once per distinct inv_freq (keyed by its bytes) and shared by the layers.
  struct Rotary {
    std::size_t index{0};
    std::string freqs;                                            // t * inv_freq, [T, D/2]
    std::map<bool, std::pair<std::string, std::string>> cos_sin;  // full width? -> (cos, sin)
  };
  std::map<std::string, Rotary> rotary{};

  // A checkpoint weight as an fp32 initializer, named after its role; `transpose` for Linear weights.
  std::string weight(const TensorKey& key, bool transpose = false);
  // A checkpoint weight (LayerNorm parameters, biases) in the activation type.
  std::string act_weight(const TensorKey& key);
  // x @ W^T (+ b) for one Linear or several side by side (their outputs concatenated, as for packed
  // q/k/v), in the weight format of opt.weights. Biases are added when the architecture has them
  // and `with_bias` (the fused path adds them inside the op that follows).
  std::string linear(const std::string& x, const std::vector<Role>& roles, int64_t layer, bool with_bias = true);
  // Whether the Linear of `role` has a bias in this checkpoint.
  bool has_bias(Role role, int64_t layer = -1) const { return ckpt.has(bias_of(role, layer)); }
  // A scalar constant in the activation type.
  std::string scalar(float value, const std::string& hint);
};

// cos and sin of the rotary angles of one layer, in the activation type: [T, D] (the angles repeated, as
// fair-esm's rotate-half form uses them) when full_width, else [T, D/2] (RotaryEmbedding's caches).
std::pair<std::string, std::string> rotary_cos_sin(Ctx& ctx, int64_t layer, bool full_width);

// ESM-1's bias_k / bias_v: one extra key (value) appended after the sequence, [B, T, E] -> [B, T + 1, E].
std::string append_bias_kv(Ctx& ctx, const std::string& x, Role role, int64_t layer);

// The LayerNorm of `role` (weight, and bias when the architecture has one) in the activation type.
std::string layer_norm(Ctx& ctx, const std::string& x, Role role, int64_t layer = -1);

// Masks and lengths every stage uses; fills ctx.pad, nonpad, key_mask, key_bias, seq_len.
void build_masks(Ctx& ctx);

// tokens -> x [B, T, E] as fair-esm's forward computes it before the first layer (representation 0).
std::string build_embeddings(Ctx& ctx);

struct LayerOut {
  std::string x;      // [B, T, E]
  std::string probs;  // [B, H, T, T] attention probabilities (explicit layers, when asked for)
  // The fused layers' rotated queries [B, T, E] and keys [B, S, E] (S = T + 1 with bias_k), from which
  // attention_probs recomputes the maps where a side branch needs them.
  std::string q, k;
};
LayerOut build_layer(Ctx& ctx, int64_t layer, const std::string& x, bool need_probs);

// softmax(q k^T / sqrt(D) + key bias) as fair-esm computes it, in fp32: [B, H, T, T] from the fused layers'
// q [B, T, E] and k [B, S, E]; `key_bias` is [B, 1, 1, S] (-inf at padding), ESM-1's bias_k column dropped.
std::string attention_probs(Ctx& ctx, const std::string& q, const std::string& k, const std::string& key_bias);

// All layers with fused ONNX Runtime ops (no attention maps). Calls on_layer(i, out) with each layer's
// output out.x (i = 1..N, the residual stream before any final norm) and its rotated q and k, and returns the
// last layer's output after the final norm, as build_final_norm would. Batches without padding run
// MultiHeadAttention without a mask, which is ONNX Runtime's flash attention on the CPU (memory linear in T).
// Covers every architecture switch; the explicit layers (build_layer) are for attention maps and engines
// without com.microsoft ops.
std::string build_fused_stack(Ctx& ctx, const std::string& x0,
                              const std::function<void(int64_t, const LayerOut&)>& on_layer);

// x cast to fp32 when the activations are fp16.
std::string to_f32(Ctx& ctx, const std::string& x);

// The final norm, when the architecture has one, applied to the last layer's output.
std::string build_final_norm(Ctx& ctx, const std::string& x);
// The `logits` output of the model's head from the final representation; empty when it has none.
std::string build_logits(Ctx& ctx, const std::string& x_final);

// Contacts: fair-esm's ContactPredictionHead, accumulated layer by layer so that only one layer's
// attention maps are alive at a time. Call add_layer (explicit layers) or add_fused_layer for each layer,
// then finish.
class ContactHead {
 public:
  explicit ContactHead(Ctx& ctx);
  void add_layer(int64_t layer, const std::string& probs);
  // From the fused layers' q and k, inside an If on kContactsWantedInput: runs that do not fetch contacts
  // compute no maps at all.
  void add_fused_layer(int64_t layer, const std::string& q, const std::string& k);
  std::string finish();  // [B, T', T'] probabilities ([1, 0, 0] on runs with contacts_wanted false)

 private:
  // The layer's term of the sum (before the pair mask, which finish applies once), in the current graph.
  std::string contribution(int64_t layer, const std::string& probs);
  std::string crop(const std::string& sum);

  Ctx& ctx_;
  std::string valid_col_, valid_row_, valid_, b_t_t_;
  std::string wanted_, key_bias_, bias_;  // the fused side branch's gate, key bias and regression bias
  std::string sum_;
  std::vector<float> weight_;
};

}  // namespace esm_onnx::graph
