#pragma once
// An ONNX Runtime session with esm-onnx's options (threads, the CUDA provider), for graphs that are not an
// embedding model's (the folding cycle); Ort::Exception escapes for the caller to name the model.
#include <onnxruntime_cxx_api.h>

#include <memory>
#include <string>

#include "esm_onnx/base/runtime_options.h"

namespace esm_onnx::runtime {

std::unique_ptr<Ort::Session> open_ort_session(const std::string& path, const RuntimeOptions& options);

}  // namespace esm_onnx::runtime
