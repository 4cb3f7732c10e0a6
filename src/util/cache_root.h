#pragma once
// The one folder esm-onnx caches into (converted checkpoints, OpenVINO's compiled models), shared by the CLI,
// the library and the Python drop-in: $ESM_ONNX_CACHE, else $XDG_CACHE_HOME/esm-onnx, else ~/.cache/esm-onnx.
#include <string>

namespace esm_onnx {

// Empty when none of those variables is set.
std::string cache_root();

}  // namespace esm_onnx
