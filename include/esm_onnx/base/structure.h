#pragma once
// Protein geometry that ESMFold's host side needs, in AlphaFold's conventions (residue order, atom14 and atom37
// layouts, rigid groups), float32 as the reference computes it: backbone frames and torsions to atoms, the
// recycling distogram, the confidence heads' reductions (pLDDT, pTM, PAE) and the residue tables behind them.
// Pure functions over row-major arrays (small scratch buffers aside, nothing is allocated beyond the outputs).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace esm_onnx::structure {

// AlphaFold's residue order; index 20 is X (anything else).
inline constexpr const char* kResidueOrder = "ARNDCQEGHILKMFPSTWYV";
inline constexpr int kResidueTypes = 21;  // with X
inline constexpr int kUnknownResidue = 20;
inline constexpr int kAtom14 = 14;
inline constexpr int kAtom37 = 37;
inline constexpr int kRigidGroups = 8;
inline constexpr int kTorsions = 7;

// The residue type of a one-letter code (upper case), X (20) for anything outside kResidueOrder.
int residue_type(char residue);

// The tables derived from the ideal residue geometry (AlphaFold's residue constants), by residue type
// (21 rows, X last and empty where AlphaFold leaves it empty).
struct ResidueTables {
  std::vector<float> default_frames;         // [21, 8, 4, 4] each rigid group's frame in its parent's
  std::vector<int64_t> atom14_group;         // [21, 14] the rigid group each atom14 slot moves with
  std::vector<float> atom14_mask;            // [21, 14] 1 where the residue has that atom
  std::vector<float> atom14_positions;       // [21, 14, 3] each atom in its group's frame
  std::vector<int64_t> atom14_to_atom37;     // [21, 14] atom37 index of each atom14 slot (0 where absent)
  std::vector<int64_t> atom37_to_atom14;     // [21, 37] atom14 slot of each atom37 atom (0 where absent)
  std::vector<float> atom37_mask;            // [21, 37] 1 where the residue has that atom
};
const ResidueTables& residue_tables();

// atom37's atom names in order ("N", "CA", "C", "CB", "O", ...), and a residue type's three-letter name
// ("ALA" ... "VAL", "UNK" for X).
const std::array<const char*, kAtom37>& atom37_names();
const char* residue_name3(int type);

// The structure module's last frames and torsions to atom positions, as openfold's
// torsion_angles_to_frames + frames_and_literature_positions_to_atom14_pos compute them.
// rotations [L, 3, 3] (row-major, acting on column vectors), translations [L, 3] (Angstrom), angles [L, 7, 2]
// (sin, cos, normalised), types [L] residue types -> atom14 [L, 14, 3] (zeros where the residue has no atom).
std::vector<float> atom14_positions(const float* rotations, const float* translations, const float* angles,
                                    const int64_t* types, int64_t length);

// atom14 [L, 14, 3] -> atom37 [L, 37, 3] (zeros where absent) as openfold's atom14_to_atom37.
std::vector<float> atom14_to_atom37(const float* atom14, const int64_t* types, int64_t length);

// ESMFold's recycling input: CB built from atom14's N, CA, C (slots 0, 1, 2) as its trunk builds it, squared
// distances binned by the squares of linspace(3.375, 21.375, 14) (bins 0..14) -> [L, L] row-major.
std::vector<int64_t> recycle_bins(const float* atom14, int64_t length);

// The smallest distance (Angstrom) from any pair's CB-CB distance to a recycling bin edge: below ~1e-4 a
// second exact implementation may put the pair in the neighbouring bin (how the parity tests detect a flip).
float recycle_bin_margin(const float* atom14, int64_t length);

// pLDDT per atom (0-100) from logits [n, bins]: 100 x the expected bin centre of softmax(logits), bins
// evenly over [0, 1]. Returns [n].
std::vector<float> plddt(const float* logits, int64_t n, int64_t bins);

// pTM from pairwise logits [L, L, bins] (bins over [0, max_bin] Angstrom, max_bin 31, 64 bins) as openfold's
// compute_tm with residue weights 1: the max over aligned residues of the mean expected TM term.
float ptm(const float* logits, int64_t length, int64_t bins, float max_bin = 31.0f);

// Predicted aligned error [L, L] (Angstrom, expected bin centre) from the same logits, and its maximum (the
// last bin's centre), as openfold's compute_predicted_aligned_error.
struct AlignedError {
  std::vector<float> pae;  // [L, L]
  float max_pae{0};
};
AlignedError predicted_aligned_error(const float* logits, int64_t length, int64_t bins, float max_bin = 31.0f);

// One structure to write as PDB.
struct PdbInput {
  const float* atom37{nullptr};       // [L, 37, 3] Angstrom
  const float* atom37_mask{nullptr};  // [L, 37] which atoms to write
  const int64_t* types{nullptr};      // [L] residue types
  const int64_t* residue_index{nullptr};  // [L] 1-based residue numbers as written
  const float* b_factors{nullptr};    // [L, 37]
  const int64_t* chain_index{nullptr};    // [L] 0 = chain A, ...; null: all chain A
  int64_t length{0};
};
// PDB text exactly as openfold's protein.to_pdb writes it (fair-esm's esm-fold writes its files with it):
// "PARENT N/A", ATOM records, a TER per chain (each followed by "PARENT N/A" but the last), END; no MODEL lines.
std::string to_pdb(const PdbInput& input);

// CA RMSD (Angstrom) of two atom37 structures of `length` residues after their best rigid superposition (Horn's
// quaternion method): how far a reduced-precision fold lies from fp32's (convert --verify, the bench).
double ca_rmsd(const float* atom37_a, const float* atom37_b, int64_t length);

}  // namespace esm_onnx::structure
