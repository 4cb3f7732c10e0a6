#include "engines/graph/model_writer.h"

#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "esm_onnx/base/errors.h"

namespace esm_onnx::graph {

void save_model(const onnx::ModelProto& model, const std::string& path) {
  const auto size = model.ByteSizeLong();
  if (size > (static_cast<std::size_t>(2) << 30) - 1) {
    throw UsageError(fmt::format("{}: the model would be {} bytes inline, over protobuf's 2 GB limit: "
                                 "use --external-data always", path, size));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw FileError(fmt::format("{}: cannot create the file: {}", path, std::strerror(errno)));
  errno = 0;
  const bool written = model.SerializeToOstream(&out);
  out.close();
  // The system's reason (a full disk, a file-size limit) is errno's of the failed write.
  if (!written || !out) {
    throw FileError(fmt::format("{}: writing the model failed: {}", path, errno ? std::strerror(errno) : "disk full?"));
  }
}

void check_model(onnx::ModelProto& model, const std::string& name, bool external_data) {
  try {
    if (!external_data) onnx::checker::check_model(model);
    onnx::ShapeInferenceOptions options(/*check_type=*/true, /*strict=*/1, /*data_prop=*/true);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    throw RuntimeFailure(fmt::format("{}: the model fails ONNX's checker or shape inference: {}", name, e.what()));
  }
}

void check_external_model_file(const std::string& path) {
  try {
    onnx::checker::check_model(path);  // the weights stay in the data file; only their presence is checked
  } catch (const std::exception& e) {
    throw RuntimeFailure(fmt::format("{}: the model fails ONNX's checker: {}", path, e.what()));
  }
}

}  // namespace esm_onnx::graph
