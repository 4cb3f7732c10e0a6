#pragma once
// The fold job (esm-fold's): a FASTA in, per record `<label>.pdb` (as esm-fold writes it) and `<label>.npz`
// (positions, atom_mask, plddt, ptm, predicted_aligned_error, distogram_logits, ...), and summary.csv
// (label, length, mean_plddt, ptm, seconds), written as each batch finishes. Resumable: a record whose files
// and summary row are there is not folded again. Bad records are skipped with their reason.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "esm_onnx/base/message.h"
#include "esm_onnx/base/record.h"
#include "esm_onnx/base/runtime_options.h"
#include "esm_onnx/engines/fold_model.h"

namespace esm_onnx {

struct FoldOptions {
  std::string model;   // the folding graph from convert
  std::string fasta;
  std::string outdir;
  // Where the summary rows go (and are read back from on a rerun); empty: OUTDIR/summary.csv. esm-onnx-ray's
  // workers fold their shards into one OUTDIR, each with a summary of its own.
  std::string summary_file;
  FoldRequest request;
  RuntimeOptions runtime;
  bool strict{false};
  int64_t read_ahead{kDefaultFoldReadAhead};

  void validate() const;
  std::string to_string() const;
  std::string summary_path() const;
};

struct FoldProgress {
  int64_t records_done{0};  // folded + already present + skipped
  int64_t records_seen{0};
  int64_t residues_done{0};
  double seconds{0};
};

struct FoldSummary {
  int64_t folded{0};
  int64_t already_present{0};
  std::vector<SkippedRecord> skipped;
  int64_t residues{0};  // folded this run (linkers included)
  int64_t batches{0};
  double seconds{0};
  double load_seconds{0};
  FoldTimings timings;  // summed over the batches
  std::string outdir;

  std::string to_json() const;
};

using FoldProgressFn = std::function<void(const FoldProgress&)>;
// Each record as it is written (the CLI's log line).
using FoldedFn = std::function<void(const FoldedStructure&)>;

// The file names the job writes beside the records.
inline constexpr const char* kFoldSummaryFile = "summary.csv";

// Throws for the model, the options, the FASTA as a whole or the output folder; bad records are reported
// through `message`, counted in the summary and skipped (unless options.strict: InputError).
FoldSummary fold_fasta(const FoldModel& model, const FoldOptions& options, const FoldProgressFn& progress = {},
                       const MessageFn& message = {}, const FoldedFn& folded = {});
FoldSummary fold_fasta(const FoldOptions& options, const FoldProgressFn& progress = {}, const MessageFn& message = {},
                       const FoldedFn& folded = {});

// The npz a folded record is written as (its arrays by name), for the job and the Python package.
std::string fold_npz_entries_text();

}  // namespace esm_onnx
