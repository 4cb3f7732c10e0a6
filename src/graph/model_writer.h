#pragma once
#include <onnx/onnx_pb.h>

#include <string>

namespace esm_onnx::graph {

// Serializes `model` to `path` (protobuf's 2 GB limit applies to what is inline).
void save_model(const onnx::ModelProto& model, const std::string& path);

// onnx::checker on the file (external data included) and strict shape inference with type checks.
void check_model_file(const std::string& path);

}  // namespace esm_onnx::graph
