#pragma once
// The embed job (`esm-onnx embed`, `esm_onnx.embed_to_dir`): esm-extract over a FASTA file, one output
// per record written to a folder, resumable, bad records skipped and reported.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "esm_onnx/base/message.h"
#include "esm_onnx/base/options.h"
#include "esm_onnx/base/record.h"
#include "esm_onnx/engines/model.h"

namespace esm_onnx {

struct EmbedOptions {
  std::string model;   // .onnx written by convert
  std::string fasta;
  std::string outdir;
  // What to compute and how to batch it; its repr_layers are resolved from `repr_layers` on the model.
  EmbedRequest request;
  std::vector<std::string> repr_layers;  // fair-esm numbering, negatives, "all"; empty = every exported layer
  OutputFormat format{kDefaultFormat};
  RuntimeOptions runtime;
  StreamSettings stream;  // strict, window

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

struct EmbedSummary {
  int64_t written{0};
  int64_t already_present{0};  // outputs found from an earlier run, left as they were
  std::vector<SkippedRecord> skipped;
  int64_t tokens{0};
  int64_t batches{0};
  double seconds{0};
  double load_seconds{0};      // of `seconds`: reading and compiling the model
  EngineInfo engine;           // what ran it: engine, release, compute, cache
  std::vector<int64_t> layers;
  std::string outdir;
  std::string long_sequences;  // what long records got: "truncate at 1022 residues", "tile (1022-residue tiles, ...)"
  OutputFormat format{kDefaultFormat};

  // The report `embed --json` prints and Python's EmbedSummary.to_json() returns: one builder for both.
  std::string to_json() const;
};

using ProgressFn = std::function<void(const EmbedProgress&)>;

// Throws for problems with the model, the options, the FASTA as a whole or the output folder; bad
// records are reported through `message`, counted in the summary, and skipped (unless options.strict).
EmbedSummary embed(const EmbedOptions& options, const ProgressFn& progress = {}, const MessageFn& message = {});
// The same with a model already loaded (options.model and options.runtime are not used): a worker that
// embeds many files loads its model once.
EmbedSummary embed(const Model& model, const EmbedOptions& options, const ProgressFn& progress = {},
                   const MessageFn& message = {});

}  // namespace esm_onnx
