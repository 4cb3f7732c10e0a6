// Backbone frames and torsions to atoms (openfold's torsion_angles_to_frames and
// frames_and_literature_positions_to_atom14_pos), atom14 to atom37, and the recycling distogram. Every product and
// sum is float32 and in the reference's order (its hand-written rot_matmul / rot_vec_mul), so that positions agree
// to rounding, not just to a tolerance.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/structure.h"
#include "linspace.h"

namespace esm_onnx::structure {

namespace {

// A rigid transform x -> R x + t; R row-major.
struct Rigid {
  float r[9];
  float t[3];
};

void rot_matmul(const float* a, const float* b, float* out) {
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      out[i * 3 + j] = a[i * 3 + 0] * b[0 * 3 + j] + a[i * 3 + 1] * b[1 * 3 + j] + a[i * 3 + 2] * b[2 * 3 + j];
    }
  }
}

void rot_vec_mul(const float* r, const float* v, float* out) {
  for (int i = 0; i < 3; ++i) out[i] = r[i * 3 + 0] * v[0] + r[i * 3 + 1] * v[1] + r[i * 3 + 2] * v[2];
}

// a then b: (a o b)(x) = a(b(x)), as openfold's Rigid.compose.
Rigid compose(const Rigid& a, const Rigid& b) {
  Rigid out;
  rot_matmul(a.r, b.r, out.r);
  rot_vec_mul(a.r, b.t, out.t);
  for (int i = 0; i < 3; ++i) out.t[i] = out.t[i] + a.t[i];
  return out;
}

void check_types(const int64_t* types, int64_t length) {
  for (int64_t i = 0; i < length; ++i) {
    if (types[i] < 0 || types[i] >= kResidueTypes) {
      throw InputError(fmt::format("types[{}] = {}: residue types are 0..{} (AlphaFold's order, {} = X)", i,
                                   types[i], kResidueTypes - 1, kUnknownResidue));
    }
  }
}

void check_length(int64_t length, const char* what) {
  if (length < 0) throw UsageError(fmt::format("{}: length {} is negative", what, length));
}

// The recycling bins' edges, linspace(3.375, 21.375, 14) Angstrom as the trunk builds them (it compares squared
// distances with their squares).
constexpr int kRecycleEdges = 14;
std::vector<float> recycle_edges() { return linspace(3.375f, 21.375f, kRecycleEdges); }

// The trunk's pseudo-CB coefficients: Python doubles that torch rounds to float32 (a float literal could round
// differently from the double's rounding).
constexpr float kCbCross = static_cast<float>(-0.58273431), kCbB = static_cast<float>(0.56802827),
                kCbC = static_cast<float>(0.54067466);

// Each residue's pseudo-CB from its N, CA, C (atom14 slots 0..2), with the trunk's constants and operation order.
std::vector<float> pseudo_beta(const float* atom14, int64_t length) {
  std::vector<float> cb(static_cast<size_t>(length) * 3);
  for (int64_t i = 0; i < length; ++i) {
    const float* n = atom14 + i * kAtom14 * 3;
    const float* ca = n + 3;
    const float* c = n + 6;
    const float b[3] = {ca[0] - n[0], ca[1] - n[1], ca[2] - n[2]};
    const float d[3] = {c[0] - ca[0], c[1] - ca[1], c[2] - ca[2]};
    const float a[3] = {b[1] * d[2] - b[2] * d[1], b[2] * d[0] - b[0] * d[2], b[0] * d[1] - b[1] * d[0]};
    for (int k = 0; k < 3; ++k) {
      cb[static_cast<size_t>(i * 3 + k)] = kCbCross * a[k] + kCbB * b[k] - kCbC * d[k] + ca[k];
    }
  }
  return cb;
}

float squared_distance(const float* p, const float* q) {
  // Row i, column j of the trunk's distogram is |CB_j - CB_i|^2, summed x, y, z.
  const float dx = q[0] - p[0], dy = q[1] - p[1], dz = q[2] - p[2];
  return dx * dx + dy * dy + dz * dz;
}

}  // namespace

