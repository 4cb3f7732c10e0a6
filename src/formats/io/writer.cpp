#include "esm_onnx/formats/writer.h"

#include <fmt/format.h>

#include "esm_onnx/base/errors.h"
#include "formats/io/label_names.h"
#include "formats/io/writers.h"

namespace esm_onnx {

std::string OutputWriter::check_label(const std::string& label) const { return label_path_problem(label); }

std::unique_ptr<OutputWriter> make_writer(OutputFormat format, const std::string& outdir) {
  switch (format) {
    case OutputFormat::Npz: return make_npz_writer(outdir);
    case OutputFormat::Pt: return make_pt_writer(outdir);
    case OutputFormat::H5: return make_h5_writer(outdir);
  }
  throw InternalError("an output format outside the table");
}

}  // namespace esm_onnx
