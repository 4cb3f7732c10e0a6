// Protein geometry (esm_onnx/base/structure.h) as structure_* functions over numpy arrays: float32 and int64 in,
// float32 and int64 out. Shapes are checked here, each error naming the function, the argument and the shape it
// needs; the library checks the values (residue types, chains).
#include <fmt/format.h>

#include <initializer_list>

#include "binding.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/structure.h"

namespace esm_onnx::python {

using namespace nb::literals;
namespace st = esm_onnx::structure;

namespace {

template <typename T>
using In = nb::ndarray<const T, nb::c_contig, nb::device::cpu>;

template <typename T>
std::string shape_text(const In<T>& a) {
  std::string s = "(";
  for (size_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// Checks `a` against `want` (-1: any size) and returns its first dimension; `want_text` spells the shape for the
// message, e.g. "(L, 3, 3)".
template <typename T>
int64_t expect_shape(const char* fn, const char* arg, const In<T>& a, std::initializer_list<int64_t> want,
                     const char* want_text) {
  bool ok = a.ndim() == want.size();
  size_t d = 0;
  for (int64_t w : want) {
    if (ok && w >= 0 && static_cast<int64_t>(a.shape(d)) != w) ok = false;
    ++d;
  }
  if (!ok) throw UsageError(fmt::format("{}: {} has shape {}; needs {}", fn, arg, shape_text(a), want_text));
  return a.ndim() == 0 ? 0 : static_cast<int64_t>(a.shape(0));
}

// The residue count every array of one call shares.
void expect_length(const char* fn, const char* arg, int64_t got, int64_t length) {
  if (got != length) {
    throw UsageError(fmt::format("{}: {} has {} residues; the first argument has {}", fn, arg, got, length));
  }
}

using FloatOut = nb::ndarray<nb::numpy, float>;
using IntOut = nb::ndarray<nb::numpy, int64_t>;

// A vector handed to numpy without a copy: the array owns it.
template <typename T>
nb::ndarray<nb::numpy, T> numpy_array(std::vector<T>&& data, const std::vector<int64_t>& shape) {
  auto* owned = new std::vector<T>(std::move(data));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  std::vector<size_t> dims(shape.begin(), shape.end());
  return nb::ndarray<nb::numpy, T>(owned->data(), dims.size(), dims.data(), owner);
}

FloatOut float_array(std::vector<float>&& data, const std::vector<int64_t>& shape) {
  return numpy_array(std::move(data), shape);
}
IntOut int64_array(std::vector<int64_t>&& data, const std::vector<int64_t>& shape) {
  return numpy_array(std::move(data), shape);
}

nb::dict residue_tables_dict() {
  const st::ResidueTables& t = st::residue_tables();
  const int64_t R = st::kResidueTypes;
  nb::dict d;
  d["default_frames"] = float_array(std::vector<float>(t.default_frames), {R, st::kRigidGroups, 4, 4});
  d["atom14_group"] = int64_array(std::vector<int64_t>(t.atom14_group), {R, st::kAtom14});
  d["atom14_mask"] = float_array(std::vector<float>(t.atom14_mask), {R, st::kAtom14});
  d["atom14_positions"] = float_array(std::vector<float>(t.atom14_positions), {R, st::kAtom14, 3});
  d["atom14_to_atom37"] = int64_array(std::vector<int64_t>(t.atom14_to_atom37), {R, st::kAtom14});
  d["atom37_to_atom14"] = int64_array(std::vector<int64_t>(t.atom37_to_atom14), {R, st::kAtom37});
  d["atom37_mask"] = float_array(std::vector<float>(t.atom37_mask), {R, st::kAtom37});
  return d;
}

// The pairwise confidence logits [L, L, bins]: (L, bins).
std::pair<int64_t, int64_t> pair_logits(const char* fn, const In<float>& logits) {
  const int64_t L = expect_shape(fn, "logits", logits, {-1, -1, -1}, "(L, L, bins)");
  if (static_cast<int64_t>(logits.shape(1)) != L) {
    throw UsageError(fmt::format("{}: logits has shape {}; needs (L, L, bins)", fn, shape_text(logits)));
  }
  return {L, static_cast<int64_t>(logits.shape(2))};
}

}  // namespace

void bind_structure(nb::module_& m) {
  m.attr("STRUCTURE_RESIDUE_ORDER") = std::string(st::kResidueOrder);

  m.def("structure_residue_type", [](char residue) { return st::residue_type(residue); }, "residue"_a);
  m.def("structure_residue_name3", [](int type) { return std::string(st::residue_name3(type)); }, "type"_a);
  m.def("structure_atom37_names", [] {
    std::vector<std::string> names;
    for (const char* n : st::atom37_names()) names.emplace_back(n);
    return names;
  });
  m.def("structure_residue_tables", &residue_tables_dict);

  m.def("structure_atom14_positions",
        [](In<float> rotations, In<float> translations, In<float> angles, In<int64_t> types) {
          const char* fn = "structure_atom14_positions";
          const int64_t L = expect_shape(fn, "rotations", rotations, {-1, 3, 3}, "(L, 3, 3)");
          expect_length(fn, "translations", expect_shape(fn, "translations", translations, {-1, 3}, "(L, 3)"), L);
          expect_length(fn, "angles", expect_shape(fn, "angles", angles, {-1, st::kTorsions, 2}, "(L, 7, 2)"), L);
          expect_length(fn, "types", expect_shape(fn, "types", types, {-1}, "(L,)"), L);
          std::vector<float> out;
          {
            nb::gil_scoped_release release;
            out = st::atom14_positions(rotations.data(), translations.data(), angles.data(), types.data(), L);
          }
          return float_array(std::move(out), {L, st::kAtom14, 3});
        },
        "rotations"_a, "translations"_a, "angles"_a, "types"_a);

  m.def("structure_atom14_to_atom37",
        [](In<float> atom14, In<int64_t> types) {
          const char* fn = "structure_atom14_to_atom37";
          const int64_t L = expect_shape(fn, "atom14", atom14, {-1, st::kAtom14, 3}, "(L, 14, 3)");
          expect_length(fn, "types", expect_shape(fn, "types", types, {-1}, "(L,)"), L);
          std::vector<float> out;
          {
            nb::gil_scoped_release release;
            out = st::atom14_to_atom37(atom14.data(), types.data(), L);
          }
          return float_array(std::move(out), {L, st::kAtom37, 3});
        },
        "atom14"_a, "types"_a);

  m.def("structure_recycle_bins",
        [](In<float> atom14) {
          const int64_t L =
              expect_shape("structure_recycle_bins", "atom14", atom14, {-1, st::kAtom14, 3}, "(L, 14, 3)");
          std::vector<int64_t> out;
          {
            nb::gil_scoped_release release;
            out = st::recycle_bins(atom14.data(), L);
          }
          return int64_array(std::move(out), {L, L});
        },
        "atom14"_a);

  m.def("structure_recycle_bin_margin",
        [](In<float> atom14) {
          const int64_t L =
              expect_shape("structure_recycle_bin_margin", "atom14", atom14, {-1, st::kAtom14, 3}, "(L, 14, 3)");
          nb::gil_scoped_release release;
          return st::recycle_bin_margin(atom14.data(), L);
        },
        "atom14"_a);

  m.def("structure_ca_rmsd",
        [](In<float> a, In<float> b) {
          const int64_t L = expect_shape("structure_ca_rmsd", "a", a, {-1, st::kAtom37, 3}, "(L, 37, 3)");
          expect_length("structure_ca_rmsd", "b", expect_shape("structure_ca_rmsd", "b", b, {-1, st::kAtom37, 3}, "(L, 37, 3)"), L);
          nb::gil_scoped_release release;
          return st::ca_rmsd(a.data(), b.data(), L);
        },
        "a"_a, "b"_a);

  // Any leading shape: ESMFold's lddt head gives [L, 37, bins], pLDDT per atom [L, 37].
  m.def("structure_plddt",
        [](In<float> logits) {
          if (logits.ndim() < 1 || logits.shape(logits.ndim() - 1) < 1) {
            throw UsageError(fmt::format("structure_plddt: logits has shape {}; needs (..., bins), bins >= 1",
                                         shape_text(logits)));
          }
          std::vector<int64_t> shape;
          int64_t n = 1;
          for (size_t d = 0; d + 1 < logits.ndim(); ++d) {
            shape.push_back(static_cast<int64_t>(logits.shape(d)));
            n *= shape.back();
          }
          const auto bins = static_cast<int64_t>(logits.shape(logits.ndim() - 1));
          std::vector<float> out;
          {
            nb::gil_scoped_release release;
            out = st::plddt(logits.data(), n, bins);
          }
          return float_array(std::move(out), shape);
        },
        "logits"_a);

  m.def("structure_ptm",
        [](In<float> logits, float max_bin) {
          const auto [L, bins] = pair_logits("structure_ptm", logits);
          nb::gil_scoped_release release;
          return st::ptm(logits.data(), L, bins, max_bin);
        },
        "logits"_a, "max_bin"_a = 31.0f);

  m.def("structure_predicted_aligned_error",
        [](In<float> logits, float max_bin) {
          const auto [L, bins] = pair_logits("structure_predicted_aligned_error", logits);
          st::AlignedError e;
          {
            nb::gil_scoped_release release;
            e = st::predicted_aligned_error(logits.data(), L, bins, max_bin);
          }
          return std::make_pair(float_array(std::move(e.pae), {L, L}), e.max_pae);
        },
        "logits"_a, "max_bin"_a = 31.0f);

  m.def("structure_to_pdb",
        [](In<float> atom37, In<float> mask, In<int64_t> types, In<int64_t> residue_index, In<float> b_factors,
           std::optional<In<int64_t>> chain_index) {
          const char* fn = "structure_to_pdb";
          const int64_t L = expect_shape(fn, "atom37", atom37, {-1, st::kAtom37, 3}, "(L, 37, 3)");
          expect_length(fn, "mask", expect_shape(fn, "mask", mask, {-1, st::kAtom37}, "(L, 37)"), L);
          expect_length(fn, "types", expect_shape(fn, "types", types, {-1}, "(L,)"), L);
          expect_length(fn, "residue_index", expect_shape(fn, "residue_index", residue_index, {-1}, "(L,)"), L);
          expect_length(fn, "b_factors", expect_shape(fn, "b_factors", b_factors, {-1, st::kAtom37}, "(L, 37)"), L);
          if (chain_index) {
            expect_length(fn, "chain_index", expect_shape(fn, "chain_index", *chain_index, {-1}, "(L,)"), L);
          }
          st::PdbInput in;
          in.atom37 = atom37.data();
          in.atom37_mask = mask.data();
          in.types = types.data();
          in.residue_index = residue_index.data();
          in.b_factors = b_factors.data();
          in.chain_index = chain_index ? chain_index->data() : nullptr;
          in.length = L;
          nb::gil_scoped_release release;
          return st::to_pdb(in);
        },
        "atom37"_a, "mask"_a, "types"_a, "residue_index"_a, "b_factors"_a, "chain_index"_a = nb::none());
}

}  // namespace esm_onnx::python
