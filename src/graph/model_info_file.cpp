// Reading a converted model's metadata without loading it into ONNX Runtime (the converter's side:
// it needs the ONNX protobuf classes).
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <fstream>

#include "esm_onnx/errors.h"
#include "esm_onnx/inspect.h"

namespace esm_onnx {

ModelInfo read_model_info(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(fmt::format("{}: cannot open: check that the file exists and is readable", path));
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) throw FormatError(fmt::format("{}: not an ONNX model (protobuf parse failed)", path));
  std::map<std::string, std::string> props;
  for (const auto& p : model.metadata_props()) props[p.key()] = p.value();
  return ModelInfo::from_metadata(props, path);
}

}  // namespace esm_onnx
