// Reading a converted model's metadata without loading it into an engine: the same bounded header scan
// the engines' sessions read it with, so that the graph (and any inline weights) is skipped, not parsed.
#include "engines/runtime/onnx_header.h"
#include "esm_onnx/base/fold_config.h"
#include "esm_onnx/base/model_info.h"
#include "esm_onnx/engines/model.h"

namespace esm_onnx {

ModelInfo read_model_info(const std::string& path) {
  return ModelInfo::from_metadata(runtime::read_onnx_header(path).metadata, path);
}

std::string read_source_sha256(const std::string& path) {
  const auto metadata = runtime::read_onnx_header(path).metadata;
  if (FoldModelInfo::is_fold(metadata)) return FoldModelInfo::from_metadata(metadata, path).source_sha256;
  return ModelInfo::from_metadata(metadata, path).source_sha256;
}

}  // namespace esm_onnx
