// ESMFold's structure module in the reference's order (openfold's StructureModule as transformers vendors it):
// frames kept as quaternions and translations, invariant point attention, the transition, the backbone update,
// and on the last iteration the torsion ResNet. Rotations are the quaternions' matrices, as Rigid computes them.
#include <fmt/format.h>

#include <cmath>

#include "engines/graph/fold_graph.h"

namespace esm_onnx::graph {

using onnx::TensorProto;

namespace {

std::string relu(Builder& b, const std::string& x) { return b.node("Relu", {x}, {}, "Relu"); }

// Rotation matrix entries as sums over the quaternion's outer product q_i q_j (16 terms, most zero): the table
// of rigid_utils' quat_to_rot, written here from R(q) for q = (a, b, c, d).
std::vector<float> quat_to_rot_table() {
  std::vector<float> m(16 * 9, 0.0f);  // [(i, j), (row, col)]
  auto set = [&](int i, int j, int row, int col, float v) { m[static_cast<std::size_t>((i * 4 + j) * 9 + row * 3 + col)] = v; };
  enum { a, b, c, d };
  set(a, a, 0, 0, 1), set(b, b, 0, 0, 1), set(c, c, 0, 0, -1), set(d, d, 0, 0, -1);
  set(b, c, 0, 1, 2), set(a, d, 0, 1, -2);
  set(b, d, 0, 2, 2), set(a, c, 0, 2, 2);
  set(b, c, 1, 0, 2), set(a, d, 1, 0, 2);
  set(a, a, 1, 1, 1), set(b, b, 1, 1, -1), set(c, c, 1, 1, 1), set(d, d, 1, 1, -1);
  set(c, d, 1, 2, 2), set(a, b, 1, 2, -2);
  set(b, d, 2, 0, 2), set(a, c, 2, 0, -2);
  set(c, d, 2, 1, 2), set(a, b, 2, 1, 2);
  set(a, a, 2, 2, 1), set(b, b, 2, 2, -1), set(c, c, 2, 2, -1), set(d, d, 2, 2, 1);
  return m;
}

// q * (0, v), the quaternion product with a pure vector, as sums over q_i v_j: [(i, j), k].
std::vector<float> quat_times_vector_table() {
  std::vector<float> m(12 * 4, 0.0f);
  auto set = [&](int i, int j, int k, float v) { m[static_cast<std::size_t>((i * 3 + j) * 4 + k)] = v; };
  enum { a, b, c, d };
  enum { x, y, z };
  set(b, x, 0, -1), set(c, y, 0, -1), set(d, z, 0, -1);
  set(a, x, 1, 1), set(c, z, 1, 1), set(d, y, 1, -1);
  set(a, y, 2, 1), set(b, z, 2, -1), set(d, x, 2, 1);
  set(a, z, 3, 1), set(b, y, 3, 1), set(c, x, 3, -1);
  return m;
}

struct Tables {
  std::string quat_to_rot, quat_times_vector;
};

// [B, L, 4] -> [B, L, 3, 3]
std::string rotation_of(Builder& b, const Tables& t, const std::string& q) {
  auto outer = b.mul(b.unsqueeze(q, {-1}), b.unsqueeze(q, {-2}), "outer");  // [B, L, 4, 4]
  return b.reshape(b.matmul(b.reshape(outer, {0, 0, 16}), t.quat_to_rot, "rot"), {0, 0, 3, 3});
}

// Points [B, L, N, 3] in each residue's frame -> global: R p + t.
std::string apply_frame(Builder& b, const std::string& pts, const std::string& rot_t, const std::string& trans) {
  return b.add(b.matmul(pts, rot_t, "rotate"), b.unsqueeze(trans, {2}), "translate");
}

// [B, L, 3 * N] -> [B, L, N, 3], as the reference's split into three then stack on the last axis.
std::string as_points(Builder& b, const std::string& x, int64_t n) {
  return b.transpose(b.reshape(x, {0, 0, 3, n}), {0, 1, 3, 2});
}

std::string invariant_point_attention(FoldCtx& c, const std::string& s, const std::string& z, const std::string& rot,
                                      const std::string& trans, const std::string& square_bias) {
  Builder& b = c.b;
  Builder::Scope sc(b, "ipa");
  const auto& m = c.cfg.structure;
  const std::string p = "trunk.structure_module.ipa";
  const int64_t S = m.sequence_dim, Z = m.pairwise_dim, H = m.num_heads_ipa, D = m.ipa_dim, PQ = m.num_qk_points,
                PV = m.num_v_points;
  auto rot_t = b.transpose(rot, {0, 1, 3, 2});
  auto q = b.reshape(c.linear(s, p + ".linear_q", S, H * D), {0, 0, H, D});
  auto kv = b.reshape(c.linear(s, p + ".linear_kv", S, 2 * H * D), {0, 0, H, 2 * D});
  auto k_v = b.node_multi("Split", {kv, b.const_i64({D, D}, "split")}, {attr_int("axis", -1)}, "Split", 2);
  auto q_pts = apply_frame(b, as_points(b, c.linear(s, p + ".linear_q_points", S, H * PQ * 3), H * PQ), rot_t, trans);
  q_pts = b.reshape(q_pts, {0, 0, H, PQ, 3});
  auto kv_pts = apply_frame(b, as_points(b, c.linear(s, p + ".linear_kv_points", S, H * (PQ + PV) * 3), H * (PQ + PV)),
                            rot_t, trans);
  kv_pts = b.reshape(kv_pts, {0, 0, H, PQ + PV, 3});
  auto kv_split = b.node_multi("Split", {kv_pts, b.const_i64({PQ, PV}, "split")}, {attr_int("axis", 3)}, "Split", 2);
  auto pair_bias = c.linear(z, p + ".linear_b", Z, H);  // [B, L, L, H]

  auto a = b.matmul(b.transpose(q, {0, 2, 1, 3}), b.transpose(k_v[0], {0, 2, 3, 1}), "scores");  // [B, H, L, L]
  a = b.mul(a, c.f32(static_cast<float>(std::sqrt(1.0 / (3.0 * static_cast<double>(D)))), "scalar_scale"), "scale");
  a = b.add(a, b.mul(c.f32(static_cast<float>(std::sqrt(1.0 / 3.0)), "pair_scale"), b.transpose(pair_bias, {0, 3, 1, 2}),
                     "pair_scaled"), "plus_pair");
  // Squared distances between query and key points: [B, I, J, H, PQ].
  auto d = b.sub(b.unsqueeze(q_pts, {2}), b.unsqueeze(kv_split[0], {1}), "point_diff");
  auto d2 = b.reduce_sum(b.mul(d, d, "square"), {-1}, false, "point_dist");
  auto hw = b.node("Softplus", {c.weight(p + ".head_weights", {H})}, {}, "Softplus");
  hw = b.mul(hw, c.f32(static_cast<float>(std::sqrt(1.0 / (3.0 * (static_cast<double>(PQ) * 9.0 / 2.0)))), "hw_scale"),
             "head_weights");
  auto pt = b.mul(d2, b.reshape(hw, {H, 1}), "weighted");
  pt = b.mul(b.reduce_sum(pt, {-1}, false, "sum_points"), c.f32(-0.5f, "minus_half"), "point_logits");  // [B, I, J, H]
  a = b.add(a, b.transpose(pt, {0, 3, 1, 2}), "plus_points");
  a = b.add(a, square_bias, "mask");
  a = b.softmax(a, -1);

  auto o = b.reshape(b.transpose(b.matmul(a, b.transpose(k_v[1], {0, 2, 1, 3}), "values"), {0, 2, 1, 3}), {0, 0, H * D});
  // Value points: [B, H, I, J] @ [B, H, J, PV * 3], back to each residue's frame.
  auto vp = b.reshape(b.transpose(kv_split[1], {0, 2, 1, 3, 4}), {0, 0, 0, PV * 3});
  auto o_pt = b.transpose(b.reshape(b.matmul(a, vp, "value_points"), {0, 0, 0, PV, 3}), {0, 2, 1, 3, 4});  // [B, L, H, PV, 3]
  o_pt = b.sub(o_pt, b.unsqueeze(trans, {2, 3}), "untranslate");
  o_pt = b.matmul(o_pt, b.unsqueeze(rot, {2}), "unrotate");
  auto norm = b.node("Sqrt", {b.add(b.reduce_sum(b.mul(o_pt, o_pt, "square"), {-1}, false), c.f32(m.epsilon, "eps"), "plus_eps")},
                     {}, "Sqrt");
  norm = b.reshape(norm, {0, 0, H * PV});
  auto xyz = b.node_multi("Split", {b.reshape(o_pt, {0, 0, H * PV, 3}), b.const_i64({1, 1, 1}, "split")},
                          {attr_int("axis", -1)}, "Split", 3);
  auto o_pair = b.reshape(b.matmul(b.transpose(a, {0, 2, 1, 3}), z, "pair_values"), {0, 0, H * Z});
  auto cat = b.concat({o, b.squeeze(xyz[0], {-1}), b.squeeze(xyz[1], {-1}), b.squeeze(xyz[2], {-1}), norm, o_pair}, -1);
  return c.linear(cat, p + ".linear_out", H * (Z + D + PV * 4), S);
}

std::string angle_resnet(FoldCtx& c, const std::string& s, const std::string& s_initial) {
  Builder& b = c.b;
  Builder::Scope sc(b, "angle_resnet");
  const auto& m = c.cfg.structure;
  const std::string p = "trunk.structure_module.angle_resnet";
  const int64_t S = m.sequence_dim, R = m.resnet_dim;
  auto a = b.add(c.linear(relu(b, s), p + ".linear_in", S, R), c.linear(relu(b, s_initial), p + ".linear_initial", S, R), "a");
  for (int64_t i = 0; i < m.num_resnet_blocks; ++i) {
    const std::string l = fmt::format("{}.layers.{}", p, i);
    auto h = c.linear(relu(b, a), l + ".linear_1", R, R);
    h = c.linear(relu(b, h), l + ".linear_2", R, R);
    a = b.add(h, a, "residual");
  }
  a = b.reshape(c.linear(relu(b, a), p + ".linear_out", R, m.num_angles * 2), {0, 0, m.num_angles, 2});
  auto sq = b.reduce_sum(b.mul(a, a, "square"), {-1}, true);
  auto denom = b.node("Sqrt", {b.node("Max", {sq, c.f32(m.epsilon, "eps")}, {}, "clamp")}, {}, "Sqrt");
  return b.div(a, denom, "normalise");
}

}  // namespace

StructureOut build_structure_module(FoldCtx& c, const TrunkOut& trunk, const std::string& mask) {
  Builder& b = c.b;
  Builder::Scope sc(b, "structure_module");
  const auto& cfg = c.cfg;
  const auto& m = cfg.structure;
  const std::string p = "trunk.structure_module";
  const int64_t S = m.sequence_dim;
  Tables t;
  t.quat_to_rot = b.weight("structure.quat_to_rot", {16, 9}, quat_to_rot_table());
  t.quat_times_vector = b.weight("structure.quat_times_vector", {12, 4}, quat_times_vector_table());

  auto s = c.layer_norm(c.linear(trunk.s, "trunk.trunk2sm_s", cfg.sequence_state_dim, S), p + ".layer_norm_s", S);
  auto z = c.layer_norm(c.linear(trunk.z, "trunk.trunk2sm_z", cfg.pairwise_state_dim, m.pairwise_dim), p + ".layer_norm_z",
                        m.pairwise_dim);
  const auto s_initial = s;
  s = c.linear(s, p + ".linear_in", S, S);
  // [B, 1, L, L]: inf * (mask_i mask_j - 1).
  auto pair = b.mul(b.unsqueeze(mask, {2}), b.unsqueeze(mask, {1}), "square_mask");
  auto square_bias = b.unsqueeze(b.mul(c.f32(m.inf, "inf"), b.sub(pair, c.f32(1.0f, "one"), "minus_one"), "square_bias"), {1});

  // Identity frames: quaternions (1, 0, 0, 0) and zero translations, shaped like s's [B, L].
  auto zeros = b.reduce_sum(b.mul(s, c.f32(0.0f, "zero"), "zeros"), {-1}, true);  // [B, L, 1]
  auto quats = b.concat({b.add(zeros, c.f32(1.0f, "one"), "w"), zeros, zeros, zeros}, -1);
  auto trans = b.concat({zeros, zeros, zeros}, -1);
  std::string rot;
  for (int64_t i = 0; i < m.num_blocks; ++i) {
    Builder::Scope it(b, fmt::format("iteration.{}", i));
    rot = rotation_of(b, t, quats);
    s = b.add(s, invariant_point_attention(c, s, z, rot, trans, square_bias), "plus_ipa");
    s = c.layer_norm(s, p + ".layer_norm_ipa", S);
    for (int64_t l = 0; l < m.num_transition_layers; ++l) {
      const std::string tl = fmt::format("{}.transition.layers.{}", p, l);
      auto h = relu(b, c.linear(s, tl + ".linear_1", S, S));
      h = relu(b, c.linear(h, tl + ".linear_2", S, S));
      s = b.add(c.linear(h, tl + ".linear_3", S, S), s, "residual");
    }
    s = c.layer_norm(s, p + ".transition.layer_norm", S);
    // Backbone update: the quaternion composed with (1, v) and normalised; the translation moved in the old frame.
    auto update = c.linear(s, p + ".bb_update.linear", S, 6);
    auto qt = b.node_multi("Split", {update, b.const_i64({3, 3}, "split")}, {attr_int("axis", -1)}, "Split", 2);
    auto outer = b.reshape(b.mul(b.unsqueeze(quats, {-1}), b.unsqueeze(qt[0], {-2}), "outer"), {0, 0, 12});
    auto new_quats = b.add(quats, b.matmul(outer, t.quat_times_vector, "quat_update"), "quats");
    auto norm = b.node("Sqrt", {b.reduce_sum(b.mul(new_quats, new_quats, "square"), {-1}, true)}, {}, "norm");
    quats = b.div(new_quats, norm, "normalise");
    auto moved = b.squeeze(b.matmul(rot, b.unsqueeze(qt[1], {-1}), "rotate"), {-1});
    trans = b.add(trans, moved, "trans");
  }
  StructureOut out;
  out.rotations = rotation_of(b, t, quats);
  out.translations = b.mul(trans, c.f32(m.trans_scale_factor, "trans_scale"), "to_angstrom");
  out.angles = angle_resnet(c, s, s_initial);
  out.state = s;
  return out;
}

}  // namespace esm_onnx::graph
