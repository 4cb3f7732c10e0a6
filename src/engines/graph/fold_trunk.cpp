// ESMFold's trunk, one recycling cycle, in the reference's arithmetic order (transformers' modeling_esmfold.py,
// fair-esm's esm/esmfold/v1/trunk.py and tri_self_attn_block.py): the stem's states mixed and projected, the
// recycled state normed and added, relative positions, then the blocks (sequence attention with pair bias,
// sequence-to-pair, triangle multiplication out and in, triangle attention from the start and end node, MLPs).
#include <fmt/format.h>

#include <algorithm>
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

void FoldCtx::fused_linear_weights(const std::vector<std::string>& prefixes, int64_t in, int64_t out_each,
                                   const std::vector<bool>& with_bias, const std::string& name) {
  const std::string key = name + ".weight.T";
  if (made.count(key)) return;
  // [in, n * out_each]: each Linear's [out, in] weight transposed, side by side; one bias, zeros where a Linear has none.
  const int64_t n = static_cast<int64_t>(prefixes.size());
  std::vector<float> w(static_cast<std::size_t>(in * n * out_each)), bias(static_cast<std::size_t>(n * out_each), 0.0f);
  bool any_bias = false;
  for (int64_t k = 0; k < n; ++k) {
    const auto& prefix = prefixes[static_cast<std::size_t>(k)];
    const Tensor t = ck.read(prefix + ".weight", {out_each, in});
    for (int64_t o = 0; o < out_each; ++o) {
      for (int64_t i = 0; i < in; ++i) {
        w[static_cast<std::size_t>(i * n * out_each + k * out_each + o)] = t.data[static_cast<std::size_t>(o * in + i)];
      }
    }
    if (with_bias[static_cast<std::size_t>(k)]) {
      const Tensor tb = ck.read(prefix + ".bias", {out_each});
      std::copy(tb.data.begin(), tb.data.end(), bias.begin() + k * out_each);
      any_bias = true;
    }
  }
  made[key] = b.weight(key, {in, n * out_each}, w);
  if (any_bias) made[name + ".bias"] = b.weight(name + ".bias", {n * out_each}, bias);
}

std::string FoldCtx::fused_linear(const std::string& x, const std::vector<std::string>& prefixes, int64_t in,
                                  int64_t out_each, const std::vector<bool>& with_bias, const std::string& name) {
  fused_linear_weights(prefixes, in, out_each, with_bias, name);
  Builder::Scope s(b, name.substr(name.rfind('.') + 1));
  const auto bias = made.find(name + ".bias");
  const std::string y = b.matmul(x, made.at(name + ".weight.T"));
  return bias == made.end() ? y : b.add(y, bias->second, "Add_bias");
}

