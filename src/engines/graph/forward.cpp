#include "engines/graph/forward.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "esm_onnx/base/errors.h"

namespace esm_onnx::graph {

std::vector<std::pair<const GraphOutputSpec*, BuiltOutput>> build_forward(
    Ctx& ctx, const std::vector<int64_t>& repr_layers, const GraphOutputs& outputs, bool fused,
    const MessageFn& message) {
  auto& b = ctx.b;
  const int64_t n = ctx.cfg.num_layers;
  auto say_layer = [&](int64_t layer) {
    if (message) message({MessageKind::Progress, fmt::format("layer {}/{} written", layer, n)});
  };
  build_masks(ctx);
  std::vector<std::pair<const GraphOutputSpec*, std::unique_ptr<OutputHook>>> hooks;
  for (const auto& spec : graph_output_specs()) {
    if (outputs.has(spec.id)) hooks.emplace_back(&spec, make_output_hook(spec.id, ctx, repr_layers));
  }
  const bool need_probs = needs_attention_maps(outputs);
  ForwardTensors fwd;
  auto want = [&](int64_t l) { return std::find(repr_layers.begin(), repr_layers.end(), l) != repr_layers.end(); };
  std::string x = build_embeddings(ctx);
  if (want(0)) fwd.reps[0] = x;
  // fp16 models compute the embeddings in fp32 (position tables, token dropout) and the layers in fp16.
  if (ctx.act != onnx::TensorProto::FLOAT) x = b.cast(x, ctx.act, "/embeddings/to_fp16");
  if (fused) {
    fwd.x_final = build_fused_stack(ctx, x, [&](int64_t layer, const LayerOut& out) {
      if (want(layer)) fwd.reps[layer] = out.x;
      for (auto& [spec, hook] : hooks) {
        if (spec->needs_attention_maps) hook->on_layer(layer - 1, out);
      }
      say_layer(layer);
    });
  } else {
    for (int64_t i = 0; i < n; ++i) {
      auto out = build_layer(ctx, i, x, need_probs);
      x = out.x;
      if (want(i + 1)) fwd.reps[i + 1] = x;
      for (auto& [spec, hook] : hooks) {
        if (spec->needs_attention_maps) hook->on_layer(i, out);
      }
      say_layer(i + 1);
    }
    fwd.x_final = build_final_norm(ctx, x);
  }
  if (want(n)) fwd.reps[n] = fwd.x_final;  // fair-esm: the last layer is reported normed

  std::vector<std::pair<const GraphOutputSpec*, BuiltOutput>> built;
  for (auto& [spec, hook] : hooks) {
    auto tensor = hook->finish(fwd);
    if (tensor.empty()) throw UnsupportedError(fmt::format("the model has no {} output to build", spec->name));
    built.push_back({spec, {std::move(tensor), hook->dims()}});
  }
  return built;
}

}  // namespace esm_onnx::graph
