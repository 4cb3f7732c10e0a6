#pragma once
// `convert --verify`: a converted graph against the fp32 standard-op graph of the same checkpoint, on
// generated sequences, with the fidelity floor of its precision.
#include <cstdint>
#include <string>

#include "esm_onnx/engines/convert.h"
#include "esm_onnx/engines/model.h"

namespace esm_onnx {

struct VerifyOptions {
  int64_t sequences{24};   // generated, lengths 30..400, amino acids at natural frequencies
  int64_t fold_sequences{4};  // folding models: generated proteins of 30..120 residues (a fold costs far more)
  uint64_t seed{1};
  RuntimeOptions runtime{};  // how the candidate runs (engine, compute, threads); the reference runs on ONNX Runtime
};

struct VerifyReport {
  std::string precision;         // the candidate: its precision, and the engine and compute that ran it
  int64_t sequences{0};
  int64_t tokens{0};
  double max_abs_error{0};      // over every exported representation and the logits
  double min_mean_cosine{1};    // cosine of mean embeddings (last exported layer), worst record
  double argmax_agreement{1};   // share of positions whose logits argmax agrees
  // Models with a language-model head: masked-marginal scores of a generated scan (every substitution of 60
  // residues), reported beside the floor (not part of it).
  int64_t scored_mutants{0};
  double score_spearman{1};
  double score_max_abs_error{0};
  // Floors: fp32 max abs error <= 1e-4; bf16 compute cosine >= 0.9999 and argmax >= 0.99; fp16 cosine >= 0.999;
  // int8/int4 cosine >= 0.99 and argmax >= 0.95.
  // Folding models (ESMFold): the candidate's folds of generated proteins against the fp32 reference's.
  bool folding{false};
  double max_ca_rmsd{0};        // Angstrom, after superposition, worst protein
  double max_plddt_diff{0};     // 0-100 scale, worst residue
  double max_ptm_diff{0};
  bool passed{false};
  std::string floor;            // the floor, in words
  std::string to_string() const;
};

// Both models must come from the same checkpoint and export the same layers. Folding models are compared by their
// structures (options.fold_sequences generated proteins, recycles as the model's).
VerifyReport verify_against(const std::string& candidate, const std::string& reference, const VerifyOptions& options);

// Writes the fp32 standard-op reference of `converted` to a temporary folder beside the output, verifies
// the output against it, and removes the reference.
VerifyReport verify_conversion(const ConvertOptions& converted, const VerifyOptions& options, const MessageFn& message = {});

}  // namespace esm_onnx
