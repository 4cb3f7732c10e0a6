#pragma once
// The one table of tensor names per family, with `{i}` standing for the layer index, and the shape
// each must have. Checked once at load so every missing or mis-shaped tensor is reported together.
#include <cstdint>
#include <string>
#include <vector>

#include "esm_onnx/checkpoint.h"

namespace esm_onnx::spec {

struct TensorSpec {
  std::string name;  // fair-esm module name, `{i}` = layer index
  std::vector<int64_t> shape;
  bool per_layer{false};
  bool required{true};
};

std::vector<TensorSpec> tensor_specs(const ModelConfig& config);

// "layers.{i}.fc1.weight" with i = 3 -> "layers.3.fc1.weight"
std::string layer_name(const std::string& templ, int64_t layer);

}  // namespace esm_onnx::spec
