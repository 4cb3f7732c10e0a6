// ESMFold's trunk, one recycling cycle, in the reference's arithmetic order (transformers' modeling_esmfold.py,
// fair-esm's esm/esmfold/v1/trunk.py and tri_self_attn_block.py): the stem's states mixed and projected, the
// recycled state normed and added, relative positions, then the blocks (sequence attention with pair bias,
// sequence-to-pair, triangle multiplication out and in, triangle attention from the start and end node, MLPs).
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "engines/graph/fold_graph.h"

namespace esm_onnx::graph {

using onnx::TensorProto;

std::string FoldCtx::weight(const std::string& name, const std::vector<int64_t>& shape) {
  if (auto it = made.find(name); it != made.end()) return it->second;
  Tensor t = ck.read(name, shape);
  return made[name] = b.weight(name, t.shape, t.data);
}

FoldCtx::LinearWeights FoldCtx::linear_weights(const std::string& prefix, int64_t in, int64_t out, bool bias) {
  const std::string key = prefix + ".weight.T";
  LinearWeights w;
  if (auto it = made.find(key); it != made.end()) {
    w.w_t = it->second;
  } else {
    Tensor t = ck.read(prefix + ".weight", {out, in});
    w.w_t = made[key] = b.weight(key, {in, out}, transposed(t.data, out, in));
  }
  if (bias) w.bias = weight(prefix + ".bias", {out});
  return w;
}

std::string FoldCtx::linear(const std::string& x, const std::string& prefix, int64_t in, int64_t out, bool bias) {
  const auto w = linear_weights(prefix, in, out, bias);
  Builder::Scope s(b, prefix.substr(prefix.rfind('.') + 1));
  return bias ? b.linear(x, w.w_t, w.bias) : b.matmul(x, w.w_t);
}

std::string FoldCtx::layer_norm(const std::string& x, const std::string& prefix, int64_t dim) {
  return b.layer_norm(x, weight(prefix + ".weight", {dim}), weight(prefix + ".bias", {dim}), 1e-5f);
}

namespace {

std::string sigmoid(Builder& b, const std::string& x) { return b.node("Sigmoid", {x}, {}, "Sigmoid"); }
std::string relu(Builder& b, const std::string& x) { return b.node("Relu", {x}, {}, "Relu"); }

// x + Linear(ReLU(Linear(LayerNorm(x)))): ResidueMLP (nn.Sequential: 0 norm, 1 linear, 2 relu, 3 linear).
std::string residue_mlp(FoldCtx& c, const std::string& x, const std::string& p, int64_t dim) {
  Builder::Scope s(c.b, p.substr(p.rfind('.') + 1));
  auto h = c.layer_norm(x, p + ".mlp.0", dim);
  h = c.linear(h, p + ".mlp.1", dim, 4 * dim);
  h = relu(c.b, h);
  h = c.linear(h, p + ".mlp.3", 4 * dim, dim);
  return c.b.add(x, h, "residual");
}

// Sequence attention with the pair bias, gated: EsmFoldSelfAttention.
std::string sequence_attention(FoldCtx& c, const std::string& y, const std::string& bias, const std::string& key_bias,
                               const std::string& p) {
  Builder& b = c.b;
  Builder::Scope s(b, "seq_attention");
  const int64_t E = c.cfg.sequence_state_dim, H = c.cfg.sequence_heads(), D = c.cfg.sequence_head_width;
  auto t = c.linear(y, p + ".proj", E, 3 * E, false);                 // [B, L, 3E]
  t = b.reshape(t, {0, 0, H, 3 * D});                                 // [B, L, H, 3D]
  t = b.transpose(t, {0, 2, 1, 3});                                   // [B, H, L, 3D]
  auto qkv = b.node_multi("Split", {t, b.const_i64({D, D, D}, "split")}, {attr_int("axis", -1)}, "Split", 3);
  auto q = b.mul(b.const_f32(static_cast<float>(std::pow(static_cast<double>(D), -0.5)), "rescale"), qkv[0], "rescale");
  auto a = b.matmul(q, b.transpose(qkv[1], {0, 1, 3, 2}), "scores");  // [B, H, L, L]
  a = b.add(a, b.transpose(bias, {0, 3, 1, 2}), "pair_bias");
  a = b.add(a, key_bias, "key_mask");
  a = b.softmax(a, -1);
  auto o = b.matmul(a, qkv[2], "context");                            // [B, H, L, D]
  o = b.reshape(b.transpose(o, {0, 2, 1, 3}), {0, 0, E});             // [B, L, E]
  o = b.mul(sigmoid(b, c.linear(y, p + ".g_proj", E, E)), o, "gate");
  return c.linear(o, p + ".o_proj", E, E);
}

// EsmFoldSequenceToPair: [B, L, E] -> [B, L, L, c_z] with [b, i, j] from q_j * k_i and q_j - k_i.
std::string sequence_to_pair(FoldCtx& c, const std::string& s_in, const std::string& p) {
  Builder& b = c.b;
  Builder::Scope s(b, "sequence_to_pair");
  const int64_t E = c.cfg.sequence_state_dim, C = c.cfg.pairwise_state_dim, inner = C / 2;
  auto h = c.layer_norm(s_in, p + ".layernorm", E);
  h = c.linear(h, p + ".proj", E, 2 * inner);
  auto qk = b.node_multi("Split", {h, b.const_i64({inner, inner}, "split")}, {attr_int("axis", -1)}, "Split", 2);
  auto q = b.unsqueeze(qk[0], {1});  // [B, 1, L(j), inner]
  auto k = b.unsqueeze(qk[1], {2});  // [B, L(i), 1, inner]
  auto x = b.concat({b.mul(q, k, "prod"), b.sub(q, k, "diff")}, -1);
  return c.linear(x, p + ".o_proj", 2 * inner, C);
}

// Triangle multiplication, outgoing (p_ij = sum_k a_ik b_jk) or incoming (p_ij = sum_k a_ki b_kj).
std::string triangle_multiplication(FoldCtx& c, const std::string& z, const std::string& pair_mask, const std::string& p,
                                    bool outgoing) {
  Builder& b = c.b;
  Builder::Scope s(b, outgoing ? "tri_mul_out" : "tri_mul_in");
  const int64_t C = c.cfg.pairwise_state_dim;
  auto zn = c.layer_norm(z, p + ".layer_norm_in", C);
  auto m = b.unsqueeze(pair_mask, {-1});  // [B, L, L, 1]
  auto a = b.mul(b.mul(m, sigmoid(b, c.linear(zn, p + ".linear_a_g", C, C)), "a_gate"), c.linear(zn, p + ".linear_a_p", C, C), "a");
  auto bb = b.mul(b.mul(m, sigmoid(b, c.linear(zn, p + ".linear_b_g", C, C)), "b_gate"), c.linear(zn, p + ".linear_b_p", C, C), "b");
  // [B, I, J, C] -> channels first, then one matmul per channel.
  const std::vector<int64_t> rows{0, 3, 1, 2}, cols{0, 3, 2, 1};
  auto prod = outgoing ? b.matmul(b.transpose(a, rows), b.transpose(bb, cols), "combine")
                       : b.matmul(b.transpose(a, cols), b.transpose(bb, rows), "combine");
  auto x = b.transpose(prod, {0, 2, 3, 1});
  x = c.layer_norm(x, p + ".layer_norm_out", C);
  x = c.linear(x, p + ".linear_z", C, C);
  return b.mul(x, sigmoid(b, c.linear(zn, p + ".linear_g", C, C)), "gate");
}

// Triangle attention around the starting node (rows attend along j) or the ending node (the same on the
// transposed pair). Rows are independent: they are computed `chunk_size` at a time in an ONNX Loop, so that the
// [rows, H, L, L] logits are bounded by the chunk, not by L^3.
std::string triangle_attention(FoldCtx& c, const std::string& z, const std::string& pair_mask, const std::string& p,
                               bool starting) {
  Builder& b = c.b;
  Builder::Scope s(b, starting ? "tri_att_start" : "tri_att_end");
  const int64_t C = c.cfg.pairwise_state_dim, H = c.cfg.pairwise_heads(), D = c.cfg.pairwise_head_width;
  auto x = starting ? z : b.transpose(z, {0, 2, 1, 3});
  auto mask = starting ? pair_mask : b.transpose(pair_mask, {0, 2, 1});
  x = c.layer_norm(x, p + ".layer_norm", C);
  // [B, I, 1, 1, J]: 1e9 * (mask - 1), the reference's masking of keys.
  auto mask_bias = b.mul(b.const_f32(1e9f, "inf"), b.sub(mask, b.const_f32(1.0f, "one"), "mask_minus_one"), "mask_bias");
  mask_bias = b.unsqueeze(mask_bias, {2, 3});
  // [B, 1, H, I, J] from the whole pair, shared by every row.
  auto tri_bias = b.unsqueeze(b.transpose(c.linear(x, p + ".linear", C, H, false), {0, 3, 1, 2}), {1});
  // Every weight the rows use, made outside the loop body so that they stay initializers of the outer graph.
  const std::string m = p + ".mha";
  for (const char* w : {"linear_q", "linear_k", "linear_v"}) c.linear_weights(m + "." + w, C, H * D, false);
  c.linear_weights(m + ".linear_g", C, H * D, true);
  c.linear_weights(m + ".linear_o", H * D, C, true);

  auto length = b.node("Gather", {b.node("Shape", {x}, {}, "Shape"), b.const_i64({1}, "axis1", true)}, {attr_int("axis", 0)}, "rows");
  auto chunk = b.node("Min", {std::string(fold_io::kChunkSize), length}, {}, "chunk");
  auto chunk_minus_one = b.sub(chunk, b.const_i64({1}, "one", true), "chunk_minus_one");
  auto trips = b.div(b.add(length, chunk_minus_one, "round_up"), chunk, "trips");
  auto out = b.loop_concat(trips, TensorProto::FLOAT, 1, [&](const std::string& it) {
    auto start = b.unsqueeze(b.mul(it, chunk, "start"), {0});
    auto end = b.unsqueeze(b.add(b.mul(it, chunk, "start2"), chunk, "end"), {0});
    auto axis = b.const_i64({1}, "axis");
    auto xs = b.node("Slice", {x, start, end, axis}, {}, "rows_x");                // [B, c, J, C]
    auto ms = b.node("Slice", {mask_bias, start, end, axis}, {}, "rows_mask");     // [B, c, 1, 1, J]
    auto heads = [&](const std::string& t) {  // [B, c, J, H*D] -> [B, c, H, J, D]
      return b.transpose(b.reshape(t, {0, 0, 0, H, D}), {0, 1, 3, 2, 4});
    };
    auto q = b.div(heads(c.linear(xs, m + ".linear_q", C, H * D, false)), b.const_f32(static_cast<float>(std::sqrt(static_cast<double>(D))), "sqrt_d"), "scale");
    auto k = heads(c.linear(xs, m + ".linear_k", C, H * D, false));
    auto v = heads(c.linear(xs, m + ".linear_v", C, H * D, false));
    auto a = b.matmul(q, b.transpose(k, {0, 1, 2, 4, 3}), "scores");  // [B, c, H, J, J]
    a = b.add(a, ms, "mask_bias");
    a = b.add(a, tri_bias, "triangle_bias");
    a = b.softmax(a, -1);
    auto o = b.transpose(b.matmul(a, v, "context"), {0, 1, 3, 2, 4});  // [B, c, J, H, D]
    auto g = b.reshape(sigmoid(b, c.linear(xs, m + ".linear_g", C, H * D)), {0, 0, 0, H, D});
    o = b.reshape(b.mul(o, g, "gate"), {0, 0, 0, H * D});
    return c.linear(o, m + ".linear_o", H * D, C);
  }, "rows");
  return starting ? out : b.transpose(out, {0, 2, 1, 3});
}

}  // namespace

TrunkOut build_trunk(FoldCtx& c, const std::string& mask) {
  Builder& b = c.b;
  const auto& cfg = c.cfg;
  const int64_t E = cfg.esm_dim, S = cfg.sequence_state_dim, C = cfg.pairwise_state_dim, NL = cfg.esm_layers + 1;
  std::string s0;
  {
    Builder::Scope sc(b, "esm_s");
    // The states without BOS and EOS, mixed by softmax(esm_s_combine).
    auto hidden = b.node("Slice", {std::string(fold_io::kEsmHidden), b.const_i64({1}, "start"), b.const_i64({-1}, "end"),
                                   b.const_i64({2}, "axis")}, {}, "drop_bos_eos");  // [NL, B, L, E]
    auto w = b.softmax(c.weight("esm_s_combine", {NL}), 0, "combine_softmax");
    auto mixed = b.reduce_sum(b.mul(hidden, b.reshape(w, {NL, 1, 1, 1}), "weigh"), {0}, false, "combine");
    auto h = c.layer_norm(mixed, "esm_s_mlp.0", E);
    h = c.linear(h, "esm_s_mlp.1", E, S);
    h = relu(b, h);
    s0 = c.linear(h, "esm_s_mlp.3", S, S);
    if (cfg.embed_aa) {
      auto emb = b.node("Gather", {c.weight("embedding.weight", {FoldConfig::kAaTokens, S}), std::string(fold_io::kAatype)},
                        {attr_int("axis", 0)}, "aa_embedding");
      s0 = b.add(s0, emb, "plus_aa");
    }
  }
  std::string s, z;
  {
    Builder::Scope sc(b, "recycle");
    auto rs = c.layer_norm(fold_io::kRecycleS, "trunk.recycle_s_norm", S);
    auto rz = c.layer_norm(fold_io::kRecycleZ, "trunk.recycle_z_norm", C);
    auto disto = b.node("Gather", {c.weight("trunk.recycle_disto.weight", {FoldConfig::kRecycleBins, C}),
                                   std::string(fold_io::kRecycleBins)}, {attr_int("axis", 0)}, "recycle_disto");
    rz = b.add(rz, disto, "plus_disto");
    s = b.add(s0, rs, "s");
    z = rz;  // the pair input s_z_0 is zero
  }
  // Pair mask [B, L, L] and the sequence attention's key bias [B, 1, 1, L] (-inf at padding).
  auto pair_mask = b.mul(b.unsqueeze(mask, {2}), b.unsqueeze(mask, {1}), "pair_mask");
  auto key_bias = b.node("Where", {b.node("Equal", {b.unsqueeze(mask, {1, 2}), b.const_f32(0.0f, "zero")}, {}, "is_pad"),
                                   b.const_f32(-std::numeric_limits<float>::infinity(), "neg_inf"), b.const_f32(0.0f, "zero")},
                         {}, "key_bias");
  {
    Builder::Scope sc(b, "relative_position");
    const int64_t bins = cfg.position_bins;
    auto ri = std::string(fold_io::kResidueIndex);
    auto diff = b.sub(b.unsqueeze(ri, {1}), b.unsqueeze(ri, {2}), "diff");  // [b, i, j] = r_j - r_i
    diff = b.node("Max", {b.node("Min", {diff, b.const_i64({bins}, "bins", true)}, {}, "clamp_hi"), b.const_i64({-bins}, "neg_bins", true)}, {}, "clamp_lo");
    diff = b.add(diff, b.const_i64({bins + 1}, "offset", true), "shift");
    diff = b.mul(diff, b.cast(pair_mask, TensorProto::INT64), "masked");  // 0 for pairs with padding
    auto emb = b.node("Gather", {c.weight("trunk.pairwise_positional_embedding.embedding.weight", {2 * bins + 2, C}), diff},
                      {attr_int("axis", 0)}, "embedding");
    z = b.add(z, emb, "z");
  }
  for (int64_t i = 0; i < cfg.num_blocks; ++i) {
    Builder::Scope sc(b, fmt::format("blocks.{}", i));
    const std::string p = fmt::format("trunk.blocks.{}", i);
    auto bias = c.linear(c.layer_norm(z, p + ".pair_to_sequence.layernorm", C), p + ".pair_to_sequence.linear", C,
                         cfg.sequence_heads(), false);
    auto y = c.layer_norm(s, p + ".layernorm_1", S);
    s = b.add(s, sequence_attention(c, y, bias, key_bias, p + ".seq_attention"), "s_attention");
    s = residue_mlp(c, s, p + ".mlp_seq", S);
    z = b.add(z, sequence_to_pair(c, s, p + ".sequence_to_pair"), "z_seq");
    z = b.add(z, triangle_multiplication(c, z, pair_mask, p + ".tri_mul_out", true), "z_mul_out");
    z = b.add(z, triangle_multiplication(c, z, pair_mask, p + ".tri_mul_in", false), "z_mul_in");
    z = b.add(z, triangle_attention(c, z, pair_mask, p + ".tri_att_start", true), "z_att_start");
    z = b.add(z, triangle_attention(c, z, pair_mask, p + ".tri_att_end", false), "z_att_end");
    z = residue_mlp(c, z, p + ".mlp_pair", C);
  }
  return {s, z};
}

}  // namespace esm_onnx::graph
