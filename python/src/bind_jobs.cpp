// The jobs half of the module: the embed job, convert, download, inspect and the CLI.
#include "binding.h"
#include "cli.h"
#include "engines/runtime/cpu_features.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/outputs.h"
#include "esm_onnx/base/traits.h"
#include "esm_onnx/engines/convert.h"
#include "esm_onnx/hub/download.h"
#include "esm_onnx/hub/model_cache.h"
#include "esm_onnx/jobs/inspect.h"
#include "formats/io/output_file.h"

namespace esm_onnx::python {

using namespace nb::literals;

void bind_jobs(nb::module_& m) {
  nb::class_<EmbedSummary>(m, "EmbedSummary")
      .def_ro("written", &EmbedSummary::written)
      .def_ro("already_present", &EmbedSummary::already_present)
      .def_ro("long_sequences", &EmbedSummary::long_sequences)
      .def_prop_ro("skipped",
                   [](const EmbedSummary& s) {
                     std::vector<std::tuple<std::string, int64_t, std::string>> out;
                     for (const auto& k : s.skipped) out.emplace_back(k.label, k.line, k.reason);
                     return out;
                   })
      .def_ro("tokens", &EmbedSummary::tokens)
      .def_ro("batches", &EmbedSummary::batches)
      .def_ro("seconds", &EmbedSummary::seconds)
      .def_ro("load_seconds", &EmbedSummary::load_seconds)
      .def_prop_ro("layers", [](const EmbedSummary& s) { return s.layers; })
      .def_prop_ro("outdir", [](const EmbedSummary& s) { return s.outdir; })
      .def_prop_ro("engine", [](const EmbedSummary& s) { return engine_dict(s.engine); })
      .def("to_json", &EmbedSummary::to_json, "The report `esm-onnx embed --json` prints, as a JSON string.")
      .def("__repr__", [](const EmbedSummary& s) {
        return "EmbedSummary(written=" + std::to_string(s.written) + ", already_present=" + std::to_string(s.already_present) +
               ", skipped=" + std::to_string(s.skipped.size()) + ", tokens=" + std::to_string(s.tokens) + ")";
      });

  m.def("embed_to_dir",
        [](const EmbedOptions& options, nb::object on_skip) {
          const MessageFn message = python_messages(on_skip);
          nb::gil_scoped_release release;
          return embed(options, {}, message);
        }, "options"_a, "on_skip"_a);

  m.def("convert",
        [](ConvertOptions options) {
          nb::gil_scoped_release release;
          // A released name or hub id is downloaded here, at the boundary.
          if (!options.checkpoint.empty()) options.checkpoint = resolve_checkpoint(options.checkpoint);
          convert(options);
          return read_model_info(options.output);
        }, "options"_a);

  m.def("download", [](const std::string& name, const std::string& dir, const std::string& revision) {
    DownloadOptions o;
    o.name = name;
    o.dir = dir;
    o.revision = revision;
    nb::gil_scoped_release release;
    return download(o).path;
  }, "name"_a, "dir"_a, "revision"_a);
  // The one model cache (esm_onnx/model_cache.h): the path to load and the notices to show (a damaged entry
  // converted again), collected while the GIL is released.
  m.def("cached_model", [](const std::string& location, const std::string& graph) {
    CacheRequest request;
    request.graph = parse_cached_graph(graph, "graph");
    std::vector<std::string> notices;
    request.notice = [&notices](const std::string& m) { notices.push_back(m); };
    std::string path;
    {
      nb::gil_scoped_release release;
      path = cached_model(location, request);
    }
    return std::make_pair(path, notices);
  }, "location"_a, "graph"_a);
  m.def("model_cache_root", &model_cache_root);
  // The one rule for every file written (io/output_file.h), for the files the Python layers write themselves.
  m.def("publish", &io::publish, "tmp"_a, "dest"_a, "what"_a);
  m.def("read_model_info", &read_model_info, nb::call_guard<nb::gil_scoped_release>(), "path"_a);
  // The engine options as the CLI checks them, without a model or this machine's CPU (a Ray driver checks the
  // workers' options): UsageError for an unknown name or for bf16 on ONNX Runtime.
  m.def("check_engine_options", [](const std::string& engine, const std::string& compute) {
    const Engine e = parse_engine(engine, "--engine");
    const Compute c = parse_compute(compute, "--compute");
    // Only the engines without a compute choice can refuse a compute without knowing the CPU.
    if (!engine_traits(e).bf16_compute) runtime::resolve_compute(e, c, runtime::CpuFeatures{});
  }, "engine"_a, "compute"_a);
  m.def("resolve_request",
        [](const ModelInfo& info, const std::string& path, const std::vector<std::string>& include,
           const std::vector<int64_t>& repr_layers) {
          return resolve_request(info, path, make_request(include, repr_layers, 1, 0, std::nullopt, Tiling{}));
        }, "info"_a, "path"_a, "include"_a, "repr_layers"_a);
  m.def("inspect_json", &inspect_json, nb::call_guard<nb::gil_scoped_release>(), "path"_a);

  // The CLI's exit codes (tools/esm-onnx/cli.h), for the Python front ends that exit the same way.
  nb::dict codes;
  codes["ok"] = cli::kOk;
  codes["error"] = cli::kError;
  codes["usage"] = cli::kUsage;
  codes["skipped"] = cli::kSkipped;
  codes["internal"] = cli::kInternal;
  m.attr("EXIT_CODES") = codes;
  m.def("cli_main", [](const std::vector<std::string>& argv) {
    std::vector<const char*> args;
    for (const auto& a : argv) args.push_back(a.c_str());
    nb::gil_scoped_release release;
    return cli::main(static_cast<int>(args.size()), args.data());
  }, "argv"_a);
}

}  // namespace esm_onnx::python
