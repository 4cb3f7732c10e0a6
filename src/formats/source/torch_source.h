#pragma once
// The tensors of a state dict inside a torch.save file (either serialization).
#include <map>
#include <memory>

#include "formats/pickle/value.h"
#include "formats/source/tensor_source.h"
#include "formats/torch/torch_file.h"

namespace esm_onnx::source {

class TorchSource final : public TensorSource {
 public:
  // `state`: a dict inside file's pickle whose tensor entries are the tensors (others are skipped).
  TorchSource(std::shared_ptr<const torchfile::TorchFile> file, const pickle::Value& state);

  const std::string& path() const override { return file_->path(); }
  std::string container() const override { return file_->serialization(); }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  std::vector<float> read_float(const std::string& name, int64_t row_begin, int64_t row_end) const override;
  std::string storage_id(const std::string& name) const override;

 private:
  const pickle::TensorRef& ref(const std::string& name) const;
  std::shared_ptr<const torchfile::TorchFile> file_;
  std::vector<TensorInfo> infos_;
  std::map<std::string, std::shared_ptr<pickle::TensorRef>> refs_;
};

}  // namespace esm_onnx::source
