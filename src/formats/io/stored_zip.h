#pragma once
// An uncompressed zip being written (npz and torch .pt files are both stored zips). Entry bytes are
// read at close(), so they must stay alive until then.
#include <cstddef>
#include <string>

struct zip;

namespace esm_onnx {

class StoredZipWriter {
 public:
  explicit StoredZipWriter(std::string path);
  ~StoredZipWriter();
  StoredZipWriter(const StoredZipWriter&) = delete;
  StoredZipWriter& operator=(const StoredZipWriter&) = delete;

  void add(const std::string& name, const void* data, std::size_t size);
  void close();

 private:
  std::string path_;
  zip* archive_{nullptr};
};

}  // namespace esm_onnx
