#include "esm_onnx/writer.h"

#include <fmt/format.h>

#include "esm_onnx/errors.h"
#include "io/label_names.h"
#include "io/writers.h"

namespace esm_onnx {

std::string OutputWriter::check_label(const std::string& label) const {
  // Labels name files (as in esm-extract). The map from labels to files must be one-to-one and stay inside the
  // output folder, outside its scratch area: a label that names its file in other words than the plain one
  // ("./x", "p//q", "p/./q", "p/") would overwrite the record the plain label names, so it is refused.
  if (label.empty()) return "empty label";
  if (label.find('\0') != std::string::npos) {
    return "the label contains a NUL byte, which no file name can hold (it would be cut there)";
  }
  if (label[0] == '/') return "the label starts with '/', which would write outside the output folder";
  std::size_t start = 0;
  bool first = true;
  while (start <= label.size()) {
    const auto end = label.find('/', start);
    const auto part = label.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part == "..") return "the label contains '..', which would write outside the output folder";
    if (part.empty() || part == ".") {
      return "the label names its file with an empty or '.' path part ('//', '/./', a leading './' or a trailing "
             "'/'), so it would share the file of the label written without it; write the label plainly";
    }
    if (first && end != std::string::npos && part == ".partial") {
      return "the label starts with '.partial/', the output folder's area for unfinished files";
    }
    if (end == std::string::npos) {
      if (label_name_is_reserved(part)) {
        return "the label ends in '~' and 16 hex digits, the form of the names long labels are shortened to";
      }
      break;
    }
    first = false;
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
