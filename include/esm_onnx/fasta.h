#pragma once
// A streaming FASTA reader with fair-esm's conventions: the label is the header line after '>'
// (trimmed; "seqnum<line>" when empty), sequence lines are trimmed and joined.
#include <cstdint>
#include <fstream>
#include <string>

#include "esm_onnx/record.h"

namespace esm_onnx {

using FastaRecord = SequenceRecord;

class FastaReader {
 public:
  // Throws UsageError if the file cannot be opened, InputError if it is empty or does not start
  // with a '>' header.
  explicit FastaReader(const std::string& path);
  // Next record, or false at the end of the file.
  bool next(FastaRecord& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  std::string pending_header_;
  int64_t pending_line_{0};
  int64_t line_no_{0};
  int64_t count_{0};
  bool done_{false};
};

}  // namespace esm_onnx
