#include "formats/torch/zip_reader.h"

#include <fmt/format.h>
#include <zip.h>

#include <memory>

#include "esm_onnx/base/errors.h"
#include "formats/io/zip_entry.h"

namespace esm_onnx::torchfile {

ZipReader::ZipReader(const std::string& path) : path_(path) {
  int err = 0;
  archive_ = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (!archive_) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw FormatError(fmt::format("{}: corrupt or truncated zip archive ({})", path, msg));
  }
}

ZipReader::~ZipReader() {
  if (archive_) zip_discard(archive_);
}

std::vector<std::string> ZipReader::names() const {
  std::vector<std::string> out;
  const zip_int64_t n = zip_get_num_entries(archive_, 0);
  for (zip_int64_t k = 0; k < n; ++k) {
    const char* nm = zip_get_name(archive_, static_cast<zip_uint64_t>(k), 0);
    if (nm) out.emplace_back(nm);
  }
  return out;
}

int64_t ZipReader::index(const std::string& name) const { return zip_name_locate(archive_, name.c_str(), 0); }

bool ZipReader::has(const std::string& name) const { return index(name) >= 0; }

uint64_t ZipReader::size(const std::string& name) const {
  zip_stat_t st;
  if (zip_stat(archive_, name.c_str(), 0, &st) != 0) {
    throw FormatError(fmt::format("{}: the archive has no entry {}", path_, name));
  }
  return st.size;
}

// A whole entry, its CRC-32 checked (io::read_zip_entry): a changed byte of the same file size is a FormatError.
std::string ZipReader::read_all(const std::string& name) const {
  const uint64_t total = size(name);  // a missing entry named as this reader names it
  std::string why;
  auto bytes = io::read_zip_entry(archive_, name, total, why);
  if (!bytes) throw FormatError(fmt::format("{}: entry {} {}", path_, name, why));
  return std::move(*bytes);
}

void ZipReader::read(const std::string& name, uint64_t offset, uint64_t nbytes, void* out) const {
  const uint64_t total = size(name);
  if (offset > total || nbytes > total - offset) {
    throw FormatError(fmt::format("{}: entry {} holds {} bytes; {} bytes at offset {} lie outside it", path_, name,
                                  total, nbytes, offset));
  }
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen(archive_, name.c_str(), 0), zip_fclose);
  if (!f) throw FormatError(fmt::format("{}: cannot open entry {}: {}", path_, name, zip_strerror(archive_)));
  if (offset > 0 && zip_fseek(f.get(), static_cast<zip_int64_t>(offset), SEEK_SET) != 0) {
    // Compressed entries cannot seek: read through to the offset instead.
    std::vector<char> skip(1 << 20);
    uint64_t left = offset;
    while (left > 0) {
      const auto chunk = std::min<uint64_t>(left, skip.size());
      if (zip_fread(f.get(), skip.data(), chunk) != static_cast<zip_int64_t>(chunk)) {
        throw FormatError(fmt::format("{}: entry {} is truncated or corrupt", path_, name));
      }
      left -= chunk;
    }
  }
  auto* dst = static_cast<char*>(out);
  uint64_t done = 0;
  while (done < nbytes) {
    const zip_int64_t got = zip_fread(f.get(), dst + done, nbytes - done);
    if (got <= 0) {
      throw FormatError(fmt::format("{}: entry {} is truncated or corrupt (read {} of {} bytes): {}", path_, name,
                                    done, nbytes, zip_file_strerror(f.get())));
    }
    done += static_cast<uint64_t>(got);
  }
}

}  // namespace esm_onnx::torchfile