std::string FoldCtx::fused_linear(const std::string& x, const std::vector<std::string>& prefixes, int64_t in,
                                  int64_t out_each, bool bias, const std::string& name) {
  return fused_linear(x, prefixes, in, out_each, std::vector<bool>(prefixes.size(), bias), name);
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

// Sequence attention with the pair bias, gated (EsmFoldSelfAttention), as ONNX Runtime's MultiHeadAttention:
// the projection's per-head [q, k, v] columns regrouped into q | k | v at conversion, the pair bias as its
// attention_bias [B, H, L, L], padding as its key mask.
std::string sequence_attention(FoldCtx& c, const std::string& y, const std::string& bias, const std::string& key_mask,
                               const std::string& p) {
  Builder& b = c.b;
  Builder::Scope s(b, "seq_attention");
  const int64_t E = c.cfg.sequence_state_dim, H = c.cfg.sequence_heads(), D = c.cfg.sequence_head_width;
  const std::string key = p + ".proj.weight.qkv.T";
  if (!c.made.count(key)) {
    // The file's rows: for head h, q (D rows), k, v. Regrouped to q of every head, then k, then v; transposed.
    const Tensor t = c.ck.read(p + ".proj.weight", {3 * E, E});
    std::vector<float> w(static_cast<std::size_t>(E * 3 * E));
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t part = 0; part < 3; ++part) {
        for (int64_t d = 0; d < D; ++d) {
          const int64_t row = h * 3 * D + part * D + d, col = part * E + h * D + d;
          for (int64_t i = 0; i < E; ++i) w[static_cast<std::size_t>(i * 3 * E + col)] = t.data[static_cast<std::size_t>(row * E + i)];
        }
      }
    }
    c.made[key] = b.weight(key, {E, 3 * E}, w);
  }
  auto qkv = b.node_multi("Split", {b.matmul(y, c.made[key], "proj"), b.const_i64({E, E, E}, "split")}, {attr_int("axis", -1)}, "Split", 3);
  auto o = b.node("MultiHeadAttention", {qkv[0], qkv[1], qkv[2], "", key_mask, b.transpose(bias, {0, 3, 1, 2})},
                  {attr_int("num_heads", H), attr_float("scale", static_cast<float>(std::pow(static_cast<double>(D), -0.5)))},
                  "MultiHeadAttention", 1, "com.microsoft");
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
  // The five projections of the normed pair in one GEMM: a (projection, gate), b (projection, gate), the output gate.
  auto proj = c.fused_linear(zn, {p + ".linear_a_p", p + ".linear_a_g", p + ".linear_b_p", p + ".linear_b_g", p + ".linear_g"}, C,
                             C, true, p + ".projections");
  auto parts = b.node_multi("Split", {proj, b.const_i64({C, C, C, C, C}, "split")}, {attr_int("axis", -1)}, "Split", 5);
  auto a = b.mul(b.mul(m, sigmoid(b, parts[1]), "a_gate"), parts[0], "a");
  auto bb = b.mul(b.mul(m, sigmoid(b, parts[3]), "b_gate"), parts[2], "b");
  // [B, I, J, C] -> channels first, then one matmul per channel, the other operand read transposed by the GEMM:
  // outgoing a_c b_c^T, incoming a_c^T b_c. (Transposing b to [B, C, K, J] instead, a reversal of three axes, took
  // ONNX Runtime 18x as long as moving the channel axis alone: 90 ms against 5 at L = 200.)
  const std::vector<int64_t> channels_first{0, 3, 1, 2};
  auto prod = b.node("FusedMatMul", {b.transpose(a, channels_first), b.transpose(bb, channels_first)},
                     {attr_int(outgoing ? "transB" : "transA", 1)}, "combine", 1, "com.microsoft");
  auto x = b.transpose(prod, {0, 2, 3, 1});
  x = c.layer_norm(x, p + ".layer_norm_out", C);
  x = c.linear(x, p + ".linear_z", C, C);
  return b.mul(x, sigmoid(b, parts[4]), "gate");
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
  // [B, H, I, J] from the whole pair, shared by every row: MultiHeadAttention's attention_bias.
  auto tri_bias = b.transpose(c.linear(x, p + ".linear", C, H, false), {0, 3, 1, 2});
  // Keys at padding are masked: the reference's 1e9 * (mask_i mask_j - 1) differs only on padded rows, whose
  // output nothing reads (with mask_j alone they stay finite).
  auto key_mask = b.cast(mask, TensorProto::INT32, "key_mask");  // [B, I, J]
  // Every weight the rows use, made outside the loop body so that they stay initializers of the outer graph.
  const std::string m = p + ".mha";
  const std::vector<std::string> qkvg{m + ".linear_q", m + ".linear_k", m + ".linear_v", m + ".linear_g"};
  c.fused_linear_weights(qkvg, C, H * D, {false, false, false, true}, m + ".qkvg");
  c.linear_weights(m + ".linear_o", H * D, C, true);
  auto shape = b.node("Shape", {x}, {}, "Shape");
  auto batch = b.node("Gather", {shape, b.const_i64({0}, "axis0", true)}, {attr_int("axis", 0)}, "batch");
  auto length = b.node("Gather", {shape, b.const_i64({1}, "axis1", true)}, {attr_int("axis", 0)}, "rows");
  auto one_batch = b.node("Equal", {batch, b.const_i64({1}, "one_b", true)}, {}, "one_batch");
  // Shapes of the rows flattened into MultiHeadAttention's batch: [B c, J, C], [B c, J], [B c, H, J, J].
  auto cols = b.unsqueeze(b.node("Gather", {shape, b.const_i64({2}, "axis2", true)}, {attr_int("axis", 0)}, "cols"), {0});
  auto minus_one = b.const_i64({-1}, "minus_one");
  auto flat_shape = b.concat({minus_one, cols, b.const_i64({C}, "channels")}, 0, "flat_shape");
  auto mask_shape = b.concat({minus_one, cols}, 0, "mask_shape");
  auto bias_shape = b.concat({minus_one, b.const_i64({H}, "heads"), cols, cols}, 0, "bias_shape");
  auto chunk = b.node("Min", {std::string(fold_io::kChunkSize), length}, {}, "chunk");
  auto chunk_minus_one = b.sub(chunk, b.const_i64({1}, "one", true), "chunk_minus_one");
  auto trips = b.div(b.add(length, chunk_minus_one, "round_up"), chunk, "trips");
  auto out = b.loop_concat(trips, TensorProto::FLOAT, 1, [&](const std::string& it) {
    auto start = b.unsqueeze(b.mul(it, chunk, "start"), {0});
    auto end = b.unsqueeze(b.add(b.mul(it, chunk, "start2"), chunk, "end"), {0});
    auto axis = b.const_i64({1}, "axis");
    auto xs = b.node("Slice", {x, start, end, axis}, {}, "rows_x");                     // [B, c, J, C]
    auto ms = b.node("Slice", {key_mask, start, end, axis}, {}, "rows_mask");           // [B, c, J]
    auto rows_shape = b.node("Shape", {xs}, {}, "rows_shape");
    auto flat = b.node("Reshape", {xs, flat_shape}, {}, "flat");                         // [B c, J, C]
    auto proj = c.fused_linear(flat, qkvg, C, H * D, {false, false, false, true}, m + ".qkvg");
    auto qkv = b.node_multi("Split", {proj, b.const_i64({H * D, H * D, H * D, H * D}, "split")}, {attr_int("axis", -1)},
                            "Split", 4);
    auto mask_rows = b.node("Reshape", {ms, mask_shape}, {}, "mask_rows");              // [B c, J]
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
    auto attend = [&](const std::string& bias) {
      return std::vector<std::string>{b.node("MultiHeadAttention", {qkv[0], qkv[1], qkv[2], "", mask_rows, bias},
                                             {attr_int("num_heads", H), attr_float("scale", scale)}, "MultiHeadAttention", 1,
                                             "com.microsoft")};
    };
    // One protein: the [1, H, J, J] bias broadcasts over the rows. Several: each row gets its protein's.
    auto o = b.if_node(
        one_batch, [&] { return attend(tri_bias); },
        [&] {
          auto rows = b.node("Gather", {rows_shape, b.const_i64({1}, "axis1b", true)}, {attr_int("axis", 0)}, "rows_here");
          auto target = b.concat({b.unsqueeze(batch, {0}), b.unsqueeze(rows, {0}), b.const_i64({1, 1, 1}, "ones")}, 0, "target");
          auto expanded = b.node("Expand", {b.unsqueeze(tri_bias, {1}), target}, {}, "per_row_bias");  // [B, c, H, J, J]
          return attend(b.node("Reshape", {expanded, bias_shape}, {}, "rows_bias"));
        },
        TensorProto::FLOAT, "If_one_batch")[0];
    o = b.mul(o, sigmoid(b, qkv[3]), "gate");
    o = c.linear(o, m + ".linear_o", H * D, C);
    return b.node("Reshape", {o, rows_shape}, {}, "unflatten");                      // [B, c, J, C]
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
  // Pair mask [B, L, L] and the sequence attention's key mask.
  auto pair_mask = b.mul(b.unsqueeze(mask, {2}), b.unsqueeze(mask, {1}), "pair_mask");
  auto key_mask = b.cast(mask, TensorProto::INT32, "key_mask");  // [B, L] 1 at residues
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
    s = b.add(s, sequence_attention(c, y, bias, key_mask, p + ".seq_attention"), "s_attention");
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
