// The type conversions between the library and Python.
#include "binding.h"
#include "esm_onnx/base/outputs.h"

namespace esm_onnx::python {

// Hands a FloatArray's buffer to numpy without copying it: the array owns the moved vector.
nb::object to_numpy(FloatArray&& a) {
  auto* owned = new std::vector<float>(std::move(a.data));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  std::vector<size_t> shape(a.shape.begin(), a.shape.end());
  return nb::cast(nb::ndarray<nb::numpy, float>(owned->data(), shape.size(), shape.data(), owner));
}


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
                          int64_t toks_per_batch, std::optional<int64_t> truncation_seq_length,
                          const std::optional<std::string>& long_sequences, const Tiling& tiling) {
  EmbedRequest r;
  r.include = Includes::parse(include, "include");
  r.repr_layers = repr_layers;
  r.toks_per_batch = toks_per_batch;
  r.truncation_seq_length = truncation_seq_length;
  if (long_sequences) r.long_sequences = parse_long_sequences(*long_sequences, "long_sequences");
  r.tiling = tiling;
  r.validate();
  return r;
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

// The job's messages (skipped records, notes) handed to a Python callable, from whatever thread.
MessageFn python_messages(nb::object callback) {
  if (callback.is_none()) return {};
  // The kind by name ("skipped", "notice"): Python picks the warning class from it, not from the wording.
  return [callback](const Message& msg) {
    nb::gil_scoped_acquire acquire;
    callback(message_kind_name(msg.kind), msg.text);
  };
}

}  // namespace esm_onnx::python
