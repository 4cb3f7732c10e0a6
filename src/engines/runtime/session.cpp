#include "engines/runtime/session.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engines/runtime/cpu_features.h"
#include "engines/runtime/onnx_header.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/traits.h"

namespace esm_onnx::runtime {

void RunResult::add(std::string name, std::vector<int64_t> shape, const float* data) {
  outputs_.push_back({std::move(name), std::move(shape), data});
}

const float* RunResult::data(const std::string& name, std::vector<int64_t>* shape) const {
  for (const auto& o : outputs_) {
    if (o.name != name) continue;
    if (shape) *shape = o.shape;
    return o.data;
  }
  return nullptr;
}

Session::Session(const std::string& path, const RuntimeOptions& options) {
  const OnnxHeader header = read_onnx_header(path);
  info_ = ModelInfo::from_metadata(header.metadata, path);
  const auto& traits = engine_traits(options.engine);
  if (options.device == Device::Cuda && !traits.cuda) {
    throw UsageError(fmt::format("--engine {} runs on the CPU here; use --engine ort for --device {}",
                                 engine_name(options.engine), device_name(options.device)));
  }
  if (!traits.microsoft_ops) {
    // OpenVINO reads ONNX Runtime's com.microsoft ops, but its numbers on them differ from ONNX Runtime's
    // (max abs difference 0.5 measured on fused and int8 graphs), so such graphs are refused outright.
    for (const auto& d : header.domains) {
      if (!d.empty()) {
        throw UsageError(fmt::format("{}: this graph uses ONNX Runtime's {} operators ({} {}), which OpenVINO does not "
                                     "compute the same way; convert the checkpoint with --engine openvino for "
                                     "OpenVINO, or run this graph with --engine ort",
                                     path, d, precision_name(info_.precision),
                                     info_.attention == Attention::Fused ? "fused" : "quantized"));
      }
    }
  }
  const Compute compute = resolve_compute(options.engine, options.compute, CpuFeatures::detect());
  engine_ = options.engine == Engine::OpenVino ? open_openvino(path, options, compute, engine_info_)
                                               : open_onnxruntime(path, options, engine_info_);
  check_against_graph(path);
}

// The metadata says what the outputs hold; the graph must agree, or outputs would be written under the
// wrong layer numbers (or not at all) with exit 0.
void Session::check_against_graph(const std::string& path) const {
  auto bad = [&](const std::string& why) {
    return FormatError(fmt::format("{}: the metadata disagrees with the graph: {}; convert the checkpoint again", path, why));
  };
  const auto& layers = info_.repr_layers;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    if (layers[k] < 0 || layers[k] > info_.num_layers) {
      throw bad(fmt::format("esm_onnx.repr_layers names layer {}, outside 0..{}", layers[k], info_.num_layers));
    }
    if (k > 0 && layers[k] <= layers[k - 1]) throw bad("esm_onnx.repr_layers is not in increasing order");
  }
  for (const auto& g : graph_output_specs()) {
    bool in_graph = false;
    for (const auto& out : engine_->outputs()) in_graph = in_graph || out.name == g.name;
    if (in_graph != info_.has(g.id)) {
      throw bad(fmt::format("the graph {} '{}' but esm_onnx.{} says {}", in_graph ? "has" : "lacks", g.name,
                            g.metadata_key.empty() ? "outputs" : g.metadata_key, in_graph ? "no" : "yes"));
    }
  }
  for (const auto& out : engine_->outputs()) {
    const auto& shape = out.shape;
    if (out.name == graph_output_spec(GraphOutput::Logits).name) {
      const bool per_token = info_.head != OutputHead::SequenceClassification;
      const int64_t width = info_.head == OutputHead::LanguageModel ? info_.vocab_size : static_cast<int64_t>(info_.labels.size());
      if (shape.size() != (per_token ? 3u : 2u)) {
        throw bad(fmt::format("'logits' has {} dimensions; a {} head has {}", shape.size(), output_head_name(info_.head),
                              per_token ? 3 : 2));
      }
      if (shape.back() >= 0 && shape.back() != width) {
        throw bad(fmt::format("'logits' is {} wide; the {} head's metadata says {}", shape.back(), output_head_name(info_.head), width));
      }
    }
    if (out.name != graph_output_spec(GraphOutput::Representations).name) continue;
    if (shape.size() != 4) throw bad(fmt::format("'representations' has {} dimensions, not 4", shape.size()));
    if (shape[0] != static_cast<int64_t>(layers.size())) {
      throw bad(fmt::format("'representations' holds {} layers, esm_onnx.repr_layers lists {}", shape[0], layers.size()));
    }
    if (shape[3] >= 0 && shape[3] != info_.embed_dim) {
      throw bad(fmt::format("'representations' is {} wide, esm_onnx.embed_dim says {}", shape[3], info_.embed_dim));
    }
  }
}

}  // namespace esm_onnx::runtime
