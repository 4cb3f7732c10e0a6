#pragma once
// Which tensors a model needs and the shape of each, from its sizes and architecture switches alone.
// Every layout is checked against this one table, so all missing or mis-shaped tensors are reported together.
#include <cstdint>
#include <vector>

#include "esm_onnx/base/model_config.h"
#include "esm_onnx/base/tensor_role.h"

namespace esm_onnx::model {

struct TensorSpec {
  Role role;
  Part part;
  bool per_layer;
  std::vector<int64_t> shape;
  bool required{true};  // optional tensors have a default (the rotary frequencies are computed)
};

std::vector<TensorSpec> tensor_specs(const ModelConfig& config);

// Weights the graph holds in fp32, summed over the specs (an upper bound for the other encodings).
uint64_t weight_count(const ModelConfig& config);

}  // namespace esm_onnx::model
