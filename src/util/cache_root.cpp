#include "util/cache_root.h"

#include <cstdlib>

namespace esm_onnx {

std::string cache_root() {
  if (const char* d = std::getenv("ESM_ONNX_CACHE"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/esm-onnx";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/esm-onnx";
  return {};
}

}  // namespace esm_onnx
