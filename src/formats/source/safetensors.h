#pragma once
// A safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the raw bytes. The file is mapped; every range is checked against it at
// open, so reading a tensor later cannot fail or reach outside the file.
#include <map>
#include <memory>

#include "formats/source/tensor_source.h"

namespace esm_onnx::source {

class SafetensorsSource final : public TensorSource {
 public:
  static std::unique_ptr<SafetensorsSource> open(const std::string& path);
  ~SafetensorsSource() override;
  SafetensorsSource(const SafetensorsSource&) = delete;
  SafetensorsSource& operator=(const SafetensorsSource&) = delete;

  const std::string& path() const override { return path_; }
  std::string container() const override { return "safetensors"; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  std::vector<float> read_float(const std::string& name, int64_t row_begin, int64_t row_end) const override;
  std::string storage_id(const std::string& name) const override;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The largest header accepted (the format's own reader stops at 100 MB).
  static constexpr uint64_t kMaxHeader = uint64_t{100} << 20;

 private:
  struct Range {
    std::string dtype;
    uint64_t begin{0}, end{0};  // in the data section
    std::size_t elem{0};
  };
  SafetensorsSource(std::string path, const char* base, std::size_t size);
  std::string path_;
  const char* base_{nullptr};
  std::size_t size_{0};
  uint64_t data_start_{0};
  std::vector<TensorInfo> infos_;
  std::map<std::string, Range> ranges_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace esm_onnx::source
