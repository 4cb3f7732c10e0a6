#include "base/util/cache_root.h"

#include <cstdlib>

namespace esm_onnx {
namespace {

const char* set(const char* name) {
  const char* d = std::getenv(name);
  return d && *d ? d : nullptr;
}

}  // namespace

std::string user_cache_home() {
  if (const char* d = set("XDG_CACHE_HOME")) return d;
  if (const char* d = set("HOME")) return std::string(d) + "/.cache";
  return {};
}

std::string cache_root() {
  if (const char* d = set("ESM_ONNX_CACHE")) return d;
  const std::string home = user_cache_home();
  return home.empty() ? std::string() : home + "/esm-onnx";
}

std::string cache_root_origin() {
  if (set("ESM_ONNX_CACHE")) return "$ESM_ONNX_CACHE";
  if (set("XDG_CACHE_HOME")) return "$XDG_CACHE_HOME/esm-onnx";
  return "~/.cache/esm-onnx";
}

}  // namespace esm_onnx
