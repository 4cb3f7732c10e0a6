#pragma once
// What embedding one record produces: the arrays esm-extract saves, keyed as it keys them.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace esm_onnx {

// One sequence to embed, from a list or a FASTA file.
struct SequenceRecord {
  std::string label;
  std::string sequence;
  int64_t line{0};   // 1-based line of the FASTA header; 0 when the record did not come from a file
  int64_t index{0};  // 0-based position in its input
};

// A record that was not embedded, and why.
struct SkippedRecord {
  std::string label;
  int64_t line{0};
  std::string reason;
  int64_t index{0};
};

// A dense float32 array, row-major.
struct FloatArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct RecordOutput {
  std::string label;
  int64_t index{0};   // position of the record in its input (list or FASTA file), 0-based
  int64_t length{0};  // residues embedded (after truncation): the tokens between BOS and EOS
  std::map<int64_t, FloatArray> representations;       // layer -> [L, E]   (per_tok)
  std::map<int64_t, FloatArray> mean_representations;  // layer -> [E]      (mean)
  std::map<int64_t, FloatArray> bos_representations;   // layer -> [E]      (bos)
  std::optional<FloatArray> contacts;                  // [L, L]
  std::optional<FloatArray> logits;                    // [L, vocab]
};

}  // namespace esm_onnx
