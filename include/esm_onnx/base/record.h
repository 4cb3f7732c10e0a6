#pragma once
// What embedding one record produces: the arrays esm-extract saves, keyed as it keys them.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "esm_onnx/base/outputs.h"

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

// One array of a record's output: `layer` for the per-layer outputs (mean, per_tok, bos), else -1.
struct RecordArray {
  Output output{Output::Mean};
  int64_t layer{-1};
  FloatArray array;
};

struct RecordOutput {
  std::string label;
  int64_t index{0};   // position of the record in its input (list or FASTA file), 0-based
  int64_t length{0};  // residues embedded (after truncation): the tokens between BOS and EOS
  // In output_specs() order, layers ascending within an output; shapes as OutputSpec::shape says.
  std::vector<RecordArray> arrays;

  // The array of `output` (at `layer` for a per-layer output); null when it was not computed.
  const FloatArray* find(Output output, int64_t layer = -1) const;
  // A per-layer output's arrays by layer; empty when it was not computed.
  std::map<int64_t, const FloatArray*> layers(Output output) const;
};

}  // namespace esm_onnx
