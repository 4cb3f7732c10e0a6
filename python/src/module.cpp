// esm_onnx._core: the library's API for Python. The public, documented API is the Python layer in
// esm_onnx/__init__.py; this module converts types and releases the GIL while C++ runs.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <iterator>
#include <mutex>
#include <thread>
#include <utility>

#include "cli.h"
#include "esm_onnx/convert.h"
#include "esm_onnx/download.h"
#include "esm_onnx/embed.h"
#include "esm_onnx/errors.h"
#include "esm_onnx/inspect.h"
#include "esm_onnx/layers.h"
#include "esm_onnx/model.h"
#include "runtime/cpu_features.h"

namespace nb = nanobind;
using namespace nb::literals;
using namespace esm_onnx;

namespace {

// The Python classes our C++ errors become; set once by esm_onnx/__init__.py.
struct PyErrors {
  nb::object base, usage, format, unsupported, input, file, runtime;
} g_errors;

void translate(const std::exception_ptr& p, void*) {
  auto raise = [](const nb::object& cls, const char* msg) {
    PyErr_SetString(cls.is_valid() ? cls.ptr() : PyExc_RuntimeError, msg);
  };
  try {
    std::rethrow_exception(p);
  } catch (const UsageError& e) {
    raise(g_errors.usage, e.what());
  } catch (const FormatError& e) {
    raise(g_errors.format, e.what());
  } catch (const UnsupportedError& e) {
    raise(g_errors.unsupported, e.what());
  } catch (const InputError& e) {
    raise(g_errors.input, e.what());
  } catch (const FileError& e) {
    raise(g_errors.file, e.what());
  } catch (const RuntimeFailure& e) {
    raise(g_errors.runtime, e.what());
  } catch (const Error& e) {
    raise(g_errors.base, e.what());
  } catch (const std::bad_alloc&) {
    throw;  // nanobind's MemoryError
  } catch (const std::exception& e) {
    // Not one of ours: still an esm_onnx.Error, as the API promises, saying it is a bug to report.
    raise(g_errors.base, (std::string("internal error: ") + e.what() + " (please report it)").c_str());
  }
}

// Hands a FloatArray's buffer to numpy without copying it: the array owns the moved vector.
nb::object to_numpy(FloatArray&& a) {
  auto* owned = new std::vector<float>(std::move(a.data));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  std::vector<size_t> shape(a.shape.begin(), a.shape.end());
  return nb::cast(nb::ndarray<nb::numpy, float>(owned->data(), shape.size(), shape.data(), owner));
}

nb::object to_numpy(std::optional<FloatArray>&& a) { return a ? to_numpy(std::move(*a)) : nb::none(); }

// One record's outputs, enumerated from the output registry: `outputs[name]` is a {layer: array} dict for a
// per-layer output (empty when not asked for), else an array or None. The Python class reads it by attribute.
struct Embedding {
  std::string label;
  int64_t index{0};
  int64_t length{0};
  nb::dict outputs;

  static Embedding from(RecordOutput&& r) {
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
};

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

// Iterates over a FASTA file's embeddings. A worker thread computes the next batch while Python handles
// the current one (the GIL is not needed for that); at most one computed batch waits, so memory stays
// bounded by the batch.
class FastaEmbeddings {
 public:
  FastaEmbeddings(nb::object model_owner, const Model& model, const std::string& path, const EmbedRequest& request,
                  bool strict, int64_t window)
      : owner_(std::move(model_owner)), source_(fasta_source(path)) {
    StreamOptions so;
    so.strict = strict;
    so.window = window;
    stream_ = std::make_unique<EmbedStream>(model, *source_, request, std::move(so));
  }

  ~FastaEmbeddings() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) {
      nb::gil_scoped_release release;  // the worker may be finishing a batch
      worker_.join();
    }
  }

