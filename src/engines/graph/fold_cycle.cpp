// The folding graph: inputs (fold_io), the trunk, the structure module, and the heads behind an If on
// want_heads, so that the cycles before the last do not compute or copy the [L, L, 64] logits.
#include <fmt/format.h>

#include "engines/graph/fold_graph.h"

namespace esm_onnx::graph {

using onnx::TensorProto;

namespace {

void set_dims(onnx::TypeProto_Tensor* t, const std::vector<std::string>& dims) {
  auto* shape = t->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0]))) dim->set_dim_value(std::stoll(d));
    else dim->set_dim_param(d);
  }
}

void add_input(onnx::GraphProto& g, const std::string& name, int elem, const std::vector<std::string>& dims) {
  auto* v = g.add_input();
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem);
  set_dims(t, dims);
}

void add_output(Builder& b, const std::string& tensor, const std::string& name, const std::vector<std::string>& dims) {
  auto& g = b.graph();
  b.node("Identity", {tensor}, {}, name);
  g.mutable_node(g.node_size() - 1)->set_output(0, name);
  auto* v = g.add_output();
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(TensorProto::FLOAT);
  set_dims(t, dims);
}

}  // namespace

void build_fold_cycle(FoldCtx& c) {
  Builder& b = c.b;
  auto& g = b.graph();
  const auto& cfg = c.cfg;
  const std::string NL = std::to_string(cfg.esm_layers + 1), E = std::to_string(cfg.esm_dim),
                    S = std::to_string(cfg.sequence_state_dim), Z = std::to_string(cfg.pairwise_state_dim);
  add_input(g, fold_io::kEsmHidden, TensorProto::FLOAT, {NL, "batch", "tokens", E});
  add_input(g, fold_io::kAatype, TensorProto::INT64, {"batch", "length"});
  add_input(g, fold_io::kMask, TensorProto::FLOAT, {"batch", "length"});
  add_input(g, fold_io::kResidueIndex, TensorProto::INT64, {"batch", "length"});
  add_input(g, fold_io::kRecycleS, TensorProto::FLOAT, {"batch", "length", S});
  add_input(g, fold_io::kRecycleZ, TensorProto::FLOAT, {"batch", "length", "length", Z});
  add_input(g, fold_io::kRecycleBins, TensorProto::INT64, {"batch", "length", "length"});
  add_input(g, fold_io::kChunkSize, TensorProto::INT64, {});
  add_input(g, fold_io::kWantHeads, TensorProto::BOOL, {});

  const std::string mask = fold_io::kMask;
  const TrunkOut trunk = build_trunk(c, mask);
  const StructureOut sm = build_structure_module(c, trunk, mask);

  // Heads: weights made here, outside the branches, so that both may name them.
  const int64_t Sd = cfg.sequence_state_dim, Zd = cfg.pairwise_state_dim, SM = cfg.structure.sequence_dim,
                Hd = cfg.lddt_head_hid_dim, bins = FoldConfig::kDistogramBins, lbins = FoldConfig::kLddtBins;
  c.linear_weights("distogram_head", Zd, bins, true);
  c.linear_weights("ptm_head", Zd, bins, true);
  c.linear_weights("lm_head", Sd, FoldConfig::kAaTokens, true);
  c.weight("lddt_head.0.weight", {SM});
  c.weight("lddt_head.0.bias", {SM});
  c.linear_weights("lddt_head.1", SM, Hd, true);
  c.linear_weights("lddt_head.2", Hd, Hd, true);
  c.linear_weights("lddt_head.3", Hd, 37 * lbins, true);
  std::vector<float> centres(static_cast<std::size_t>(lbins));
  for (int64_t i = 0; i < lbins; ++i) {
    // linspace(0, 1, bins + 1) midpoints, as the reference computes them in float32.
    const float lo = static_cast<float>(i) / static_cast<float>(lbins), hi = static_cast<float>(i + 1) / static_cast<float>(lbins);
    centres[static_cast<std::size_t>(i)] = (lo + hi) / 2.0f;
  }
  const auto bin_centres = b.weight("heads.lddt_bin_centres", {lbins, 1}, centres);

  const auto heads = b.if_node(
      fold_io::kWantHeads,
      [&]() -> std::vector<std::string> {
        auto d = c.linear(trunk.z, "distogram_head", Zd, bins);
        d = b.div(b.add(d, b.transpose(d, {0, 2, 1, 3}), "symmetric"), c.f32(2.0f, "two"), "half");
        auto ptm = c.linear(trunk.z, "ptm_head", Zd, bins);
        auto lm = c.linear(trunk.s, "lm_head", Sd, FoldConfig::kAaTokens);
        auto l = c.layer_norm(sm.state, "lddt_head.0", SM);
        l = c.linear(l, "lddt_head.1", SM, Hd);
        l = c.linear(l, "lddt_head.2", Hd, Hd);
        l = c.linear(l, "lddt_head.3", Hd, 37 * lbins);
        l = b.softmax(b.reshape(l, {0, 0, 37, lbins}), -1);
        auto plddt = b.mul(b.squeeze(b.matmul(l, bin_centres, "expected_bin"), {-1}), c.f32(100.0f, "hundred"), "plddt");
        return {plddt, d, ptm, lm};
      },
      [&]() -> std::vector<std::string> {
        std::vector<std::string> empty;
        for (const int rank : {3, 4, 4, 3}) {  // the heads' ranks, every dimension 0
          empty.push_back(b.node("ConstantOfShape", {b.const_i64(std::vector<int64_t>(static_cast<std::size_t>(rank), 0), "empty_shape")},
                                 {[] {
                                   onnx::AttributeProto a;
                                   a.set_name("value");
                                   a.set_type(onnx::AttributeProto::TENSOR);
                                   auto* t = a.mutable_t();
                                   t->set_data_type(TensorProto::FLOAT);
                                   t->add_dims(1);
                                   t->add_float_data(0.0f);
                                   return a;
                                 }()},
                                 "empty"));
        }
        return empty;
      },
      TensorProto::FLOAT, "heads");

  add_output(b, trunk.s, fold_io::kSequenceState, {"batch", "length", S});
  add_output(b, trunk.z, fold_io::kPairState, {"batch", "length", "length", Z});
  add_output(b, sm.rotations, fold_io::kRotations, {"batch", "length", "3", "3"});
  add_output(b, sm.translations, fold_io::kTranslations, {"batch", "length", "3"});
  add_output(b, sm.angles, fold_io::kAngles, {"batch", "length", std::to_string(cfg.structure.num_angles), "2"});
  // The heads are empty ([0]) on the cycles before the last: their shapes are left open.
  add_output(b, heads[0], fold_io::kPlddt, {"plddt_batch", "plddt_length", "plddt_atoms"});
  add_output(b, heads[1], fold_io::kDistogramLogits, {"d_batch", "d_length", "d_length2", "d_bins"});
  add_output(b, heads[2], fold_io::kPtmLogits, {"p_batch", "p_length", "p_length2", "p_bins"});
  add_output(b, heads[3], fold_io::kLmLogits, {"l_batch", "l_length", "l_tokens"});
}

}  // namespace esm_onnx::graph
