#pragma once
// ESMFold's folding head as one ONNX graph per recycling cycle (fold_io in fold_config.h names its inputs and
// outputs): the stem's states mixed, the trunk's blocks, the structure module and, on the last cycle, the
// heads. The host runs it 1 + recycles times and builds atoms from its frames (base/structure.h).
#include <map>
#include <string>
#include <vector>

#include "engines/graph/builder.h"
#include "esm_onnx/checkpoint/fold_checkpoint.h"

namespace esm_onnx::graph {

// What every piece of the folding graph shares: the builder, the checkpoint and the weights already made.
struct FoldCtx {
  Builder& b;
  const FoldCheckpoint& ck;
  const FoldConfig& cfg;
  std::map<std::string, std::string> made{};

  // A tensor of the checkpoint as an fp32 initializer, its shape checked.
  std::string weight(const std::string& name, const std::vector<int64_t>& shape);
  // A Linear's weight (transposed to [in, out]) and bias as initializers, made once.
  struct LinearWeights {
    std::string w_t, bias;
  };
  LinearWeights linear_weights(const std::string& prefix, int64_t in, int64_t out, bool bias);
  // Several Linears of the same input side by side as one GEMM ([in, n * out_each]); `name` names the packed
  // weight. with_bias per Linear: those without one get zeros in the packed bias (any with one packs it).
  std::string fused_linear(const std::string& x, const std::vector<std::string>& prefixes, int64_t in, int64_t out_each,
                           bool bias, const std::string& name);
  std::string fused_linear(const std::string& x, const std::vector<std::string>& prefixes, int64_t in, int64_t out_each,
                           const std::vector<bool>& with_bias, const std::string& name);
  // The packed weight (and bias) made without a node, for a Loop body to use.
  void fused_linear_weights(const std::vector<std::string>& prefixes, int64_t in, int64_t out_each,
                            const std::vector<bool>& with_bias, const std::string& name);
  // x @ W^T + b of the checkpoint's Linear `prefix` ([out, in] weight), with or without its bias.
  std::string linear(const std::string& x, const std::string& prefix, int64_t in, int64_t out, bool bias = true);
  // The checkpoint's LayerNorm `prefix` (eps 1e-5, as every norm of the folding head).
  std::string layer_norm(const std::string& x, const std::string& prefix, int64_t dim);
  std::string f32(float v, const std::string& hint) { return b.const_f32(v, hint); }
  std::string i64(int64_t v, const std::string& hint) { return b.const_i64({v}, hint, true); }
};

// The trunk cycle: esm states and recycled inputs -> s_s [B, L, c_s], s_z [B, L, L, c_z]. `mask` float [B, L].
struct TrunkOut {
  std::string s, z;
};
TrunkOut build_trunk(FoldCtx& ctx, const std::string& mask);

// The structure module on the trunk's output -> the last iteration's frames, torsions and state.
struct StructureOut {
  std::string rotations, translations, angles, state;
};
StructureOut build_structure_module(FoldCtx& ctx, const TrunkOut& trunk, const std::string& mask);

// Builds the whole cycle graph (inputs, outputs, the heads behind want_heads) into ctx.b's graph.
void build_fold_cycle(FoldCtx& ctx);

}  // namespace esm_onnx::graph
