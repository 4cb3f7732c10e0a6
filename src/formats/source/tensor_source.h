#pragma once
// A file of named tensors, whatever its container: torch zip, torch legacy or safetensors. Listing is
// cheap; bytes are read one tensor at a time, when asked for.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace esm_onnx::source {

struct TensorInfo {
  std::string name;
  std::string dtype;  // "float32", "float16", "bfloat16", ...
  std::vector<int64_t> shape;
  bool floating{true};  // the values can be read as floats
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual const std::string& path() const = 0;
  virtual std::string container() const = 0;  // "zip", "legacy", "safetensors"
  // Every tensor of the file, in the file's order.
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  const TensorInfo* find(const std::string& name) const;
  // Rows [row_begin, row_end) of the tensor along its first dimension (all when row_end < 0), in
  // row-major order, widened to float32 exactly.
  virtual std::vector<float> read_float(const std::string& name, int64_t row_begin = 0, int64_t row_end = -1) const = 0;
  // Tensors that share storage at the same place (tied weights) have the same id.
  virtual std::string storage_id(const std::string& name) const = 0;
};

// Throws FormatError naming the file when `name` is not in `source`.
const TensorInfo& require(const TensorSource& source, const std::string& name);

}  // namespace esm_onnx::source
