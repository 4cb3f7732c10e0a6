#pragma once
// Per-record outputs and the writers for them: npz (one file per record), pt (esm-extract's exact
// dict, loadable by torch.load) and h5 (one file, a group per record).
#include <memory>
#include <cstdint>
#include <string>
#include <vector>

#include "esm_onnx/base/options.h"
#include "esm_onnx/base/record.h"

namespace esm_onnx {

class OutputWriter {
 public:
  virtual ~OutputWriter() = default;
  // True when a complete output for `label` is already there (a resumed run skips it).
  virtual bool exists(const std::string& label) const = 0;
  // Writes one record; a file is only visible once complete.
  virtual void write(const RecordOutput& record) = 0;
  virtual void close() {}
  // Where `label` goes, for messages.
  virtual std::string location(const std::string& label) const = 0;
  // Whether `label` can be stored; empty when fine, else the reason.
  virtual std::string check_label(const std::string& label) const;
};

std::unique_ptr<OutputWriter> make_writer(OutputFormat format, const std::string& outdir);

// The .npy bytes (format 1.0, little-endian float32) of an array.
std::string npy_bytes(const FloatArray& array);
// The .npy bytes (little-endian int64) of an integer array.
std::string npy_int64_bytes(const std::vector<int64_t>& shape, const std::vector<int64_t>& data);
// The .npy bytes of a text as a numpy bytes scalar (dtype |S<n>).
std::string npy_text_bytes(const std::string& text);

}  // namespace esm_onnx