std::vector<float> atom14_positions(const float* rotations, const float* translations, const float* angles,
                                    const int64_t* types, int64_t length) {
  check_length(length, "atom14_positions");
  check_types(types, length);
  const ResidueTables& tables = residue_tables();
  std::vector<float> out(static_cast<size_t>(length) * kAtom14 * 3, 0.0f);
  for (int64_t i = 0; i < length; ++i) {
    const auto type = static_cast<size_t>(types[i]);
    Rigid backbone;
    std::copy_n(rotations + i * 9, 9, backbone.r);
    std::copy_n(translations + i * 3, 3, backbone.t);

    // Each group's frame in its parent's: the default frame, then the rotation by its torsion about x. The
    // backbone group's torsion is the identity (sin 0, cos 1).
    Rigid local[kRigidGroups];
    for (int g = 0; g < kRigidGroups; ++g) {
      const float* m = tables.default_frames.data() + (type * kRigidGroups + static_cast<size_t>(g)) * 16;
      const Rigid d{{m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]}, {m[3], m[7], m[11]}};
      const float sin = g == 0 ? 0.0f : angles[(i * kTorsions + g - 1) * 2];
      const float cos = g == 0 ? 1.0f : angles[(i * kTorsions + g - 1) * 2 + 1];
      const Rigid torsion{{1.0f, 0.0f, 0.0f, 0.0f, cos, -sin, 0.0f, sin, cos}, {0.0f, 0.0f, 0.0f}};
      local[g] = compose(d, torsion);
    }
    // chi2..chi4 hang off the previous chi frame; everything else off the backbone.
    Rigid to_backbone[kRigidGroups];
    std::copy_n(local, 5, to_backbone);
    for (int g = 5; g < kRigidGroups; ++g) to_backbone[g] = compose(to_backbone[g - 1], local[g]);
    Rigid global[kRigidGroups];
    for (int g = 0; g < kRigidGroups; ++g) global[g] = compose(backbone, to_backbone[g]);

    for (size_t s = 0; s < size_t{kAtom14}; ++s) {
      const size_t slot = type * kAtom14 + s;
      const Rigid& f = global[tables.atom14_group[slot]];
      const float* lit = tables.atom14_positions.data() + slot * 3;
      float p[3];
      rot_vec_mul(f.r, lit, p);
      const float mask = tables.atom14_mask[slot];
      float* o = out.data() + (static_cast<size_t>(i) * kAtom14 + s) * 3;
      // Multiplied by the mask, not skipped: the reference's zeros (and NaNs) where a residue has no atom.
      for (int k = 0; k < 3; ++k) o[k] = (p[k] + f.t[k]) * mask;
    }
  }
  return out;
}

std::vector<float> atom14_to_atom37(const float* atom14, const int64_t* types, int64_t length) {
  check_length(length, "atom14_to_atom37");
  check_types(types, length);
  const ResidueTables& tables = residue_tables();
  std::vector<float> out(static_cast<size_t>(length) * kAtom37 * 3, 0.0f);
  for (int64_t i = 0; i < length; ++i) {
    const auto type = static_cast<size_t>(types[i]);
    for (size_t k = 0; k < size_t{kAtom37}; ++k) {
      const int64_t s = tables.atom37_to_atom14[type * kAtom37 + k];
      const float mask = tables.atom37_mask[type * kAtom37 + k];
      const float* from = atom14 + (i * kAtom14 + s) * 3;
      float* to = out.data() + (static_cast<size_t>(i) * kAtom37 + k) * 3;
      for (int c = 0; c < 3; ++c) to[c] = from[c] * mask;
    }
  }
  return out;
}

std::vector<int64_t> recycle_bins(const float* atom14, int64_t length) {
  check_length(length, "recycle_bins");
  const std::vector<float> cb = pseudo_beta(atom14, length);
  std::vector<float> edges = recycle_edges();
  for (float& e : edges) e = e * e;
  const auto n = static_cast<size_t>(length);
  std::vector<int64_t> bins(n * n, 0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const float d2 = squared_distance(cb.data() + i * 3, cb.data() + j * 3);
      int64_t bin = 0;
      for (float e : edges) bin += d2 > e ? 1 : 0;  // a count, as the trunk's sum(d2 > edges): NaN lands in 0
      bins[i * n + j] = bin;
    }
  }
  return bins;
}

float recycle_bin_margin(const float* atom14, int64_t length) {
  check_length(length, "recycle_bin_margin");
  const std::vector<float> cb = pseudo_beta(atom14, length);
  const std::vector<float> edges = recycle_edges();
  double margin = std::numeric_limits<double>::infinity();
  const auto n = static_cast<size_t>(length);
  // Pairs i < j: the diagonal is always 0, far below the first edge, and the matrix is symmetric.
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double d = std::sqrt(static_cast<double>(squared_distance(cb.data() + i * 3, cb.data() + j * 3)));
      for (float e : edges) margin = std::min(margin, std::fabs(d - static_cast<double>(e)));
    }
  }
  return static_cast<float>(margin);
}

}  // namespace esm_onnx::structure
