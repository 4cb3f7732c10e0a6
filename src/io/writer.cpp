#include "esm_onnx/writer.h"

#include <fmt/format.h>

#include "esm_onnx/errors.h"
#include "io/writers.h"

namespace esm_onnx {

std::string OutputWriter::check_label(const std::string& label) const {
  // Labels name files (as in esm-extract); they must stay inside the output folder.
  if (label.empty()) return "empty label";
  if (label.find('\0') != std::string::npos) {
    return "the label contains a NUL byte, which no file name can hold (it would be cut there)";
  }
  if (label[0] == '/') return "the label starts with '/', which would write outside the output folder";
  std::size_t start = 0;
  while (start <= label.size()) {
    const auto end = label.find('/', start);
    const auto part = label.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part == "..") return "the label contains '..', which would write outside the output folder";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return {};
}

std::unique_ptr<OutputWriter> make_writer(OutputFormat format, const std::string& outdir) {
  switch (format) {
    case OutputFormat::Npz: return make_npz_writer(outdir);
    case OutputFormat::Pt: return make_pt_writer(outdir);
    case OutputFormat::H5: return make_h5_writer(outdir);
  }
  throw UsageError("unknown output format");
}

}  // namespace esm_onnx
