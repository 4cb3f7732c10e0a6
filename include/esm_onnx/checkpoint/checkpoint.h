#pragma once
// A checkpoint of any supported source, read without PyTorch: its architecture (detected from the
// content, not the file name), hyper-parameters, and lazy access to its weights by role.
//
// Sources: fair-esm `.pt` files (both torch serializations) and Hugging Face transformers model
// folders (config.json with model.safetensors, sharded safetensors or pytorch_model.bin).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "esm_onnx/base/model_config.h"
#include "esm_onnx/base/tensor_role.h"

namespace esm_onnx {
namespace layouts {
struct Loaded;  // src/layouts/layouts.h
}  // namespace layouts

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// One tensor as the file stores it.
struct StoredTensor {
  std::string name;  // as written in the file
  std::string file;
  std::string dtype;
  std::vector<int64_t> shape;
};

class Checkpoint {
 public:
  // `path`: a fair-esm .pt file (with `<stem>-contact-regression.pt` beside it merged when present) or a
  // transformers model folder. Throws FileError when it cannot be read, FormatError for corrupt or
  // inconsistent files, UnsupportedError for architectures esm-onnx does not handle (named in the message).
  static Checkpoint load(const std::string& path);
  // The ESM-2 stem of an ESMFold checkpoint (fold_checkpoint.h), bound like any ESM-2 without a head.
  static Checkpoint load_fold_stem(const std::string& path);

  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  ~Checkpoint();

  const ModelConfig& config() const;
  const std::string& path() const;
  const std::string& source() const;             // "fair-esm", "transformers"
  const std::string& serialization() const;      // "zip", "legacy", "safetensors"
  const std::vector<std::string>& files() const;  // every file read, the main one first
  const std::string& contact_file() const;       // fair-esm: the merged contact-regression file, else empty
  const std::vector<std::string>& notices() const;  // things the user should know, not errors

  bool has(const TensorKey& key) const;
  std::vector<int64_t> shape(const TensorKey& key) const;
  // The weight as the reference model holds it after loading (loader quirks applied), as float32.
  Tensor read(const TensorKey& key) const;
  // Every tensor the files hold, used or not.
  std::vector<StoredTensor> stored() const;

  struct Impl;

 private:
  explicit Checkpoint(std::unique_ptr<Impl> impl);
  static Checkpoint from_loaded(const std::string& path, layouts::Loaded&& loaded);
  std::unique_ptr<Impl> impl_;
};

}  // namespace esm_onnx
