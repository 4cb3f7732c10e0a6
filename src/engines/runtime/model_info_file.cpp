// Reading a converted model's metadata without loading it into an engine: the same bounded header scan
// the engines' sessions read it with, so that the graph (and any inline weights) is skipped, not parsed.
#include "engines/runtime/onnx_header.h"
#include "esm_onnx/base/model_info.h"
#include "esm_onnx/engines/model.h"

namespace esm_onnx {

ModelInfo read_model_info(const std::string& path) {
  return ModelInfo::from_metadata(runtime::read_onnx_header(path).metadata, path);
}

}  // namespace esm_onnx
