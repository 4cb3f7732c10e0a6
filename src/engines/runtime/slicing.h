#pragma once
// Cutting one record out of a padded batch's outputs: the slicing rules of outputs.h's SliceRule, the only
// place that knows the layouts of the graph outputs. embed, the Python package and --verify all use it.
#include <array>
#include <cstdint>
#include <vector>

#include "esm_onnx/base/outputs.h"
#include "esm_onnx/base/record.h"

namespace esm_onnx::runtime {

// One graph output of a batch, as the engine returned it.
struct BatchTensor {
  const float* data{nullptr};
  std::vector<int64_t> shape;
};

struct BatchView {
  int64_t batch{0}, length{0};  // B, T (BOS/EOS/padding included)
  int64_t bos{1};               // 1 when the alphabet prepends BOS
  int64_t eos{1};               // 1 when it appends EOS
  std::array<BatchTensor, 4> outputs{};  // indexed by GraphOutput

  BatchTensor& operator[](GraphOutput g) { return outputs[static_cast<std::size_t>(g)]; }
  const BatchTensor& operator[](GraphOutput g) const { return outputs[static_cast<std::size_t>(g)]; }
};

// Mean over `length` rows of `dim` floats, accumulated in double.
FloatArray mean_rows(const float* rows, int64_t length, int64_t dim);

// Appends row `b`'s requested outputs to `out.arrays`, in output_specs() order; `layers[k]` lives at
// position `layer_pos[k]` of the representations output. `out.length` must be set (residues, BOS/EOS
// excluded).
void slice_record(const BatchView& view, int64_t b, Includes include, const std::vector<int64_t>& layers,
                  const std::vector<int64_t>& layer_pos, RecordOutput& out);

}  // namespace esm_onnx::runtime
