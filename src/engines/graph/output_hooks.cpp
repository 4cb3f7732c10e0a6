// The graph hooks of the outputs in outputs.h.
#include "engines/graph/output_hooks.h"

#include <fmt/format.h>

#include <optional>

#include "esm_onnx/base/errors.h"

namespace esm_onnx::graph {
namespace {

// The exported layers stacked: [layers, B, T, E] in fp32.
class RepresentationsHook final : public OutputHook {
 public:
  RepresentationsHook(Ctx& ctx, const std::vector<int64_t>& layers) : ctx_(ctx), layers_(layers) {}
  std::string finish(const ForwardTensors& f) override {
    auto& b = ctx_.b;
    Builder::Scope s(b, "outputs");
    std::vector<std::string> stacked;
    for (auto l : layers_) {
      const auto r = l == 0 ? f.reps.at(l) : to_f32(ctx_, f.reps.at(l));  // representation 0 is computed in fp32
      stacked.push_back(b.unsqueeze(r, {0}, fmt::format("layer_{}", l)));
    }
    return stacked.size() == 1 ? stacked[0] : b.concat(stacked, 0, "stack_layers");
  }
  std::vector<Dim> dims() const override {
    return {static_cast<int64_t>(layers_.size()), std::string("batch"), std::string("sequence"), ctx_.cfg.embed_dim};
  }

 private:
  Ctx& ctx_;
  std::vector<int64_t> layers_;
};

class LogitsHook final : public OutputHook {
 public:
  explicit LogitsHook(Ctx& ctx) : ctx_(ctx) {}
  std::string finish(const ForwardTensors& f) override { return build_logits(ctx_, f.x_final); }
  std::vector<Dim> dims() const override {
    const auto labels = static_cast<int64_t>(ctx_.cfg.labels.size());
    switch (ctx_.cfg.head) {
      case OutputHead::SequenceClassification: return {std::string("batch"), labels};
      case OutputHead::TokenClassification: return {std::string("batch"), std::string("sequence"), labels};
      default: return {std::string("batch"), std::string("sequence"), ctx_.cfg.vocab_size};
    }
  }

 private:
  Ctx& ctx_;
};

class ContactsHook final : public OutputHook {
 public:
  explicit ContactsHook(Ctx& ctx) : head_(ctx) {}
  void on_layer(int64_t layer, const LayerOut& out) override {
    if (out.probs.empty()) head_.add_fused_layer(layer, out.q, out.k);
    else head_.add_layer(layer, out.probs);
  }
  std::string finish(const ForwardTensors&) override { return head_.finish(); }
  std::vector<Dim> dims() const override {
    return {std::string("batch"), std::string("contact_length"), std::string("contact_length")};
  }

 private:
  ContactHead head_;
};

// fair-esm's need_head_weights output: each layer's attention probabilities [B, H, T, T] (ESM-1's extra
// bias_k column already dropped by the layer), padding rows and columns zeroed, stacked on axis 1.
class AttentionsHook final : public OutputHook {
 public:
  explicit AttentionsHook(Ctx& ctx) : ctx_(ctx) {
    auto& b = ctx.b;
    Builder::Scope s(b, "attentions");
    const auto pair = b.mul(b.unsqueeze(ctx.nonpad, {2}, "rows"), b.unsqueeze(ctx.nonpad, {1}, "cols"), "pair_mask");
    pair_mask_ = b.unsqueeze(pair, {1}, "pair_mask_heads");  // [B, 1, T, T]
  }
  void on_layer(int64_t layer, const LayerOut& out) override {
    auto& b = ctx_.b;
    Builder::Scope s(b, fmt::format("attentions/layers.{}", layer));
    const auto masked = b.mul(to_f32(ctx_, out.probs), pair_mask_, "mask_padding");
    layers_.push_back(b.unsqueeze(masked, {1}, "add_layer_axis"));
  }
  std::string finish(const ForwardTensors&) override {
    Builder::Scope s(ctx_.b, "attentions");
    return layers_.size() == 1 ? layers_[0] : ctx_.b.concat(layers_, 1, "stack_layers");
  }
  std::vector<Dim> dims() const override {
    return {std::string("batch"), ctx_.cfg.num_layers, ctx_.cfg.attention_heads, std::string("sequence"), std::string("sequence")};
  }

 private:
  Ctx& ctx_;
  std::string pair_mask_;
  std::vector<std::string> layers_;
};

}  // namespace

std::unique_ptr<OutputHook> make_output_hook(GraphOutput output, Ctx& ctx, const std::vector<int64_t>& repr_layers) {
  switch (output) {
    case GraphOutput::Representations: return std::make_unique<RepresentationsHook>(ctx, repr_layers);
    case GraphOutput::Logits: return std::make_unique<LogitsHook>(ctx);
    case GraphOutput::Contacts: return std::make_unique<ContactsHook>(ctx);
    case GraphOutput::Attentions: return std::make_unique<AttentionsHook>(ctx);
  }
  throw UnsupportedError(fmt::format("no graph hook for output {}", graph_output_spec(output).name));
}

}  // namespace esm_onnx::graph
