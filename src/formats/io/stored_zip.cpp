#include "formats/io/stored_zip.h"

#include <fmt/format.h>
#include <zip.h>

#include "esm_onnx/base/errors.h"

namespace esm_onnx {

StoredZipWriter::StoredZipWriter(std::string path) : path_(std::move(path)) {
  int err = 0;
  archive_ = zip_open(path_.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!archive_) throw FileError(fmt::format("{}: cannot create the file", path_));
}

StoredZipWriter::~StoredZipWriter() {
  if (archive_) zip_discard(archive_);
}

void StoredZipWriter::add(const std::string& name, const void* data, std::size_t size) {
  zip_source_t* src = zip_source_buffer(archive_, data, size, 0);
  const zip_int64_t idx = src ? zip_file_add(archive_, name.c_str(), src, ZIP_FL_ENC_UTF_8) : -1;
  if (idx < 0) {
    if (src) zip_source_free(src);
    throw FileError(fmt::format("{}: cannot add {}: {}", path_, name, zip_strerror(archive_)));
  }
  zip_set_file_compression(archive_, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
}

void StoredZipWriter::close() {
  if (zip_close(archive_) != 0) {
    throw FileError(fmt::format("{}: writing failed: {}", path_, zip_strerror(archive_)));
  }
  archive_ = nullptr;
}

}  // namespace esm_onnx
