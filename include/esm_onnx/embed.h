#pragma once
// `esm-onnx embed`: the esm-extract job over a FASTA file with ONNX Runtime.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace esm_onnx {

struct EmbedOptions {
  std::string model;   // .onnx written by convert
  std::string fasta;
  std::string outdir;
  std::vector<std::string> include{"mean"};  // any of: mean per_tok bos contacts logits
  std::vector<std::string> repr_layers;      // fair-esm numbering; empty = every exported layer
  int64_t toks_per_batch{1024};             // esm-extract uses 4096; smaller batches stay in cache
  int64_t truncation_seq_length{1022};       // residues kept per record; 0 = no truncation
  std::string format{"npz"};                 // npz, pt, h5
  int threads{0};                            // 0 = ONNX Runtime's default
  std::string device{"cpu"};                 // cpu or cuda
  bool strict{false};                        // stop at the first bad record
  int64_t window{20000};                     // records read, sorted and batched together

  void validate() const;
  std::string to_string() const;
};

struct EmbedProgress {
  int64_t records_done{0};  // written + already present + skipped
  int64_t records_seen{0};  // read from the FASTA so far
  int64_t tokens_done{0};
  int64_t skipped{0};
  bool input_finished{false};
  double seconds{0};
};

struct SkippedRecord {
  std::string label;
  int64_t line{0};
  std::string reason;
};

struct EmbedSummary {
  int64_t written{0};
  int64_t already_present{0};  // outputs found from an earlier run, left as they were
  std::vector<SkippedRecord> skipped;
  int64_t tokens{0};
  int64_t batches{0};
  double seconds{0};
  double load_seconds{0};      // of `seconds`: creating the ONNX Runtime session
  std::vector<int64_t> layers;
  std::string outdir;
};

using ProgressFn = std::function<void(const EmbedProgress&)>;
using MessageFn = std::function<void(const std::string&)>;

// Throws for problems with the model, the options or the FASTA as a whole; bad records are
// reported through `message`, counted in the summary, and skipped (unless options.strict).
EmbedSummary embed(const EmbedOptions& options, const ProgressFn& progress = {}, const MessageFn& message = {});

}  // namespace esm_onnx
