// The model half of the module: Alphabet, ModelInfo, Embedding, FastaEmbeddings, Model.
#include <condition_variable>
#include <deque>
#include <exception>
#include <iterator>
#include <mutex>
#include <thread>
#include <utility>

#include "binding.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/outputs.h"

namespace esm_onnx::python {
namespace {

using namespace nb::literals;

// Iterates over a FASTA file's embeddings. A worker thread computes the next batch while Python handles
// the current one (the GIL is not needed for that); at most one computed batch waits, so memory stays
// bounded by the batch.
class FastaEmbeddings {
 public:
  FastaEmbeddings(nb::object model_owner, const Model& model, const std::string& path, const EmbedRequest& request,
                  bool strict, int64_t read_ahead)
      : owner_(std::move(model_owner)), source_(fasta_source(path)) {
    StreamOptions so;
    so.strict = strict;
    so.read_ahead = read_ahead;
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


// fair-esm's vocabulary as the library holds it.
void bind_alphabet(nb::module_& m) {
  nb::class_<Alphabet>(m, "Alphabet")
      .def_static("from_name", &Alphabet::from_name, "name"_a)
      .def_prop_ro("name", &Alphabet::name)
      .def_prop_ro("tokens", &Alphabet::tokens)
      .def_prop_ro("padding_idx", &Alphabet::padding_idx)
      .def_prop_ro("cls_idx", &Alphabet::cls_idx)
      .def_prop_ro("eos_idx", &Alphabet::eos_idx)
      .def_prop_ro("mask_idx", &Alphabet::mask_idx)
      .def_prop_ro("unk_idx", &Alphabet::unk_idx)
      .def_prop_ro("prepend_bos", &Alphabet::prepend_bos)
      .def_prop_ro("append_eos", &Alphabet::append_eos)
      .def("encode", &Alphabet::encode, "text"_a);

}

// What a converted model says about itself.
void bind_model_info(nb::module_& m) {
  auto info = nb::class_<ModelInfo>(m, "ModelInfo");
  // has_<output> for each graph output with a metadata flag, named as the flag is: the registry's rows, not a
  // hand-written list (a new output gets its property with its row).
  for (const auto& g : graph_output_specs()) {
    if (g.metadata_key.empty()) continue;
    const GraphOutput id = g.id;
    info.def_prop_ro(g.metadata_key.data(), [id](const ModelInfo& i) { return i.has(id); });
  }
  info
      .def_prop_ro("family", [](const ModelInfo& i) { return std::string(family_name(i.family)); })
      .def_prop_ro("variant", [](const ModelInfo& i) { return i.variant; })
      .def_prop_ro("alphabet", [](const ModelInfo& i) { return Alphabet::for_kind(i.alphabet).name(); })
      .def_ro("num_layers", &ModelInfo::num_layers)
      .def_ro("embed_dim", &ModelInfo::embed_dim)
      .def_ro("attention_heads", &ModelInfo::attention_heads)
      .def_ro("vocab_size", &ModelInfo::vocab_size)
      .def_prop_ro("repr_layers", [](const ModelInfo& i) { return i.repr_layers; })
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

}

// One record's outputs, an attribute per output of the registry.
void bind_embedding(nb::module_& m) {
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

}

// The streaming iterator over a FASTA file's embeddings.
void bind_fasta_embeddings(nb::module_& m) {
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

}

// A loaded model: embed in memory, stream a FASTA file, run a token batch.
void bind_model_class(nb::module_& m) {
  nb::class_<Model>(m, "Model")
      .def(
          "__init__",
          [](Model* self, const std::string& path, const RuntimeOptions& options) {
            nb::gil_scoped_release release;
            new (self) Model(path, options);
          },
          "path"_a, "options"_a = RuntimeOptions())
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
           }, "layers"_a)
      .def("embed",
           [](const Model& self, std::vector<std::string> labels, std::vector<std::string> sequences,
              const EmbedRequest& request) {
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
           }, "labels"_a, "sequences"_a, "request"_a)
      .def("embed_to_dir",
           [](const Model& self, const EmbedOptions& options, nb::object on_skip) {
             const MessageFn message = python_messages(on_skip);
             nb::gil_scoped_release release;
             return embed(self, options, {}, message);
           }, "options"_a, "on_skip"_a)
      .def("embed_fasta",
           [](nb::object self, const std::string& path, const EmbedRequest& request, bool strict, int64_t read_ahead) {
             const Model& model = nb::cast<const Model&>(self);
             return new FastaEmbeddings(self, model, path, request, strict, read_ahead);
           }, "path"_a, "request"_a, "strict"_a, "read_ahead"_a)
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
           }, "tokens"_a, "include"_a, "layers"_a);
}

}  // namespace

void bind_model(nb::module_& m) {
  bind_alphabet(m);
  bind_model_info(m);
  bind_embedding(m);
  bind_fasta_embeddings(m);
  bind_model_class(m);
}

}  // namespace esm_onnx::python
