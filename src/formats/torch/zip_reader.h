#pragma once
// Thin RAII wrapper over libzip for reading entries, or parts of stored entries.
#include <cstdint>
#include <string>
#include <vector>

struct zip;

namespace esm_onnx::torchfile {

class ZipReader {
 public:
  explicit ZipReader(const std::string& path);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  std::vector<std::string> names() const;
  bool has(const std::string& name) const;
  uint64_t size(const std::string& name) const;
  std::string read_all(const std::string& name) const;
  void read(const std::string& name, uint64_t offset, uint64_t nbytes, void* out) const;

 private:
  int64_t index(const std::string& name) const;
  std::string path_;
  zip* archive_{nullptr};
};

}  // namespace esm_onnx::torchfile
