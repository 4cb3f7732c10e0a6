// The ideal residue geometry and every table derived from it (default frames, atom14 and atom37 layouts), built
// once on first use. Only the chemistry is data here; each derived table is computed from it below, in the order
// and precision AlphaFold's residue_constants computes it (double, then stored as float32), so the tables match.
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/structure.h"

namespace esm_onnx::structure {

namespace {

// One heavy atom of a residue: its name, the rigid group it moves with (0 backbone, 3 psi, 4..7 chi1..chi4) and
// its position in that group's frame (Angstrom).
struct IdealAtom {
  const char* name;  // null past the residue's last atom
  int group;
  double position[3];
};

// A residue's atoms in atom14 order and the four atoms defining each of its chi angles (chi1 first; null where
// the residue has fewer chi angles).
struct IdealResidue {
  const char* name3;
  IdealAtom atoms[kAtom14];
  const char* chi[4][4];
};

// The ideal geometry tabulated in AlphaFold's residue_constants (DeepMind, Apache-2.0), in kResidueOrder.
// Positions are double, as AlphaFold's numpy builds its tables, and cast to float32 only when a table is stored.
constexpr IdealResidue kIdeal[kResidueTypes - 1] = {
    {"ALA",
     {{"N", 0, {-0.525, 1.363, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.526, -0.000, -0.000}},
      {"O", 3, {0.627, 1.062, 0.000}}, {"CB", 0, {-0.529, -0.774, -1.205}}},
     {}},
    {"ARG",
     {{"N", 0, {-0.524, 1.362, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.525, -0.000, -0.000}},
      {"O", 3, {0.626, 1.062, 0.000}}, {"CB", 0, {-0.524, -0.778, -1.209}}, {"CG", 4, {0.616, 1.390, -0.000}},
      {"CD", 5, {0.564, 1.414, 0.000}}, {"NE", 6, {0.539, 1.357, -0.000}}, {"CZ", 7, {0.758, 1.093, -0.000}},
      {"NH1", 7, {0.206, 2.301, 0.000}}, {"NH2", 7, {2.078, 0.978, -0.000}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "CD"}, {"CB", "CG", "CD", "NE"}, {"CG", "CD", "NE", "CZ"}}},
    {"ASN",
     {{"N", 0, {-0.536, 1.357, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.526, -0.000, -0.000}},
      {"O", 3, {0.625, 1.062, 0.000}}, {"CB", 0, {-0.531, -0.787, -1.200}}, {"CG", 4, {0.584, 1.399, 0.000}},
      {"OD1", 5, {0.633, 1.059, 0.000}}, {"ND2", 5, {0.593, -1.188, 0.001}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "OD1"}}},
    {"ASP",
     {{"N", 0, {-0.525, 1.362, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.527, 0.000, -0.000}},
      {"O", 3, {0.626, 1.062, -0.000}}, {"CB", 0, {-0.526, -0.778, -1.208}}, {"CG", 4, {0.593, 1.398, -0.000}},
      {"OD1", 5, {0.610, 1.091, 0.000}}, {"OD2", 5, {0.592, -1.101, -0.003}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "OD1"}}},
    {"CYS",
     {{"N", 0, {-0.522, 1.362, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.524, 0.000, 0.000}},
      {"O", 3, {0.625, 1.062, -0.000}}, {"CB", 0, {-0.519, -0.773, -1.212}}, {"SG", 4, {0.728, 1.653, 0.000}}},
     {{"N", "CA", "CB", "SG"}}},
    {"GLN",
     {{"N", 0, {-0.526, 1.361, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.526, 0.000, 0.000}},
      {"O", 3, {0.626, 1.062, -0.000}}, {"CB", 0, {-0.525, -0.779, -1.207}}, {"CG", 4, {0.615, 1.393, 0.000}},
      {"CD", 5, {0.587, 1.399, -0.000}}, {"OE1", 6, {0.634, 1.060, 0.000}}, {"NE2", 6, {0.593, -1.189, -0.001}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "CD"}, {"CB", "CG", "CD", "OE1"}}},
    {"GLU",
     {{"N", 0, {-0.528, 1.361, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.526, -0.000, -0.000}},
      {"O", 3, {0.626, 1.062, 0.000}}, {"CB", 0, {-0.526, -0.781, -1.207}}, {"CG", 4, {0.615, 1.392, 0.000}},
      {"CD", 5, {0.600, 1.397, 0.000}}, {"OE1", 6, {0.607, 1.095, -0.000}}, {"OE2", 6, {0.589, -1.104, -0.001}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "CD"}, {"CB", "CG", "CD", "OE1"}}},
    {"GLY",
     {{"N", 0, {-0.572, 1.337, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.517, -0.000, -0.000}},
      {"O", 3, {0.626, 1.062, -0.000}}},
     {}},
    {"HIS",
     {{"N", 0, {-0.527, 1.360, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.525, 0.000, 0.000}},
      {"O", 3, {0.625, 1.063, 0.000}}, {"CB", 0, {-0.525, -0.778, -1.208}}, {"CG", 4, {0.600, 1.370, -0.000}},
      {"ND1", 5, {0.744, 1.160, -0.000}}, {"CD2", 5, {0.889, -1.021, 0.003}}, {"CE1", 5, {2.030, 0.851, 0.002}},
      {"NE2", 5, {2.145, -0.466, 0.004}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "ND1"}}},
    {"ILE",
     {{"N", 0, {-0.493, 1.373, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.527, -0.000, -0.000}},
      {"O", 3, {0.627, 1.062, -0.000}}, {"CB", 0, {-0.536, -0.793, -1.213}}, {"CG1", 4, {0.534, 1.437, -0.000}},
      {"CG2", 4, {0.540, -0.785, -1.199}}, {"CD1", 5, {0.619, 1.391, 0.000}}},
     {{"N", "CA", "CB", "CG1"}, {"CA", "CB", "CG1", "CD1"}}},
    {"LEU",
     {{"N", 0, {-0.520, 1.363, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.525, -0.000, -0.000}},
      {"O", 3, {0.625, 1.063, -0.000}}, {"CB", 0, {-0.522, -0.773, -1.214}}, {"CG", 4, {0.678, 1.371, 0.000}},
      {"CD1", 5, {0.530, 1.430, -0.000}}, {"CD2", 5, {0.535, -0.774, 1.200}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "CD1"}}},
    {"LYS",
     {{"N", 0, {-0.526, 1.362, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.526, 0.000, 0.000}},
      {"O", 3, {0.626, 1.062, -0.000}}, {"CB", 0, {-0.524, -0.778, -1.208}}, {"CG", 4, {0.619, 1.390, 0.000}},
      {"CD", 5, {0.559, 1.417, 0.000}}, {"CE", 6, {0.560, 1.416, 0.000}}, {"NZ", 7, {0.554, 1.387, 0.000}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "CD"}, {"CB", "CG", "CD", "CE"}, {"CG", "CD", "CE", "NZ"}}},
    {"MET",
     {{"N", 0, {-0.521, 1.364, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.525, 0.000, 0.000}},
      {"O", 3, {0.625, 1.062, -0.000}}, {"CB", 0, {-0.523, -0.776, -1.210}}, {"CG", 4, {0.613, 1.391, -0.000}},
      {"SD", 5, {0.703, 1.695, 0.000}}, {"CE", 6, {0.320, 1.786, -0.000}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "SD"}, {"CB", "CG", "SD", "CE"}}},
    {"PHE",
     {{"N", 0, {-0.518, 1.363, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.524, 0.000, -0.000}},
      {"O", 3, {0.626, 1.062, -0.000}}, {"CB", 0, {-0.525, -0.776, -1.212}}, {"CG", 4, {0.607, 1.377, 0.000}},
      {"CD1", 5, {0.709, 1.195, -0.000}}, {"CD2", 5, {0.706, -1.196, 0.000}}, {"CE1", 5, {2.102, 1.198, -0.000}},
      {"CE2", 5, {2.098, -1.201, -0.000}}, {"CZ", 5, {2.794, -0.003, -0.001}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "CD1"}}},
    {"PRO",
     {{"N", 0, {-0.566, 1.351, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.527, -0.000, 0.000}},
      {"O", 3, {0.621, 1.066, 0.000}}, {"CB", 0, {-0.546, -0.611, -1.293}}, {"CG", 4, {0.382, 1.445, 0.000}},
      {"CD", 5, {0.477, 1.424, 0.000}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "CD"}}},
    {"SER",
     {{"N", 0, {-0.529, 1.360, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.525, -0.000, -0.000}},
      {"O", 3, {0.626, 1.062, -0.000}}, {"CB", 0, {-0.518, -0.777, -1.211}}, {"OG", 4, {0.503, 1.325, 0.000}}},
     {{"N", "CA", "CB", "OG"}}},
    {"THR",
     {{"N", 0, {-0.517, 1.364, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.526, 0.000, -0.000}},
      {"O", 3, {0.626, 1.062, 0.000}}, {"CB", 0, {-0.516, -0.793, -1.215}}, {"OG1", 4, {0.472, 1.353, 0.000}},
      {"CG2", 4, {0.550, -0.718, -1.228}}},
     {{"N", "CA", "CB", "OG1"}}},
    {"TRP",
     {{"N", 0, {-0.521, 1.363, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.525, -0.000, 0.000}},
      {"O", 3, {0.627, 1.062, 0.000}}, {"CB", 0, {-0.523, -0.776, -1.212}}, {"CG", 4, {0.609, 1.370, -0.000}},
      {"CD1", 5, {0.824, 1.091, 0.000}}, {"CD2", 5, {0.854, -1.148, -0.005}}, {"NE1", 5, {2.140, 0.690, -0.004}},
      {"CE2", 5, {2.186, -0.678, -0.007}}, {"CE3", 5, {0.622, -2.530, -0.007}}, {"CZ2", 5, {3.283, -1.543, -0.011}},
      {"CZ3", 5, {1.715, -3.389, -0.011}}, {"CH2", 5, {3.028, -2.890, -0.013}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "CD1"}}},
    {"TYR",
     {{"N", 0, {-0.522, 1.362, 0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.524, -0.000, -0.000}},
      {"O", 3, {0.627, 1.062, -0.000}}, {"CB", 0, {-0.522, -0.776, -1.213}}, {"CG", 4, {0.607, 1.382, -0.000}},
      {"CD1", 5, {0.716, 1.195, -0.000}}, {"CD2", 5, {0.713, -1.194, -0.001}}, {"CE1", 5, {2.107, 1.200, -0.002}},
      {"CE2", 5, {2.104, -1.201, -0.003}}, {"CZ", 5, {2.791, -0.001, -0.003}}, {"OH", 5, {4.168, -0.002, -0.005}}},
     {{"N", "CA", "CB", "CG"}, {"CA", "CB", "CG", "CD1"}}},
    {"VAL",
     {{"N", 0, {-0.494, 1.373, -0.000}}, {"CA", 0, {0.000, 0.000, 0.000}}, {"C", 0, {1.527, -0.000, -0.000}},
      {"O", 3, {0.627, 1.062, -0.000}}, {"CB", 0, {-0.533, -0.795, -1.213}}, {"CG1", 4, {0.540, 1.429, -0.000}},
      {"CG2", 4, {0.533, -0.776, 1.203}}},
     {{"N", "CA", "CB", "CG1"}}},
};

constexpr std::array<const char*, kAtom37> kAtom37Names = {
    "N",   "CA",  "C",   "CB",  "O",   "CG",  "CG1", "CG2", "OG",  "OG1", "SG",  "CD",  "CD1",
    "CD2", "ND1", "ND2", "OD1", "OD2", "SD",  "CE",  "CE1", "CE2", "CE3", "NE",  "NE1", "NE2",
    "OE1", "OE2", "CH2", "NH1", "NH2", "OH",  "CZ",  "CZ2", "CZ3", "NZ",  "OXT"};

int atom37_index(const char* name) {
  for (int k = 0; k < kAtom37; ++k) {
    if (std::strcmp(kAtom37Names[static_cast<size_t>(k)], name) == 0) return k;
  }
  throw InternalError(fmt::format("structure: atom '{}' is not an atom37 name", name));
}

struct Vec3 {
  double x, y, z;
};
Vec3 sub(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
Vec3 scale(Vec3 a, double s) { return {a.x * s, a.y * s, a.z * s}; }
Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }

// The frame whose x axis points along ex, whose xy plane holds ey (on its positive y side) and whose origin is at
// `origin`, as a 4x4 [R | t] in the parent's coordinates: the way every default frame is defined.
void frame_from_axes(Vec3 ex, Vec3 ey, Vec3 origin, float* m) {
  const double nx = std::sqrt(dot(ex, ex));
  const Vec3 x{ex.x / nx, ex.y / nx, ex.z / nx};
  Vec3 y = sub(ey, scale(x, dot(ey, x)));
  const double ny = std::sqrt(dot(y, y));
  y = {y.x / ny, y.y / ny, y.z / ny};
  const Vec3 z = cross(x, y);
  const Vec3 columns[4] = {x, y, z, origin};
  for (int c = 0; c < 4; ++c) {
    m[0 * 4 + c] = static_cast<float>(columns[c].x);
    m[1 * 4 + c] = static_cast<float>(columns[c].y);
    m[2 * 4 + c] = static_cast<float>(columns[c].z);
  }
  m[3 * 4 + 3] = 1.0f;
}

void identity4(float* m) {
  for (int k = 0; k < 4; ++k) m[k * 4 + k] = 1.0f;
}

// A residue's atom position by name (every name asked for is one of its atoms).
Vec3 atom_position(const IdealResidue& r, const char* name) {
  for (const IdealAtom& a : r.atoms) {
    if (a.name != nullptr && std::strcmp(a.name, name) == 0) return {a.position[0], a.position[1], a.position[2]};
  }
  throw InternalError(fmt::format("structure: {} has no atom '{}'", r.name3, name));
}

ResidueTables build_tables() {
  ResidueTables t;
  t.default_frames.assign(size_t{kResidueTypes} * kRigidGroups * 16, 0.0f);
  t.atom14_group.assign(size_t{kResidueTypes} * kAtom14, 0);
  t.atom14_mask.assign(size_t{kResidueTypes} * kAtom14, 0.0f);
  t.atom14_positions.assign(size_t{kResidueTypes} * kAtom14 * 3, 0.0f);
  t.atom14_to_atom37.assign(size_t{kResidueTypes} * kAtom14, 0);
  t.atom37_to_atom14.assign(size_t{kResidueTypes} * kAtom37, 0);
  t.atom37_mask.assign(size_t{kResidueTypes} * kAtom37, 0.0f);
  // X (the last row) keeps zeros everywhere, default frames included: it has no atoms to place.
  for (size_t type = 0; type + 1 < size_t{kResidueTypes}; ++type) {
    const IdealResidue& r = kIdeal[type];
    for (size_t s = 0; s < size_t{kAtom14}; ++s) {
      const IdealAtom& a = r.atoms[s];
      if (a.name == nullptr) continue;
      const size_t k = static_cast<size_t>(atom37_index(a.name));
      t.atom14_group[type * kAtom14 + s] = a.group;
      t.atom14_mask[type * kAtom14 + s] = 1.0f;
      for (size_t c = 0; c < 3; ++c) {
        t.atom14_positions[(type * kAtom14 + s) * 3 + c] = static_cast<float>(a.position[c]);
      }
      t.atom14_to_atom37[type * kAtom14 + s] = static_cast<int64_t>(k);
      t.atom37_to_atom14[type * kAtom37 + k] = static_cast<int64_t>(s);
      t.atom37_mask[type * kAtom37 + k] = 1.0f;
    }

    float* frames = t.default_frames.data() + type * kRigidGroups * 16;
    auto frame = [&](int group) { return frames + group * 16; };
    const Vec3 n = atom_position(r, "N"), ca = atom_position(r, "CA"), c = atom_position(r, "C");
    identity4(frame(0));  // backbone in backbone
    identity4(frame(1));  // pre-omega: no atoms, kept as the identity
    frame_from_axes(sub(n, ca), {1.0, 0.0, 0.0}, n, frame(2));  // phi, about CA->N
    frame_from_axes(sub(c, ca), sub(ca, n), c, frame(3));       // psi, about CA->C
    if (r.chi[0][0] != nullptr) {
      // chi1 about CA->CB, in the backbone frame.
      const Vec3 a0 = atom_position(r, r.chi[0][0]), a1 = atom_position(r, r.chi[0][1]);
      const Vec3 a2 = atom_position(r, r.chi[0][2]);
      frame_from_axes(sub(a2, a1), sub(a0, a1), a2, frame(4));
    }
    for (int chi = 1; chi < 4; ++chi) {
      if (r.chi[chi][0] == nullptr) continue;
      // chi2..chi4 in the previous chi frame, whose origin is this axis' start: the axis ends at the third atom.
      const Vec3 end = atom_position(r, r.chi[chi][2]);
      frame_from_axes(end, {-1.0, 0.0, 0.0}, end, frame(4 + chi));
    }
  }
  return t;
}

}  // namespace

int residue_type(char residue) {
  const char* p = std::strchr(kResidueOrder, residue);
  return (residue != '\0' && p != nullptr) ? static_cast<int>(p - kResidueOrder) : kUnknownResidue;
}

const ResidueTables& residue_tables() {
  static const ResidueTables tables = build_tables();
  return tables;
}

const std::array<const char*, kAtom37>& atom37_names() { return kAtom37Names; }

const char* residue_name3(int type) {
  if (type < 0 || type >= kResidueTypes) {
    throw InputError(fmt::format("residue type {}: must be 0..{} (AlphaFold's order, {} = X)", type,
                                 kResidueTypes - 1, kUnknownResidue));
  }
  return type == kUnknownResidue ? "UNK" : kIdeal[type].name3;
}

}  // namespace esm_onnx::structure
