#pragma once
// Cutting one record out of a padded batch's outputs: the only place that knows the layouts of the
// `representations`, `logits` and `contacts` outputs. embed, the Python package and --verify all use it.
#include <cstdint>
#include <vector>

#include "esm_onnx/options.h"
#include "esm_onnx/record.h"

namespace esm_onnx::runtime {

struct BatchView {
  int64_t batch{0}, length{0};  // B, T (BOS/EOS/padding included)
  int64_t bos{1};               // 1 when the alphabet prepends BOS
  const float* representations{nullptr};  // [n_exported, B, T, E]
  int64_t embed_dim{0};
  const float* logits{nullptr};  // [B, T, V] per token, or [B, V] per sequence (a sequence classifier)
  int64_t vocab{0};
  bool logits_per_token{true};
  const float* contacts{nullptr};  // [B, C, C]
  int64_t contact_len{0};
};

// Mean over `length` rows of `dim` floats, accumulated in double.
FloatArray mean_rows(const float* rows, int64_t length, int64_t dim);

// Fills `out` with row `b`'s requested outputs; `layers[k]` lives at position `layer_pos[k]` of the
// representations output. `out.length` must be set (residues, BOS/EOS excluded).
void slice_record(const BatchView& view, int64_t b, Includes include, const std::vector<int64_t>& layers,
                  const std::vector<int64_t>& layer_pos, RecordOutput& out);

}  // namespace esm_onnx::runtime
