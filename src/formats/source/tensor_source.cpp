#include "formats/source/tensor_source.h"

#include <fmt/format.h>

#include "esm_onnx/base/errors.h"

namespace esm_onnx::source {

const TensorInfo* TensorSource::find(const std::string& name) const {
  for (const auto& t : tensors()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const TensorInfo& require(const TensorSource& source, const std::string& name) {
  if (const auto* t = source.find(name)) return *t;
  throw FormatError(fmt::format("{}: no tensor {}", source.path(), name));
}

}  // namespace esm_onnx::source
