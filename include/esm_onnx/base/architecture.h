#pragma once
// What distinguishes the ESM families from each other, as switches the graph builder reads. A family
// is a set of switch values (src/tensors/families/), never a name the graph code compares against.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace esm_onnx {

enum class Family { Esm1, Esm1b, Esm2, EsmC };

const char* family_name(Family family);  // "ESM-1", "ESM-1b", "ESM-2", "ESM C"
// The family of a name family_name gives; UsageError naming `option` and the names otherwise.
Family parse_family(std::string_view text, std::string_view option);

enum class Positions {
  Sinusoidal,  // fixed sin/cos table added to the embeddings (ESM-1)
  Learned,     // a learned table indexed from padding_idx + 1 (ESM-1b, ESM-1v)
  Rotary,      // rotary q/k, half-split (ESM-2, ESM C)
};

enum class FeedForward {
  Gelu,    // fc2(gelu(fc1(x))) with erf GELU
  SwiGlu,  // down(silu(gate(x)) * up(x))
};

// What the `logits` output is.
enum class OutputHead {
  None,                    // a bare encoder (transformers' EsmModel): no logits
  LanguageModel,           // masked-token logits over the vocabulary, [B, T, V]
  SequenceClassification,  // a classifier on the BOS token: [B, num_labels]
  TokenClassification,     // a classifier on every token: [B, T, num_labels]
};

const char* output_head_name(OutputHead head);  // "none", "language-model", "sequence-classification", ...
// Throws UsageError naming `option` for an unknown name.
OutputHead parse_output_head(std::string_view text, std::string_view option);

enum class LmHeadKind {
  Projection,  // logits = x W^T (+ b) straight from the last layer (ESM-1)
  Dense,       // dense, GELU, LayerNorm, then the projection (ESM-1b, ESM-2, ESM C)
};

struct Architecture {
  Positions positions{Positions::Rotary};
  bool embed_scale{false};    // token embeddings times sqrt(dim) (ESM-1)
  bool token_dropout{false};  // <mask> rows zeroed and the rest rescaled, as at training
  bool embed_norm{false};     // a LayerNorm right after the embeddings (some ESM-1b configurations)
  bool attention_bias{true};  // biases on q, k, v and the output projection
  bool bias_kv{false};        // one learned extra key and value per layer (ESM-1)
  bool qk_norm{false};        // LayerNorm over the full width of q and of k (ESM C)
  bool qk_norm_bias{false};   // ... with a bias
  bool final_norm_bias{true};  // the final LayerNorm has a bias (the others always have one)
  double rope_theta{10000.0};  // rotary base, when the file has no frequencies of its own
  FeedForward ffn{FeedForward::Gelu};
  bool ffn_bias{true};
  double residual_divisor{1.0};  // each residual branch is divided by this (ESM C: sqrt(layers / 36))
  bool final_norm{true};         // a LayerNorm after the last layer, part of the last representation
  LmHeadKind lm_head{LmHeadKind::Dense};
  bool lm_bias{true};
  float layer_norm_eps{1e-5f};
  bool chain_breaks{false};  // '|' separates chains that do not attend to each other (ESM C)
};

}  // namespace esm_onnx
