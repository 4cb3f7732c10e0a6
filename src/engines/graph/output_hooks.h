#pragma once
// The graph hook of each graph output (outputs.h): what convert adds to the graph to compute it. convert
// builds the forward pass once and hands each hook the layers as they are built and the final state.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "engines/graph/esm_graph.h"
#include "esm_onnx/base/outputs.h"

namespace esm_onnx::graph {

using Dim = std::variant<int64_t, std::string>;

// The forward pass as the hooks see it once every layer is built.
struct ForwardTensors {
  std::map<int64_t, std::string> reps;  // exported layer -> [B, T, E] (the last layer normed, as fair-esm reports it)
  std::string x_final;                  // the last layer after the final norm, in the activation type
};

class OutputHook {
 public:
  virtual ~OutputHook() = default;
  // Called for each layer on the explicit path; `out.probs` is set when the spec needs attention maps.
  virtual void on_layer(int64_t /*layer*/, const LayerOut& /*out*/) {}
  // The tensor that becomes the output; empty when this model cannot have it (no head).
  virtual std::string finish(const ForwardTensors& f) = 0;
  // The output's declared shape.
  virtual std::vector<Dim> dims() const = 0;
};

std::unique_ptr<OutputHook> make_output_hook(GraphOutput output, Ctx& ctx, const std::vector<int64_t>& repr_layers);

}  // namespace esm_onnx::graph
