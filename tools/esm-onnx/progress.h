#pragma once
// A one-line progress bar for terminals: records, tokens/s, ETA.
#include <cstdint>
#include <string>

#include "esm_onnx/jobs/embed.h"

namespace esm_onnx::cli {

class ProgressBar {
 public:
  ProgressBar(int64_t total_records, bool enabled, std::string unit = "records")
      : total_(total_records), enabled_(enabled), unit_(std::move(unit)) {}
  void update(const EmbedProgress& p);
  void set_total(int64_t total) { total_ = total; }
  void finish();

 private:
  int64_t total_;
  bool enabled_;
  std::string unit_;
  double last_{-1};
  bool drawn_{false};
};

// Records in a FASTA file (lines starting with '>'), for the bar's total; cheap next to inference.
int64_t count_fasta_records(const std::string& path);

}  // namespace esm_onnx::cli
