#include "engines/runtime/compiled_cache.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>

#include "esm_onnx/base/errors.h"
#include "formats/io/label_names.h"

namespace esm_onnx::runtime {

namespace fs = std::filesystem;

namespace {

std::string identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "-";
  return fmt::format("{}:{}.{}:{}:{}", st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino, st.st_dev);
}

}  // namespace

std::string compiled_cache_folder(const std::string& root, const std::string& model_path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(model_path, ec);
  const std::string file = (ec ? fs::path(model_path) : abs).lexically_normal().string();
  const fs::path per_file = fs::path(root) / fmt::format("{:016x}", label_hash(file));
  const std::string version = fmt::format("{:016x}", label_hash(identity(file) + "|" + identity(file + ".data")));
  const fs::path folder = per_file / version;
  fs::create_directories(folder, ec);
  if (ec) {
    throw FileError(fmt::format("OpenVINO model cache {}: cannot create {} ({}); choose another folder with --cache-dir "
                                "(or ESM_ONNX_CACHE), or turn the cache off with --no-cache",
                                root, folder.string(), ec.message()));
  }
  // Compiled forms of earlier versions of this file can never be used again.
  for (const auto& entry : fs::directory_iterator(per_file, ec)) {
    if (entry.path().filename() != version) fs::remove_all(entry.path(), ec);
  }
  return folder.string();
}

}  // namespace esm_onnx::runtime
