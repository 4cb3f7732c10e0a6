#pragma once
// One record's outputs as a small binary file of our own, for staging: written under a temporary name and
// renamed, so a file that exists is complete. Read back with every length checked against the file.
#include <string>
#include <vector>

#include "esm_onnx/base/record.h"

namespace esm_onnx {

struct StagedArray {
  std::string name;  // "representations/4", "mean_representations/4", "contacts", "logits", ...
  FloatArray array;
};

struct StagedRecord {
  std::string label;
  int64_t length{0};
  std::vector<StagedArray> arrays;
};

// The arrays of `record` under the names the npz and h5 outputs use.
StagedRecord staged_from(const RecordOutput& record);
// Writes `path` (via "<path>.tmp" and a rename); throws FileError naming the file when it cannot.
void write_staged(const StagedRecord& record, const std::string& path);
// The label stored in `path` (reads only its header); FormatError when the file is not a staged record.
std::string read_staged_label(const std::string& path);
StagedRecord read_staged(const std::string& path);

}  // namespace esm_onnx
