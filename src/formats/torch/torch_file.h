#pragma once
// A torch.save file, either serialization: the zip archive (torch >= 1.6) or the legacy stream.
// The pickled object is interpreted at open; tensor bytes are read only when asked for, so optimizer
// state and unused tensors never reach memory.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/pickle/value.h"

namespace esm_onnx::torchfile {

class TorchFile {
 public:
  virtual ~TorchFile() = default;
  static std::unique_ptr<TorchFile> open(const std::string& path);

  const pickle::ValuePtr& root() const { return root_; }
  const std::string& path() const { return path_; }
  virtual std::string serialization() const = 0;  // "zip" or "legacy"

  // Reads `nbytes` bytes at `byte_offset` of a storage; throws FormatError past its end.
  // Bytes the file holds for a storage; FormatError when it holds none.
  virtual uint64_t storage_bytes(const pickle::StorageRef& storage) const = 0;
  virtual void read_storage(const pickle::StorageRef& storage, uint64_t byte_offset, uint64_t nbytes,
                            void* out) const = 0;

  // A tensor's elements, in row-major order, converted to float32 (fp16 and bf16 widened exactly).
  std::vector<float> read_float(const pickle::TensorRef& tensor, const std::string& name) const;

 protected:
  std::string path_;
  pickle::ValuePtr root_;
};

// IEEE half and bfloat16 to float.
float half_to_float(uint16_t h);
float bfloat16_to_float(uint16_t b);

}  // namespace esm_onnx::torchfile
