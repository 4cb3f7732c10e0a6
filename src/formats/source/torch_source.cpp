#include "formats/source/torch_source.h"

#include <fmt/format.h>

#include "esm_onnx/base/errors.h"

namespace esm_onnx::source {

TorchSource::TorchSource(std::shared_ptr<const torchfile::TorchFile> file, const pickle::Value& state)
    : file_(std::move(file)) {
  if (state.kind != pickle::Value::Kind::Dict) {
    throw FormatError(fmt::format("{}: holds a {} where a state dict of tensors was expected", file_->path(),
                                  state.describe()));
  }
  for (const auto& [k, v] : state.dict) {
    if (k->kind != pickle::Value::Kind::String || v->kind != pickle::Value::Kind::Tensor) continue;
    if (!refs_.emplace(k->s, v->tensor).second) continue;
    const auto dtype = v->tensor->storage->dtype;
    const bool floating = dtype == pickle::DType::Float32 || dtype == pickle::DType::Float16 ||
                          dtype == pickle::DType::BFloat16 || dtype == pickle::DType::Float64;
    infos_.push_back({k->s, pickle::dtype_name(dtype), v->tensor->shape, floating});
  }
}

const pickle::TensorRef& TorchSource::ref(const std::string& name) const {
  auto it = refs_.find(name);
  if (it == refs_.end()) throw FormatError(fmt::format("{}: no tensor {}", file_->path(), name));
  return *it->second;
}

std::vector<float> TorchSource::read_float(const std::string& name, int64_t row_begin, int64_t row_end) const {
  const auto& r = ref(name);
  std::vector<float> all = file_->read_float(r, name);
  if (row_begin == 0 && row_end < 0) return all;
  const int64_t rows = r.shape.empty() ? 1 : r.shape[0];
  if (row_begin < 0 || row_end > rows || row_begin > row_end) {
    throw FormatError(fmt::format("{}: rows {}..{} of tensor {} with {} rows", file_->path(), row_begin, row_end, name, rows));
  }
  const std::size_t row = rows == 0 ? 0 : all.size() / static_cast<std::size_t>(rows);
  return {all.begin() + static_cast<std::ptrdiff_t>(row * static_cast<std::size_t>(row_begin)),
          all.begin() + static_cast<std::ptrdiff_t>(row * static_cast<std::size_t>(row_end))};
}

std::string TorchSource::storage_id(const std::string& name) const {
  const auto& r = ref(name);
  return fmt::format("{}@{}", r.storage->key, r.offset);
}

}  // namespace esm_onnx::source
