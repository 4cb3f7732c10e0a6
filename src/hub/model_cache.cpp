#include "esm_onnx/model_cache.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "esm_onnx/download.h"
#include "esm_onnx/errors.h"
#include "util/cache_root.h"
#include "util/sha256.h"
#include "util/untrusted_file.h"

namespace esm_onnx {
namespace {

namespace fs = std::filesystem;

// The cache key; for a single file the Python drop-in's (esm_onnx.compat.pretrained.converted_model).
std::string cache_key(const fs::path& checkpoint) {
  if (files::path_kind(checkpoint.string()) == files::PathKind::Folder) {
    std::vector<std::string> members;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(checkpoint, ec)) {
      if (e.is_regular_file(ec)) members.push_back(e.path().string());
    }
    std::sort(members.begin(), members.end());
    return sha256_files(members);
  }
  std::string key = sha256_file(checkpoint.string());
  const fs::path regression = checkpoint.parent_path() / (checkpoint.stem().string() + "-contact-regression.pt");
  if (files::path_kind(regression.string()) == files::PathKind::Regular) key += "-" + sha256_file(regression.string()).substr(0, 16);
  return key;
}

}  // namespace

std::string cached_model(const std::string& location, bool progress, const LogFn& log, CachedGraph graph) {
  if (fs::path(location).extension() == ".onnx") return location;
  const fs::path checkpoint = resolve_checkpoint(location, progress, log);
  const std::string root = cache_root();
  if (root.empty()) {
    throw FileError(fmt::format("{}: no cache folder to convert it into: set ESM_ONNX_CACHE (or HOME), or convert it "
                                "with `esm-onnx convert` and give the .onnx", location));
  }
  const fs::path final_dir = fs::path(root) / (cache_key(checkpoint) + (graph == CachedGraph::Logits ? "-logits" : ""));
  const fs::path model = final_dir / "model.onnx";
  if (files::path_kind(model.string()) == files::PathKind::Regular) return model.string();
  std::error_code ec;
  fs::create_directories(final_dir.parent_path(), ec);
  if (ec) throw FileError(fmt::format("{}: cannot create the cache folder: {}", final_dir.parent_path().string(), ec.message()));
  // Converted in a folder of this process and renamed into place: a concurrent or interrupted conversion never
  // leaves a half-written model under the final name.
  const fs::path work = final_dir.parent_path() / fmt::format(".{}.{}.tmp", final_dir.filename().string(), getpid());
  fs::remove_all(work, ec);
  try {
    ConvertOptions opt;
    opt.checkpoint = checkpoint.string();
    opt.output = (work / "model.onnx").string();
    opt.repr_layers = {graph == CachedGraph::Logits ? "-1" : "all"};
    opt.contacts = graph == CachedGraph::Everything;
    if (log) log(fmt::format("{}: converting it once into {}", checkpoint.string(), final_dir.string()));
    convert(opt, [&](const std::string& m) {
      if (log && m.rfind("layer ", 0) != 0) log(m);
    });
    fs::rename(work, final_dir, ec);
    if (ec && files::path_kind(model.string()) != files::PathKind::Regular) {
      throw FileError(fmt::format("{}: cannot move the converted model into the cache: {}", final_dir.string(), ec.message()));
    }
  } catch (...) {
    fs::remove_all(work, ec);
    throw;
  }
  fs::remove_all(work, ec);
  return model.string();
}

}  // namespace esm_onnx
