// The type conversions between the library and Python.
#include "binding.h"
#include "esm_onnx/outputs.h"

namespace esm_onnx::python {

// Hands a FloatArray's buffer to numpy without copying it: the array owns the moved vector.
nb::object to_numpy(FloatArray&& a) {
  auto* owned = new std::vector<float>(std::move(a.data));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  std::vector<size_t> shape(a.shape.begin(), a.shape.end());
  return nb::cast(nb::ndarray<nb::numpy, float>(owned->data(), shape.size(), shape.data(), owner));
}

nb::object to_numpy(std::optional<FloatArray>&& a) { return a ? to_numpy(std::move(*a)) : nb::none(); }

Embedding Embedding::from(RecordOutput&& r) {
  Embedding e;
  e.label = std::move(r.label);
  e.index = r.index;
  e.length = r.length;
  for (const auto& spec : output_specs()) {
    const nb::str name(spec.name.data(), spec.name.size());
    if (spec.per_layer) e.outputs[name] = nb::dict();
    else e.outputs[name] = nb::none();
  }
  for (auto& a : r.arrays) {
    const auto& spec = output_spec(a.output);
    const nb::str name(spec.name.data(), spec.name.size());
    if (spec.per_layer) nb::cast<nb::dict>(e.outputs[name])[nb::int_(a.layer)] = to_numpy(std::move(a.array));
    else e.outputs[name] = to_numpy(std::move(a.array));
  }
  return e;
}

EmbedRequest make_request(const std::vector<std::string>& include, const std::vector<int64_t>& repr_layers,
                          int64_t toks_per_batch, int64_t truncation_seq_length) {
  EmbedRequest r;
  r.include = Includes::parse(include, "include");
  r.repr_layers = repr_layers;
  r.toks_per_batch = toks_per_batch;
  r.truncation_seq_length = truncation_seq_length;
  r.validate();
  return r;
}

// The runtime options as the Python API spells them; every text parsed here once.
RuntimeOptions runtime_options(int threads, const std::string& device, const std::string& engine, const std::string& compute,
                               const std::string& cache_dir, bool cache) {
  RuntimeOptions o;
  o.threads = threads;
  o.device = parse_device(device, "device");
  o.engine = parse_engine(engine, "engine");
  o.compute = parse_compute(compute, "compute");
  o.cache_dir = cache_dir;
  o.cache = cache;
  return o;
}

nb::dict engine_dict(const EngineInfo& e) {
  nb::dict d;
  d["engine"] = engine_name(e.engine);
  d["version"] = e.version;
  d["compute"] = compute_name(e.compute);
  d["cache_dir"] = e.cache_dir.empty() ? nb::none() : nb::cast(e.cache_dir);
  d["from_cache"] = e.from_cache;
  return d;
}

EmbedOptions job_options(const std::string& fasta, const std::string& outdir, const std::vector<std::string>& include,
                         const std::vector<std::string>& repr_layers, const std::string& format, int64_t toks_per_batch,
                         int64_t truncation_seq_length, bool strict, int64_t window) {
  EmbedOptions o;
  o.fasta = fasta;
  o.outdir = outdir;
  o.request.include = Includes::parse(include, "include");
  o.repr_layers = repr_layers;
  o.format = parse_output_format(format, "format");
  o.request.toks_per_batch = toks_per_batch;
  o.request.truncation_seq_length = truncation_seq_length;
  o.stream.strict = strict;
  o.stream.window = window;
  return o;
}

// The job's messages (skipped records, notes) handed to a Python callable, from whatever thread.
MessageFn python_messages(nb::object callback) {
  if (callback.is_none()) return {};
  return [callback](const std::string& msg) {
    nb::gil_scoped_acquire acquire;
    callback(msg);
  };
}

}  // namespace esm_onnx::python
