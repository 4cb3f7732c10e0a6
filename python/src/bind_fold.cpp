// ESMFold: the FoldRequest, a loaded FoldModel (fold in memory), its results, and the fold job.
#include <nanobind/stl/function.h>
#include <nanobind/stl/map.h>

#include "binding.h"
#include "esm_onnx/engines/fold_model.h"
#include "esm_onnx/engines/model.h"
#include "esm_onnx/jobs/fold.h"
#include "engines/runtime/onnx_header.h"

namespace esm_onnx::python {

using namespace nb::literals;

namespace {

nb::object int_array(const std::vector<int64_t>& v) {
  auto* owner = new std::vector<int64_t>(v);
  nb::capsule c(owner, [](void* p) noexcept { delete static_cast<std::vector<int64_t>*>(p); });
  const std::size_t shape[1] = {owner->size()};
  return nb::cast(nb::ndarray<nb::numpy, int64_t>(owner->data(), 1, shape, c));
}

}  // namespace

void bind_fold(nb::module_& m) {
  nb::class_<FoldRequest>(m, "FoldRequest")
      .def(nb::init<>())
      .def_rw("num_recycles", &FoldRequest::num_recycles)
      .def_rw("chunk_size", &FoldRequest::chunk_size)
      .def_rw("max_tokens_per_batch", &FoldRequest::max_tokens_per_batch)
      .def_rw("residue_index_offset", &FoldRequest::residue_index_offset)
      .def_rw("chain_linker", &FoldRequest::chain_linker)
      .def("validate", &FoldRequest::validate)
      .def("__repr__", &FoldRequest::to_string);

  nb::class_<FoldedStructure>(m, "FoldedStructure")
      .def_ro("label", &FoldedStructure::label)
      .def_ro("index", &FoldedStructure::index)
      .def_ro("length", &FoldedStructure::length)
      .def_prop_ro("positions", [](const FoldedStructure& f) { return to_numpy(FloatArray(f.positions)); })
      .def_prop_ro("atom_mask", [](const FoldedStructure& f) { return to_numpy(FloatArray(f.atom_mask)); })
      .def_prop_ro("plddt", [](const FoldedStructure& f) { return to_numpy(FloatArray(f.plddt)); })
      .def_prop_ro("plddt_atoms", [](const FoldedStructure& f) { return to_numpy(FloatArray(f.plddt_atoms)); })
      .def_prop_ro("predicted_aligned_error", [](const FoldedStructure& f) { return to_numpy(FloatArray(f.predicted_aligned_error)); })
      .def_prop_ro("distogram_logits", [](const FoldedStructure& f) { return to_numpy(FloatArray(f.distogram_logits)); })
      .def_prop_ro("residue_index", [](const FoldedStructure& f) { return int_array(f.residue_index); })
      .def_prop_ro("chain_index", [](const FoldedStructure& f) { return int_array(f.chain_index); })
      .def_prop_ro("aatype", [](const FoldedStructure& f) { return int_array(f.aatype); })
      .def_ro("mean_plddt", &FoldedStructure::mean_plddt)
      .def_ro("ptm", &FoldedStructure::ptm)
      .def_ro("max_predicted_aligned_error", &FoldedStructure::max_predicted_aligned_error)
      .def_ro("pdb", &FoldedStructure::pdb)
      .def_ro("seconds", &FoldedStructure::seconds)
      .def("__repr__", [](const FoldedStructure& f) {
        return "FoldedStructure(label=" + f.label + ", length=" + std::to_string(f.length) +
               ", mean_plddt=" + std::to_string(f.mean_plddt) + ", ptm=" + std::to_string(f.ptm) + ")";
      });

  nb::class_<FoldSummary>(m, "FoldSummary")
      .def_ro("folded", &FoldSummary::folded)
      .def_ro("already_present", &FoldSummary::already_present)
      .def_prop_ro("skipped", [](const FoldSummary& s) {
        std::vector<std::tuple<std::string, int64_t, std::string>> out;
        for (const auto& k : s.skipped) out.emplace_back(k.label, k.line, k.reason);
        return out;
      })
      .def_ro("residues", &FoldSummary::residues)
      .def_ro("batches", &FoldSummary::batches)
      .def_ro("seconds", &FoldSummary::seconds)
      .def_ro("load_seconds", &FoldSummary::load_seconds)
      .def_ro("outdir", &FoldSummary::outdir)
      .def("to_json", &FoldSummary::to_json);

  nb::class_<FoldModel>(m, "FoldModel")
      .def(
          "__init__",
          [](FoldModel* self, const std::string& path, const RuntimeOptions& options) {
            nb::gil_scoped_release release;
            new (self) FoldModel(path, options);
          },
          "path"_a, "options"_a = RuntimeOptions())
      .def_prop_ro("path", &FoldModel::path)
      .def_prop_ro("stem_path", &FoldModel::stem_path)
      .def_prop_ro("load_seconds", &FoldModel::load_seconds)
      .def_prop_ro("config", [](const FoldModel& self) { return self.info().config.to_json(); })
      .def("fold",
           [](const FoldModel& self, std::vector<std::string> labels, std::vector<std::string> sequences,
              const FoldRequest& request) {
             std::vector<SequenceRecord> records(sequences.size());
             for (std::size_t i = 0; i < records.size(); ++i) {
               records[i].label = std::move(labels[i]);
               records[i].sequence = std::move(sequences[i]);
               records[i].index = static_cast<int64_t>(i);
             }
             nb::gil_scoped_release release;
             return self.fold(records, request);
           }, "labels"_a, "sequences"_a, "request"_a)
      .def("fold_fasta",
           [](const FoldModel& self, const FoldOptions& options, nb::object on_skip) {
             const MessageFn message = python_messages(on_skip);
             nb::gil_scoped_release release;
             return fold_fasta(self, options, {}, message);
           }, "options"_a, "on_skip"_a);

  nb::class_<FoldOptions>(m, "FoldOptions")
      .def(nb::init<>())
      .def_rw("model", &FoldOptions::model)
      .def_rw("fasta", &FoldOptions::fasta)
      .def_rw("outdir", &FoldOptions::outdir)
      .def_rw("summary_file", &FoldOptions::summary_file)
      .def_rw("request", &FoldOptions::request)
      .def_rw("runtime", &FoldOptions::runtime)
      .def_rw("strict", &FoldOptions::strict)
      .def_rw("read_ahead", &FoldOptions::read_ahead);

  // Whether an .onnx is a folding model (its metadata only).
  m.def("is_fold_model", [](const std::string& path) {
    return FoldModelInfo::is_fold(runtime::read_onnx_header(path).metadata);
  }, "path"_a);
}

}  // namespace esm_onnx::python
