#pragma once
// What a checkpoint describes, independent of where it was read from: the family, the architecture switches
// and the hyper-parameters. Readers fill it (src/layouts), the graph builder and the tensor tables read it.
#include <cstdint>
#include <string>
#include <vector>

#include "esm_onnx/base/alphabet.h"
#include "esm_onnx/base/architecture.h"

namespace esm_onnx {

struct ModelConfig {
  Family family{Family::Esm2};
  std::string variant;  // what to call it: "ESM-2", "ESM-1b", "ESM-1v", "ESM-1", "ESM C"
  Architecture arch;
  int64_t num_layers{0};
  int64_t embed_dim{0};
  int64_t ffn_dim{0};
  int64_t attention_heads{0};
  int64_t vocab_size{0};
  AlphabetKind alphabet{AlphabetKind::Esm1b};
  bool has_contacts{false};      // contact-regression weights were found
  int64_t max_positions{0};      // learned position table rows usable by tokens; 0 = no hard limit
  OutputHead head{OutputHead::LanguageModel};
  std::vector<std::string> labels;  // classifier heads: the name of each logit (id2label), in order

  int64_t head_dim() const { return embed_dim / attention_heads; }
  // The most tokens (BOS/EOS included) one sequence may have; 0 = unlimited.
  int64_t max_tokens() const { return max_positions; }
  std::string to_string() const;
};

}  // namespace esm_onnx
