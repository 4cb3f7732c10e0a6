#pragma once
// An ESMFold checkpoint: the ESM-2 stem (a Checkpoint like any other) and the folding head's tensors by
// their names, which transformers' folder and fair-esm's esmfold_3B_v1.pt share.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "esm_onnx/base/fold_config.h"
#include "esm_onnx/checkpoint/checkpoint.h"

namespace esm_onnx {

class FoldCheckpoint {
 public:
  // Whether `path` is an ESMFold checkpoint (reads its configuration only).
  static bool recognises(const std::string& path);
  static FoldCheckpoint load(const std::string& path);

  FoldCheckpoint(FoldCheckpoint&&) noexcept;
  FoldCheckpoint& operator=(FoldCheckpoint&&) noexcept;
  ~FoldCheckpoint();

  const std::string& path() const;
  const FoldConfig& config() const;
  const Checkpoint& stem() const;
  std::vector<std::string> files() const;

  bool has(const std::string& name) const;
  uint64_t head_weight_count() const;  // elements of every folding-head tensor
  // A folding-head tensor as float32; FormatError naming it when it is missing or its shape is not `shape`.
  Tensor read(const std::string& name, const std::vector<int64_t>& shape) const;

  struct Impl;

 private:
  explicit FoldCheckpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace esm_onnx
