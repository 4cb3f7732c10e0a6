#pragma once
// A fair-esm checkpoint, read without PyTorch: its architecture (detected from the content, not the
// file name), hyper-parameters, and lazy access to its weights under fair-esm's module names.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "esm_onnx/alphabet.h"

namespace esm_onnx {

enum class Family { Esm1, Esm1b, Esm2 };

const char* family_name(Family family);  // "ESM-1", "ESM-1b", "ESM-2"

struct ModelConfig {
  Family family{Family::Esm2};
  std::string variant;  // what to call it: "ESM-2", "ESM-1b", "ESM-1v", "ESM-1"
  int64_t num_layers{0};
  int64_t embed_dim{0};
  int64_t ffn_dim{0};
  int64_t attention_heads{0};
  int64_t vocab_size{0};
  AlphabetKind alphabet{AlphabetKind::Esm1b};
  bool token_dropout{false};
  bool emb_layer_norm_before{false};  // ESM-1b: present iff the file has emb_layer_norm_before.*
  bool final_bias{false};             // ESM-1: logits bias
  bool has_contacts{false};           // contact-regression weights were found
  int64_t max_positions{0};           // learned position table rows usable by tokens; 0 = no hard limit
  float layer_norm_eps{1e-5f};

  int64_t head_dim() const { return embed_dim / attention_heads; }
  // The most tokens (BOS/EOS included) one sequence may have; 0 = unlimited.
  int64_t max_tokens() const { return max_positions; }
  std::string to_string() const;
};

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

class Checkpoint {
 public:
  // Opens `path` and, when present, `<stem>-contact-regression.pt` beside it. Throws FormatError for
  // corrupt files, UnsupportedError for architectures esm-onnx does not handle (named in the message).
  static Checkpoint load(const std::string& path);

  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  ~Checkpoint();

  const ModelConfig& config() const;
  const std::string& path() const;
  const std::string& serialization() const;     // "zip" or "legacy"
  const std::string& contact_file() const;      // empty when none was merged
  const std::vector<std::string>& notices() const;  // things the user should know, not errors

  bool has(const std::string& name) const;
  std::vector<int64_t> shape(const std::string& name) const;
  std::string stored_dtype(const std::string& name) const;
  // The weight as fair-esm's model would hold it after loading (loader quirks applied), as float32.
  Tensor read(const std::string& name) const;
  std::vector<std::string> names() const;

  struct Impl;

 private:
  explicit Checkpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace esm_onnx
