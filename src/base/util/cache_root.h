#pragma once
// The one folder esm-onnx caches into (converted checkpoints, OpenVINO's compiled models), shared by the CLI,
// the library and the Python drop-in: $ESM_ONNX_CACHE, else $XDG_CACHE_HOME/esm-onnx, else ~/.cache/esm-onnx.
// The rule lives here alone; Python reads it through the binding (esm_onnx.model_cache_root).
#include <string>

namespace esm_onnx {

// The user's cache folder: $XDG_CACHE_HOME, else ~/.cache; empty when neither variable is set. The rule every
// cache folder starts from (ours, and torch hub's and the hub's that `download` fills).
std::string user_cache_home();
// Empty when none of those variables is set.
std::string cache_root();
// How the root was chosen, for messages: "$ESM_ONNX_CACHE", "$XDG_CACHE_HOME/esm-onnx" or "~/.cache/esm-onnx".
std::string cache_root_origin();

}  // namespace esm_onnx
