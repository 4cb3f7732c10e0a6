#pragma once
// The forward pass as convert builds it: embeddings, the layers (explicit or fused), the final norm, and each
// planned output through its hook (graph/output_hooks.h), which sees every layer as it is built.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engines/graph/output_hooks.h"
#include "esm_onnx/base/message.h"
#include "esm_onnx/base/outputs.h"

namespace esm_onnx::graph {

struct BuiltOutput {
  std::string tensor;     // the graph tensor that becomes the output
  std::vector<Dim> dims;  // its declared shape
};

// `outputs` in the registry's order; `message` hears "layer i/N written" (Progress).
std::vector<std::pair<const GraphOutputSpec*, BuiltOutput>> build_forward(
    Ctx& ctx, const std::vector<int64_t>& repr_layers, const GraphOutputs& outputs, bool fused,
    const MessageFn& message);

}  // namespace esm_onnx::graph