  Embedding next() {
    std::unique_lock use(use_mu_, std::try_to_lock);
    if (!use) throw UsageError("embed_fasta: this iterator is being advanced by another thread; use one iterator per thread");
    if (buffer_.empty()) {
      {
        nb::gil_scoped_release release;
        std::unique_lock lock(mu_);
        if (!worker_.joinable()) worker_ = std::thread([this] { work(); });
        cv_.wait(lock, [&] { return !ready_.empty() || finished_; });
        if (!ready_.empty()) {
          for (auto& r : ready_.front()) buffer_.push_back(std::move(r));
          ready_.pop_front();
        }
        // Only what is new moves over: a file with many bad records must not cost a copy of all of them per batch.
        std::move(new_skipped_.begin(), new_skipped_.end(), std::back_inserter(seen_.skipped));
        new_skipped_.clear();
        seen_.counters = counters_;
      }
      cv_.notify_all();
      if (buffer_.empty()) {
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
        throw nb::stop_iteration();
      }
    }
    RecordOutput r = std::move(buffer_.front());
    buffer_.pop_front();
    return Embedding::from(std::move(r));
  }

  struct Snapshot {
    std::vector<SkippedRecord> skipped;
    StreamCounters counters;
  };
  const Snapshot& seen() const { return seen_; }

 private:
  void work() {
    for (;;) {
      std::vector<RecordOutput> batch;
      bool more = false;
      std::exception_ptr error;
      try {
        more = stream_->next(batch);
      } catch (...) {
        error = std::current_exception();
      }
      std::unique_lock lock(mu_);
      const auto& all = stream_->skipped();
      new_skipped_.insert(new_skipped_.end(), all.begin() + static_cast<std::ptrdiff_t>(reported_), all.end());
      reported_ = all.size();
      counters_ = stream_->counters();
      if (more) ready_.push_back(std::move(batch));
      if (!more || error) {
        error_ = error;
        finished_ = true;
        cv_.notify_all();
        return;
      }
      cv_.notify_all();
      cv_.wait(lock, [&] { return ready_.empty() || stop_; });
      if (stop_) return;
    }
  }

