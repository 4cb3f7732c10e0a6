// The option structs as Python classes: built from keywords (text parsed once, here), checked by the
// library's own validate(), shown by its to_string(). The package builds these and hands them to the calls.
#include "binding.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/outputs.h"
#include "esm_onnx/base/tiles.h"
#include "esm_onnx/engines/convert.h"

#include <fmt/format.h>
#include <nanobind/operators.h>

namespace esm_onnx::python {

using namespace nb::literals;

namespace {

GraphOutputs on_request_outputs(const std::vector<std::string>& names) {
  GraphOutputs out;
  for (const auto& name : names) {
    bool known = false;
    for (const auto& g : graph_output_specs()) {
      if (g.convert == ConvertRule::OnRequest && g.name == name) {
        out.set(g.id);
        known = true;
      }
    }
    if (!known) throw UsageError("convert: '" + name + "' is not an output built on request (attentions)");
  }
  return out;
}

}  // namespace

void bind_options(nb::module_& m) {
  m.attr("MAX_THREADS") = kMaxThreads;
  nb::class_<RuntimeOptions>(m, "RuntimeOptions")
      .def(
          "__init__",
          [](RuntimeOptions* self, int threads, const std::string& device, const std::string& engine,
             const std::string& compute, const std::string& cache_dir, bool cache) {
            RuntimeOptions o;
            o.threads = threads;
            o.device = parse_device(device, "device");
            o.engine = parse_engine(engine, "engine");
            o.compute = parse_compute(compute, "compute");
            o.cache_dir = cache_dir;
            o.cache = cache;
            o.validate();
            new (self) RuntimeOptions(std::move(o));
          },
          // The keyword defaults are the struct's own (RuntimeOptions{}), shown in the .pyi.
          "threads"_a = RuntimeOptions{}.threads, "device"_a = device_name(RuntimeOptions{}.device),
          "engine"_a = engine_name(RuntimeOptions{}.engine), "compute"_a = compute_name(RuntimeOptions{}.compute),
          "cache_dir"_a = RuntimeOptions{}.cache_dir, "cache"_a = RuntimeOptions{}.cache)
      .def_ro("threads", &RuntimeOptions::threads)
      .def_prop_ro("device", [](const RuntimeOptions& o) { return std::string(device_name(o.device)); })
      .def_prop_ro("engine", [](const RuntimeOptions& o) { return std::string(engine_name(o.engine)); })
      .def_prop_ro("compute", [](const RuntimeOptions& o) { return std::string(compute_name(o.compute)); })
      .def_ro("cache_dir", &RuntimeOptions::cache_dir)
      .def_ro("cache", &RuntimeOptions::cache)
      .def("validate", &RuntimeOptions::validate)
      .def("__repr__", [](const RuntimeOptions& o) { return "RuntimeOptions(" + o.to_string() + ")"; });

  // Tiling, passed whole by every call that tiles: length None is the model's (0 in C++).
  nb::class_<Tiling>(m, "Tiling")
      .def(
          "__init__",
          [](Tiling* self, std::optional<int64_t> length, int64_t min_overlap, double sharpness) {
            Tiling t{.length = length.value_or(0), .min_overlap = min_overlap, .sharpness = sharpness};
            t.validate();
            new (self) Tiling(t);
          },
          "length"_a = nb::none(), "min_overlap"_a = kDefaultTileOverlap, "sharpness"_a = kDefaultTileSharpness)
      .def_prop_ro("length", [](const Tiling& t) { return t.length == 0 ? std::nullopt : std::optional<int64_t>(t.length); })
      .def_ro("min_overlap", &Tiling::min_overlap)
      .def_ro("sharpness", &Tiling::sharpness)
      .def(nb::self == nb::self)
      .def("__repr__", [](const Tiling& t) {
        return fmt::format("Tiling(length={}, min_overlap={}, sharpness={})",
                           t.length == 0 ? std::string("None") : std::to_string(t.length), t.min_overlap, t.sharpness);
      });

  nb::class_<EmbedRequest>(m, "EmbedRequest")
      .def(
          "__init__",
          [](EmbedRequest* self, const std::vector<std::string>& include, const std::vector<int64_t>& repr_layers,
             int64_t toks_per_batch, std::optional<int64_t> truncation_seq_length,
             const std::optional<std::string>& long_sequences, const Tiling& tiling) {
            new (self) EmbedRequest(make_request(include, repr_layers, toks_per_batch, truncation_seq_length,
                                                 long_sequences, tiling));
          },
          "include"_a, "repr_layers"_a, "toks_per_batch"_a = kDefaultToksPerBatch,
          "truncation_seq_length"_a = nb::none(), "long_sequences"_a = nb::none(), "tiling"_a.sig("Tiling()") = Tiling{})
      .def_prop_ro("include", [](const EmbedRequest& r) { return r.include.names(); })
      .def_ro("repr_layers", &EmbedRequest::repr_layers)
      .def_ro("toks_per_batch", &EmbedRequest::toks_per_batch)
      .def_ro("truncation_seq_length", &EmbedRequest::truncation_seq_length)
      .def_ro("tiling", &EmbedRequest::tiling)
      .def_prop_ro("long_sequences", [](const EmbedRequest& r) -> std::optional<std::string> {
        if (!r.long_sequences) return std::nullopt;
        return std::string(long_sequences_name(*r.long_sequences));
      })
      .def("validate", &EmbedRequest::validate)
      .def("__repr__", [](const EmbedRequest& r) { return "EmbedRequest(" + r.to_string() + ")"; });

  nb::class_<EmbedOptions>(m, "EmbedOptions")
      .def(
          "__init__",
          [](EmbedOptions* self, const std::string& model, const std::string& fasta, const std::string& outdir,
             const EmbedRequest& request, const std::vector<std::string>& repr_layers, const std::string& format,
             const RuntimeOptions& runtime, bool strict, int64_t read_ahead) {
            EmbedOptions o;
            o.model = model;
            o.fasta = fasta;
            o.outdir = outdir;
            o.request = request;
            o.repr_layers = repr_layers;
            o.format = parse_output_format(format, "format");
            o.runtime = runtime;
            o.stream.strict = strict;
            o.stream.read_ahead = read_ahead;
            o.validate();
            new (self) EmbedOptions(std::move(o));
          },
          "model"_a, "fasta"_a, "outdir"_a, "request"_a, "repr_layers"_a, "format"_a = format_name(kDefaultFormat), "runtime"_a = RuntimeOptions(),
          "strict"_a = false, "read_ahead"_a = kDefaultReadAhead)
      .def_ro("model", &EmbedOptions::model)
      .def_ro("fasta", &EmbedOptions::fasta)
      .def_ro("outdir", &EmbedOptions::outdir)
      .def_ro("request", &EmbedOptions::request)
      .def_prop_ro("format", [](const EmbedOptions& o) { return std::string(format_name(o.format)); })
      .def_ro("runtime", &EmbedOptions::runtime)
      .def_prop_ro("strict", [](const EmbedOptions& o) { return o.stream.strict; })
      .def_prop_ro("read_ahead", [](const EmbedOptions& o) { return o.stream.read_ahead; })
      .def("validate", &EmbedOptions::validate)
      .def("__repr__", [](const EmbedOptions& o) { return "EmbedOptions(" + o.to_string() + ")"; });

  nb::class_<ConvertOptions>(m, "ConvertOptions")
      .def(
          "__init__",
          [](ConvertOptions* self, const std::string& checkpoint, const std::string& output,
             const std::vector<std::string>& repr_layers, const std::string& precision, bool contacts,
             const std::vector<std::string>& on_request, bool optimize, int64_t int4_block, const std::string& engine) {
            ConvertOptions o;
            o.checkpoint = checkpoint;
            o.output = output;
            o.repr_layers = repr_layers;
            o.precision = parse_precision(precision, "precision");
            o.contacts = contacts;
            o.on_request = on_request_outputs(on_request);
            o.optimize = optimize;
            o.int4_block = int4_block;
            o.engine = parse_engine(engine, "engine");
            new (self) ConvertOptions(std::move(o));
          },
          "checkpoint"_a, "output"_a, "repr_layers"_a, "precision"_a = precision_name(ConvertOptions{}.precision),
          "contacts"_a = ConvertOptions{}.contacts, "on_request"_a = std::vector<std::string>{},
          "optimize"_a = ConvertOptions{}.optimize, "int4_block"_a = ConvertOptions{}.int4_block,
          "engine"_a = engine_name(ConvertOptions{}.engine))
      .def_ro("checkpoint", &ConvertOptions::checkpoint)
      .def_ro("output", &ConvertOptions::output)
      .def_prop_ro("precision", [](const ConvertOptions& o) { return std::string(precision_name(o.precision)); })
      .def_prop_ro("engine", [](const ConvertOptions& o) { return std::string(engine_name(o.engine)); })
      .def("validate", &ConvertOptions::validate)
      .def("__repr__", [](const ConvertOptions& o) { return "ConvertOptions(" + o.to_string() + ")"; });
}

}  // namespace esm_onnx::python
