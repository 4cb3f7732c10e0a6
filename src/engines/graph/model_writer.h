#pragma once
#include <onnx/onnx_pb.h>

#include <string>

namespace esm_onnx::graph {

// Serializes `model` to `path` (protobuf's 2 GB limit applies to what is inline).
void save_model(const onnx::ModelProto& model, const std::string& path);

// onnx::checker and strict shape inference with type checks, on the model in memory: checking the file
// instead would read every inline weight back while they are still held (three copies at the peak).
// Shape inference adds the inferred value_info to the graph. `name` is for messages. With external data
// the checker needs the file's folder to find the data: call check_external_model_file after saving.
void check_model(onnx::ModelProto& model, const std::string& name, bool external_data);
void check_external_model_file(const std::string& path);

}  // namespace esm_onnx::graph
