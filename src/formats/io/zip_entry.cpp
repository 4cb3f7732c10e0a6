#include "formats/io/zip_entry.h"

#include <fmt/format.h>

#include <memory>

namespace esm_onnx::io {

std::optional<std::string> read_zip_entry(zip_t* archive, const std::string& name, uint64_t limit, std::string& why) {
  zip_stat_t st;
  if (zip_stat(archive, name.c_str(), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
    why = "is missing";
    return std::nullopt;
  }
  if (st.size > limit) {
    why = fmt::format("holds {} bytes, more than the {} expected", st.size, limit);
    return std::nullopt;
  }
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen(archive, name.c_str(), 0), zip_fclose);
  if (!f) {
    why = fmt::format("cannot be opened: {}", zip_strerror(archive));
    return std::nullopt;
  }
  std::string out(st.size, '\0');
  uint64_t done = 0;
  for (;;) {
    char extra = 0;
    const bool past = done >= out.size();
    const zip_int64_t got = zip_fread(f.get(), past ? &extra : out.data() + done, past ? 1 : out.size() - done);
    if (got < 0) {
      why = fmt::format("is corrupt (read {} of {} bytes): {}", done, out.size(), zip_file_strerror(f.get()));
      return std::nullopt;
    }
    if (got == 0) break;
    if (past) {
      why = fmt::format("holds more than its {} bytes", out.size());
      return std::nullopt;
    }
    done += static_cast<uint64_t>(got);
  }
  if (done != out.size()) {
    why = fmt::format("is truncated (read {} of {} bytes)", done, out.size());
    return std::nullopt;
  }
  return out;
}

}  // namespace esm_onnx::io
