#pragma once
// A one-line progress bar for terminals: records, tokens/s, ETA.
#include <cstdint>
#include <string>

#include "esm_onnx/embed.h"

namespace esm_onnx::cli {

class ProgressBar {
 public:
  ProgressBar(int64_t total_records, bool enabled) : total_(total_records), enabled_(enabled) {}
  void update(const EmbedProgress& p);
  void finish();

 private:
  int64_t total_;
  bool enabled_;
  double last_{-1};
  bool drawn_{false};
};

// Records in a FASTA file (lines starting with '>'), for the bar's total; cheap next to inference.
int64_t count_fasta_records(const std::string& path);

}  // namespace esm_onnx::cli
