// Built instead of openvino_engine.cpp when esm-onnx is configured with ESM_ONNX_OPENVINO=OFF.
#include "engines/runtime/engine.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::runtime {

std::unique_ptr<Backend> open_openvino(const std::string&, const RuntimeOptions&, Compute, EngineInfo&) {
  throw UsageError("--engine openvino: this esm-onnx was built without OpenVINO (ESM_ONNX_OPENVINO=OFF); rebuild it "
                   "with OpenVINO (scripts/bootstrap.sh fetches it), or use --engine ort");
}

}  // namespace esm_onnx::runtime
