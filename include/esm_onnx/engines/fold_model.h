#pragma once
// A converted ESMFold, loaded once, that folds sequences in memory: the stem (an ESM-2 Model), then the folding
// cycle graph run 1 + recycles times by a host loop that rebuilds the recycled distances from each cycle's frames,
// then atoms, confidences and PDB text per record, as fair-esm's ESMFold.infer and esm-fold compute them.
//
// Thread safety: as Model: const members may be called from several threads at once.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "esm_onnx/base/fold_config.h"
#include "esm_onnx/base/record.h"
#include "esm_onnx/base/runtime_options.h"

namespace esm_onnx {

struct FoldRequest {
  std::optional<int64_t> num_recycles;  // recycles after the first pass; unset: the model's (4 as released)
  std::optional<int64_t> chunk_size;    // rows per triangle-attention chunk; unset: as many as kDefaultFoldChunkBytes allow
  int64_t max_tokens_per_batch{kDefaultFoldTokensPerBatch};  // residues of a batch, padding included
  int64_t residue_index_offset{kDefaultResidueIndexOffset};
  std::string chain_linker{kDefaultChainLinker};

  void validate() const;  // UsageError naming the option
  std::string to_string() const;
};

// One folded record. Per-residue arrays cover the chains' residues (a multimer's linkers dropped), in order.
struct FoldedStructure {
  std::string label;
  int64_t index{0};
  int64_t length{0};             // residues (linkers not counted)
  FloatArray positions;          // [L, 37, 3] Angstrom, atom37
  FloatArray atom_mask;          // [L, 37]
  FloatArray plddt;              // [L] per residue (its CA atom's), 0-100
  FloatArray plddt_atoms;        // [L, 37] 0-100, the PDB's B-factors
  FloatArray predicted_aligned_error;  // [L, L] Angstrom
  FloatArray distogram_logits;   // [L, L, 64]
  std::vector<int64_t> residue_index;  // [L] as the PDB numbers them, minus 1
  std::vector<int64_t> chain_index;    // [L] 0 = chain A
  std::vector<int64_t> aatype;         // [L] residue types (structure.h's order, 20 = X)
  float mean_plddt{0};
  float ptm{0};
  float max_predicted_aligned_error{0};
  std::string pdb;               // as esm-fold writes it
  double seconds{0};             // this record's share of its batch's time
};

// What one folding batch cost, for progress and the bench's breakdown.
struct FoldTimings {
  double stem{0}, trunk{0}, host{0};  // seconds: the stem, the cycle graph runs, atoms/confidence/PDB
  int64_t cycles{0};
};

// Why a record cannot be folded (empty, a character outside A-Z and ':', an empty chain), or empty when it can.
std::string fold_record_problem(const std::string& sequence);

class FoldModel {
 public:
  // `path`: the folding graph written by `esm-onnx convert` of an ESMFold checkpoint; its stem beside it.
  explicit FoldModel(const std::string& path, const RuntimeOptions& options = {});
  FoldModel(FoldModel&&) noexcept;
  FoldModel& operator=(FoldModel&&) noexcept;
  ~FoldModel();

  const std::string& path() const;
  const FoldModelInfo& info() const;
  const std::string& stem_path() const;
  double load_seconds() const;

  // Folds one batch together (every record in one padded pass); InputError naming a record that cannot be folded.
  std::vector<FoldedStructure> fold_batch(const std::vector<SequenceRecord>& records, const FoldRequest& request,
                                          FoldTimings* timings = nullptr) const;
  // Folds records in batches of at most request.max_tokens_per_batch residues, sorted by length; results in input order.
  std::vector<FoldedStructure> fold(const std::vector<SequenceRecord>& records, const FoldRequest& request) const;
  // The residues a record folds as (chains joined by the linker).
  int64_t folded_length(const std::string& sequence, const FoldRequest& request) const;
  // The rows per triangle-attention chunk a batch uses.
  int64_t chunk_rows(int64_t batch, int64_t length, const FoldRequest& request) const;
  // An estimate (from above) of the memory a batch of `batch` records of `length` folded residues takes, and
  // what a batch may take on this machine (most of its physical memory, beside the model's weights).
  int64_t peak_bytes(int64_t batch, int64_t length, const FoldRequest& request) const;
  int64_t memory_limit() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace esm_onnx