  nb::object owner_;  // keeps the Python Model (and so the C++ Model) alive while iterating
  std::unique_ptr<RecordSource> source_;
  std::unique_ptr<EmbedStream> stream_;
  std::deque<RecordOutput> buffer_;  // the batch Python is consuming
  std::mutex use_mu_;                // one consumer at a time
  std::mutex mu_;                    // guards what follows, shared with the worker
  std::condition_variable cv_;
  std::deque<std::vector<RecordOutput>> ready_;  // computed, not yet consumed: at most one
  Snapshot seen_;                          // what the consumer has been told (its thread only)
  std::vector<SkippedRecord> new_skipped_;  // skipped since the consumer last looked
  std::size_t reported_{0};                 // of the stream's skipped records, how many were handed over
  StreamCounters counters_;
  std::exception_ptr error_;
  bool finished_{false}, stop_{false};
  std::thread worker_;
};

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
  o.include = Includes::parse(include, "include");
  o.repr_layers = repr_layers;
  o.format = parse_output_format(format, "format");
  o.toks_per_batch = toks_per_batch;
  o.truncation_seq_length = truncation_seq_length;
  o.strict = strict;
  o.window = window;
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

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "esm-onnx's C++ library; use the esm_onnx package, not this module.";
  nb::register_exception_translator(translate);
  m.def("_set_errors", [](nb::dict d) {
    g_errors = {d["Error"], d["UsageError"], d["FormatError"], d["UnsupportedError"], d["InputError"], d["FileError"],
                d["RuntimeFailure"]};
  });

  nb::class_<Alphabet>(m, "Alphabet")
      .def_static("from_name", &Alphabet::from_name)
      .def_prop_ro("name", &Alphabet::name)
      .def_prop_ro("tokens", &Alphabet::tokens)
      .def_prop_ro("padding_idx", &Alphabet::padding_idx)
      .def_prop_ro("cls_idx", &Alphabet::cls_idx)
      .def_prop_ro("eos_idx", &Alphabet::eos_idx)
      .def_prop_ro("mask_idx", &Alphabet::mask_idx)
      .def_prop_ro("unk_idx", &Alphabet::unk_idx)
      .def_prop_ro("prepend_bos", &Alphabet::prepend_bos)
      .def_prop_ro("append_eos", &Alphabet::append_eos)
      .def("encode", &Alphabet::encode);

  nb::class_<ModelInfo>(m, "ModelInfo")
      .def_prop_ro("family", [](const ModelInfo& i) { return i.family; })
      .def_prop_ro("variant", [](const ModelInfo& i) { return i.variant; })
      .def_prop_ro("alphabet", [](const ModelInfo& i) { return i.alphabet; })
      .def_ro("num_layers", &ModelInfo::num_layers)
      .def_ro("embed_dim", &ModelInfo::embed_dim)
      .def_ro("attention_heads", &ModelInfo::attention_heads)
      .def_ro("vocab_size", &ModelInfo::vocab_size)
      .def_prop_ro("repr_layers", [](const ModelInfo& i) { return i.repr_layers; })
      .def_prop_ro("has_contacts", [](const ModelInfo& i) { return i.has(GraphOutput::Contacts); })
      .def_prop_ro("has_logits", [](const ModelInfo& i) { return i.has(GraphOutput::Logits); })
      .def_prop_ro("has_attentions", [](const ModelInfo& i) { return i.has(GraphOutput::Attentions); })
      .def_prop_ro("outputs", [](const ModelInfo& i) { return i.outputs.names(); })
      .def_prop_ro("head", [](const ModelInfo& i) { return std::string(output_head_name(i.head)); })
      .def_prop_ro("labels", [](const ModelInfo& i) { return i.labels; })
      .def_prop_ro("precision", [](const ModelInfo& i) { return std::string(precision_name(i.precision)); })
      .def_prop_ro("attention", [](const ModelInfo& i) { return std::string(attention_name(i.attention)); })
      .def_prop_ro("max_residues", &ModelInfo::max_residues)
      .def_prop_ro("source_file", [](const ModelInfo& i) { return i.source_file; })
      .def_prop_ro("source_sha256", [](const ModelInfo& i) { return i.source_sha256; })
      .def_prop_ro("converter_version", [](const ModelInfo& i) { return i.converter_version; })
      .def_prop_ro("prepend_bos", [](const ModelInfo& i) { return i.prepend_bos; })
      .def_prop_ro("append_eos", [](const ModelInfo& i) { return i.append_eos; })
      .def("__repr__", [](const ModelInfo& i) { return "ModelInfo(" + i.to_string() + ")"; });

  nb::class_<Embedding>(m, "Embedding")
      .def_ro("label", &Embedding::label)
      .def_ro("index", &Embedding::index)
      .def_ro("length", &Embedding::length)
      .def_ro("outputs", &Embedding::outputs)
      .def("__repr__", [](const Embedding& e) {
        return std::string("Embedding(label=") + nb::repr(nb::str(e.label.c_str())).c_str() + ", length=" +
               std::to_string(e.length) + ")";
      });

  // One read-only attribute per output of the registry: e.mean, e.per_tok, ..., e.attentions.
  {
    auto embedding = nb::type<Embedding>();
    for (const auto& spec : output_specs()) {
      const std::string name(spec.name);
      nb::object getter = nb::cpp_function([name](const Embedding& e) -> nb::object { return e.outputs[name.c_str()]; },
                                           nb::is_method());
      nb::setattr(embedding, name.c_str(), nb::module_::import_("builtins").attr("property")(getter));
    }
  }

  nb::class_<FastaEmbeddings>(m, "FastaEmbeddings")
      .def("__iter__", [](nb::handle self) { return self; })
      .def("__next__", &FastaEmbeddings::next)
      .def(
          "skipped_since",
          [](const FastaEmbeddings& f, std::size_t start) {
            std::vector<std::tuple<std::string, int64_t, std::string>> out;
            const auto& all = f.seen().skipped;
            for (std::size_t k = start; k < all.size(); ++k) out.emplace_back(all[k].label, all[k].line, all[k].reason);
            return out;
          },
          "start"_a = 0)
      .def_prop_ro("skipped_count", [](const FastaEmbeddings& f) { return f.seen().skipped.size(); })
      .def_prop_ro("records_seen", [](const FastaEmbeddings& f) { return f.seen().counters.records_seen; })
      .def_prop_ro("written", [](const FastaEmbeddings& f) { return f.seen().counters.written; })
      .def_prop_ro("tokens", [](const FastaEmbeddings& f) { return f.seen().counters.tokens; });

  nb::class_<Model>(m, "Model")
      .def(
          "__init__",
          [](Model* self, const std::string& path, int threads, const std::string& device, const std::string& engine,
             const std::string& compute, const std::string& cache_dir, bool cache) {
            const RuntimeOptions o = runtime_options(threads, device, engine, compute, cache_dir, cache);
            nb::gil_scoped_release release;
            new (self) Model(path, o);
          },
          "path"_a, "threads"_a = 0, "device"_a = "cpu", "engine"_a = "ort", "compute"_a = "auto", "cache_dir"_a = "",
          "cache"_a = true)
      .def_prop_ro("engine", [](const Model& self) { return engine_dict(self.engine()); })
      .def_prop_ro("info", &Model::info, nb::rv_policy::reference_internal)
      .def_prop_ro("alphabet", &Model::alphabet, nb::rv_policy::reference_internal)
      .def_prop_ro("path", &Model::path)
      .def_prop_ro("load_seconds", &Model::load_seconds)
      .def("resolve_layers",
           [](const Model& self, const std::vector<int64_t>& layers) {
             EmbedRequest r;
             r.repr_layers = layers;
             return self.resolve(r);
           })
      .def("embed",
           [](const Model& self, std::vector<std::string> labels, std::vector<std::string> sequences,
              const std::vector<std::string>& include, const std::vector<int64_t>& repr_layers, int64_t toks_per_batch,
              int64_t truncation_seq_length) {
             const EmbedRequest request = make_request(include, repr_layers, toks_per_batch, truncation_seq_length);
             std::vector<SequenceRecord> records(sequences.size());
             for (std::size_t i = 0; i < records.size(); ++i) {
               records[i].label = std::move(labels[i]);
               records[i].sequence = std::move(sequences[i]);
               records[i].index = static_cast<int64_t>(i);
             }
             std::vector<RecordOutput> out;
             {
               nb::gil_scoped_release release;
               out = self.embed(records, request);
             }
             std::vector<Embedding> result;
             result.reserve(out.size());
             for (auto& r : out) result.push_back(Embedding::from(std::move(r)));
             return result;
           })
      .def("embed_to_dir",
           [](const Model& self, const std::string& fasta, const std::string& outdir, const std::vector<std::string>& include,
              const std::vector<std::string>& repr_layers, const std::string& format, int64_t toks_per_batch,
              int64_t truncation_seq_length, bool strict, int64_t window, nb::object on_skip) {
             const EmbedOptions o = job_options(fasta, outdir, include, repr_layers, format, toks_per_batch,
                                                truncation_seq_length, strict, window);
             const MessageFn message = python_messages(on_skip);
             nb::gil_scoped_release release;
             return embed(self, o, {}, message);
           })
      .def("embed_fasta",
           [](nb::object self, const std::string& path, const std::vector<std::string>& include,
              const std::vector<int64_t>& repr_layers, int64_t toks_per_batch, int64_t truncation_seq_length, bool strict,
              int64_t window) {
             const Model& model = nb::cast<const Model&>(self);
             return new FastaEmbeddings(self, model, path, make_request(include, repr_layers, toks_per_batch, truncation_seq_length),
                                        strict, window);
           })
      .def("forward",
           [](const Model& self, nb::ndarray<const int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu> tokens,
              const std::vector<std::string>& include, const std::vector<int64_t>& layers) {
             const auto B = static_cast<int64_t>(tokens.shape(0)), T = static_cast<int64_t>(tokens.shape(1));
             std::vector<int64_t> ids(tokens.data(), tokens.data() + B * T);
             const Includes inc = Includes::parse(include, "include");
             ForwardOutputs out;
             {
               nb::gil_scoped_release release;
               out = self.forward(ids, B, T, inc, layers);
             }
             nb::dict d;
             d["layers"] = out.layers;
             for (const auto& g : graph_output_specs()) {
               auto it = out.outputs.find(g.id);
               d[nb::str(g.name.data(), g.name.size())] = it == out.outputs.end() ? nb::none() : to_numpy(std::move(it->second));
             }
             return d;
           });

  nb::class_<EmbedSummary>(m, "EmbedSummary")
      .def_ro("written", &EmbedSummary::written)
      .def_ro("already_present", &EmbedSummary::already_present)
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
      .def("__repr__", [](const EmbedSummary& s) {
        return "EmbedSummary(written=" + std::to_string(s.written) + ", already_present=" + std::to_string(s.already_present) +
               ", skipped=" + std::to_string(s.skipped.size()) + ", tokens=" + std::to_string(s.tokens) + ")";
      });

  m.def("embed_to_dir",
        [](const std::string& model, const std::string& fasta, const std::string& outdir,
           const std::vector<std::string>& include, const std::vector<std::string>& repr_layers, const std::string& format,
           int64_t toks_per_batch, int64_t truncation_seq_length, int threads, const std::string& device,
           const std::string& engine, const std::string& compute, const std::string& cache_dir, bool cache, bool strict,
           int64_t window, nb::object on_skip) {
          EmbedOptions o = job_options(fasta, outdir, include, repr_layers, format, toks_per_batch, truncation_seq_length,
                                       strict, window);
          o.model = model;
          o.runtime = runtime_options(threads, device, engine, compute, cache_dir, cache);
          const MessageFn message = python_messages(on_skip);
          nb::gil_scoped_release release;
          return embed(o, {}, message);
        });

  m.def("convert",
        [](const std::string& checkpoint, const std::string& output, const std::vector<std::string>& repr_layers,
           const std::string& precision, bool contacts, bool optimize, int64_t int4_block, const std::string& engine,
           const std::vector<std::string>& on_request) {
          ConvertOptions o;
          o.engine = parse_engine(engine, "engine");
          o.output = output;
          o.repr_layers = repr_layers;
          o.precision = parse_precision(precision, "precision");
          o.contacts = contacts;
          for (const auto& name : on_request) {
            bool known = false;
            for (const auto& g : graph_output_specs()) {
              if (g.convert == ConvertRule::OnRequest && g.name == name) {
                o.on_request.set(g.id);
                known = true;
              }
            }
            if (!known) throw UsageError("convert: '" + name + "' is not an output built on request (attentions)");
          }
          o.optimize = optimize;
          o.int4_block = int4_block;
          nb::gil_scoped_release release;
          // A released name or hub id is downloaded here, at the boundary.
          o.checkpoint = checkpoint.empty() ? checkpoint : resolve_checkpoint(checkpoint);
          convert(o);
          return read_model_info(output);
        });

  m.def("download", [](const std::string& name, const std::string& dir, const std::string& revision) {
    DownloadOptions o;
    o.name = name;
    o.dir = dir;
    o.revision = revision;
    nb::gil_scoped_release release;
    return download(o).path;
  });

  // The output registry, for the package's writers, the drop-in and the Ray parts.
  m.def("output_specs", [] {
    nb::list out;
    for (const auto& s : output_specs()) {
      nb::dict d;
      d["name"] = std::string(s.name);
      d["source"] = std::string(graph_output_spec(s.source).name);
      d["key"] = std::string(s.key);
      d["per_layer"] = s.per_layer;
      d["shape"] = std::string(s.shape);
      out.append(d);
    }
    return out;
  });
  m.def("graph_output_specs", [] {
    nb::list out;
    for (const auto& g : graph_output_specs()) {
      nb::dict d;
      d["name"] = std::string(g.name);
      d["layout"] = std::string(g.layout);
      d["on_request"] = g.convert == ConvertRule::OnRequest;
      d["needs_attention_maps"] = g.needs_attention_maps;
      out.append(d);
    }
    return out;
  });

  m.def("fair_esm_releases", &fair_esm_releases);
  m.def("esmc_releases", &esmc_releases);
  m.def("unsupported_releases", &unsupported_releases);

  m.def("read_model_info", &read_model_info, nb::call_guard<nb::gil_scoped_release>());
  // The engine options as the CLI checks them, without a model or this machine's CPU (a Ray driver checks the
  // workers' options): UsageError for an unknown name or for bf16 on ONNX Runtime.
  m.def("check_engine_options", [](const std::string& engine, const std::string& compute) {
    const Engine e = parse_engine(engine, "--engine");
    const Compute c = parse_compute(compute, "--compute");
    if (e == Engine::OnnxRuntime) runtime::resolve_compute(e, c, runtime::CpuFeatures{});
  });
  m.def("resolve_request",
        [](const ModelInfo& info, const std::string& path, const std::vector<std::string>& include,
           const std::vector<int64_t>& repr_layers) {
          return resolve_request(info, path, make_request(include, repr_layers, 1, 0));
        });
  m.def("inspect_json", &inspect_json, nb::call_guard<nb::gil_scoped_release>());

  m.def("cli_main", [](const std::vector<std::string>& argv) {
    std::vector<const char*> args;
    for (const auto& a : argv) args.push_back(a.c_str());
    nb::gil_scoped_release release;
    return cli::main(static_cast<int>(args.size()), args.data());
  });
}
