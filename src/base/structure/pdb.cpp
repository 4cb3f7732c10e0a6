// PDB text byte for byte as openfold's protein.to_pdb writes it (the version fair-esm pins, which transformers
// vendors), quirks included, since users diff our files against esm-fold's.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/structure.h"

namespace esm_onnx::structure {

namespace {

constexpr const char* kChainTags = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr int64_t kChains = 26;
// to_pdb's header before the first chain and after every TER but the last (no templates, no remark).
constexpr const char* kParentLine = "PARENT N/A\n";

// A number as Python's format(x, ">{width}.{precision}f"): printf rounds the same way (exactly, ties to even), but
// spells a NaN with its sign bit "-nan" where Python writes "nan".
void put_fixed(std::string& out, float value, int width, int precision) {
  char buf[64];  // a float32's widest %f (-3.4e38 with 3 decimals) is 44 characters
  const double v = std::isnan(value) ? std::fabs(static_cast<double>(value)) : static_cast<double>(value);
  const int n = std::snprintf(buf, sizeof buf, "%*.*f", width, precision, v);
  out.append(buf, static_cast<size_t>(n));
}

void check(const PdbInput& in) {
  if (in.length < 0) throw UsageError(fmt::format("to_pdb: length {} is negative", in.length));
  if (in.length > 0 && (in.atom37 == nullptr || in.atom37_mask == nullptr || in.types == nullptr ||
                        in.residue_index == nullptr || in.b_factors == nullptr)) {
    throw UsageError("to_pdb: atom37, atom37_mask, types, residue_index and b_factors are all needed");
  }
  for (int64_t i = 0; i < in.length; ++i) {
    if (in.types[i] < 0 || in.types[i] >= kResidueTypes) {
      throw InputError(fmt::format("to_pdb: types[{}] = {}: residue types are 0..{} (AlphaFold's order, {} = X)", i,
                                   in.types[i], kResidueTypes - 1, kUnknownResidue));
    }
    if (in.chain_index != nullptr && (in.chain_index[i] < 0 || in.chain_index[i] >= kChains)) {
      throw InputError(fmt::format("to_pdb: chain_index[{}] = {}: PDB chains are A..Z (0..{})", i, in.chain_index[i],
                                   kChains - 1));
    }
  }
}

}  // namespace

std::string to_pdb(const PdbInput& in) {
  check(in);
  const auto& names = atom37_names();
  std::string out = kParentLine;
  out.reserve(static_cast<size_t>(in.length) * 10 * 81 + 64);
  int64_t atom_index = 1;
  // The reference starts from chain 0 whatever the first residue's chain is, so a structure starting in chain B
  // gets a TER after its first residue.
  int64_t previous_chain = 0;
  // The chain tag of the last ATOM written: the reference's TER line reuses it, even when the residue it closes
  // wrote no atom. Before any atom it falls back to the residue's own chain (where the reference fails).
  char chain_tag = '\0';
  for (int64_t i = 0; i < in.length; ++i) {
    const int type = static_cast<int>(in.types[i]);
    const char* res3 = residue_name3(type);
    // The reference writes residue numbers through int32.
    const auto residue_number = static_cast<int32_t>(in.residue_index[i]);
    for (int k = 0; k < kAtom37; ++k) {
      const int64_t at = i * kAtom37 + k;
      if (in.atom37_mask[at] < 0.5f) continue;
      chain_tag = in.chain_index == nullptr ? 'A' : kChainTags[in.chain_index[i]];
      const char* name = names[static_cast<size_t>(k)];
      // Columns: record, serial, name (4-letter names start a column earlier), altloc, residue, chain, number,
      // insertion code, x y z, occupancy, B-factor, element, charge.
      out += fmt::format("ATOM  {:>5} {:<4} {:>3} {}{:>4}    ", atom_index,
                         std::strlen(name) == 4 ? std::string(name) : " " + std::string(name), res3, chain_tag,
                         residue_number);
      const float* pos = in.atom37 + at * 3;
      for (int c = 0; c < 3; ++c) put_fixed(out, pos[c], 8, 3);
      out += "  1.00";
      put_fixed(out, in.b_factors[at], 6, 2);
      out += fmt::format("          {:>2}  \n", name[0]);
      ++atom_index;
    }

    bool terminate = i == in.length - 1;
    if (in.chain_index != nullptr && i != in.length - 1 && in.chain_index[i + 1] != previous_chain) {
      terminate = true;
      previous_chain = in.chain_index[i + 1];
    }
    if (terminate) {
      if (chain_tag == '\0') chain_tag = in.chain_index == nullptr ? 'A' : kChainTags[in.chain_index[i]];
      out += fmt::format("TER   {:>5}      {:>3} {}{:>4}\n", atom_index, res3, chain_tag, residue_number);
      ++atom_index;
      if (i != in.length - 1) out += kParentLine;
    }
  }
  out += "END\n";
  return out;
}

}  // namespace esm_onnx::structure
