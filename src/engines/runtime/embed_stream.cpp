// The esm-extract loop, shared by the in-memory API, the Python package and the embed job.
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "engines/runtime/loaded_model.h"
#include "engines/runtime/record_memory.h"
#include "engines/runtime/slicing.h"
#include "engines/runtime/tile_stitch.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/engines/model.h"
#include "esm_onnx/formats/batching.h"
#include "esm_onnx/formats/fasta.h"

namespace esm_onnx {
namespace {

// The length from which a record runs in a batch of its own. ONNX Runtime's CPU MultiHeadAttention takes
// its flash kernel only for batches without padding (the fused graph's If), and its GEMMs lose nothing
// at M >= 128 tokens while smaller batches stay in cache: measured on a realistic FASTA with ESM-2 35M,
// +29% int8 and +14% fp32 over esm-extract's packing. Shorter records still pack (their GEMMs need the
// rows), and the explicit graphs and the GPU keep esm-extract's batches.
constexpr int64_t kAloneFromTokens = 128;
int64_t alone_from_tokens(const Model& model) {
  const bool fused_on_cpu = model.info().attention == Attention::Fused && model.engine().engine == Engine::OnnxRuntime &&
                            model.options().device == Device::Cpu;
  return fused_on_cpu ? kAloneFromTokens : 0;
}

class FastaSource final : public RecordSource {
 public:
  explicit FastaSource(const std::string& path) : reader_(path) {}
  bool next(SequenceRecord& r) override { return reader_.next(r); }
  std::string name() const override { return reader_.path(); }

 private:
  FastaReader reader_;
};

class VectorSource final : public RecordSource {
 public:
  explicit VectorSource(const std::vector<SequenceRecord>& records) : records_(records) {}
  bool next(SequenceRecord& r) override {
    if (pos_ >= records_.size()) return false;
    r = records_[pos_];
    r.index = static_cast<int64_t>(pos_++);
    return true;
  }
  std::string name() const override { return "input"; }

 private:
  const std::vector<SequenceRecord>& records_;
  std::size_t pos_{0};
};

// A record (or one tile of a record) waiting in the window: its token ids as bytes, so that a window of 20,000
// proteins stays small.
struct Pending {
  std::string label;
  int64_t line{0};
  int64_t index{0};
  std::vector<uint8_t> ids;  // residue tokens after truncation (of this tile)
  int64_t stitch{-1};        // the record's TileStitch in the window when it is tiled
  std::size_t tile{0};
};

}  // namespace

void StreamSettings::validate() const {
  if (read_ahead <= 0) throw UsageError(fmt::format("--read-ahead {}: must be positive", read_ahead));
}

std::unique_ptr<RecordSource> fasta_source(const std::string& path) { return std::make_unique<FastaSource>(path); }
std::unique_ptr<RecordSource> vector_source(const std::vector<SequenceRecord>& r) { return std::make_unique<VectorSource>(r); }

struct EmbedStream::State {
  const Model& model;
  RecordSource& source;
  EmbedRequest request;
  StreamOptions options;
  std::vector<int64_t> layers, layer_pos;
  std::vector<std::string> outputs;
  StreamCounters counters;
  std::vector<SkippedRecord> skipped;
  std::vector<Pending> window;
  std::deque<std::vector<std::size_t>> batches;  // of the current window
  LongSequencePlan plan;
  Includes tile_include;
  std::optional<Output> one_pass_output;  // a requested output that tiles cannot give (TileRule::OnePass)
  uint64_t memory{0};  // physical memory, for the pair outputs' check
  std::vector<std::unique_ptr<runtime::TileStitch>> stitches;  // of the current window's tiled records

  void skip(const SequenceRecord& r, const std::string& reason) {
    const std::string where = r.line > 0 ? fmt::format("{}: record '{}' (line {})", source.name(), r.label, r.line)
                                         : fmt::format("{}: record {} ('{}')", source.name(), r.index, r.label);
    if (options.strict) throw InputError(fmt::format("{}: {}{}", where, reason, options.strict_note));
    SkippedRecord s{r.label, r.line, reason, r.index};
    if (options.on_skip) options.on_skip(s);
    skipped.push_back(std::move(s));
  }

  // Reads the next window of good records and plans its batches.
  void fill() {
    window.clear();
    stitches.clear();
    const Alphabet& alphabet = model.alphabet();
    const int64_t max_res = model.info().max_residues();
    const int64_t truncate = plan.truncate;
    SequenceRecord rec;
    while (static_cast<int64_t>(window.size()) < options.read_ahead) {
      if (!source.next(rec)) {
        counters.input_finished = true;
        break;
      }
      ++counters.records_seen;
      if (options.check) {
        if (auto why = options.check(rec); !why.empty()) {
          skip(rec, why);
          continue;
        }
      }
      std::vector<int64_t> ids;
      try {
        ids = alphabet.encode(rec.sequence);
      } catch (const InputError& e) {
        skip(rec, e.what());
        continue;
      }
      if (ids.empty()) {
        skip(rec, "no residues");
        continue;
      }
      if (truncate > 0 && static_cast<int64_t>(ids.size()) > truncate) ids.resize(static_cast<std::size_t>(truncate));
      const auto length = static_cast<int64_t>(ids.size());
      const bool tiled = plan.mode == LongSequences::Tile && length > plan.tiling.length;
      if (!tiled && max_res > 0 && length > max_res) {
        skip(rec, plan.mode == LongSequences::Truncate
                      ? fmt::format("{} residues, more than {} allows ({}); embed it in tiles (--long-sequences tile) or "
                                    "lower the truncation length (--truncation-seq-length) to at most {} to embed its "
                                    "first {} residues", length, model.info().variant, max_res, max_res, max_res)
                      : fmt::format("{} residues, more than {}'s learned positions take in one pass ({}); use "
                                    "--long-sequences tile", length, model.info().variant, max_res));
        continue;
      }
      if (auto why = runtime::pair_memory_problem(model.info(), request.include, length, !tiled, plan.tiling.length, memory);
          !why.empty()) {
        skip(rec, why);
        continue;
      }
      if (tiled && one_pass_output) {
        skip(rec, fmt::format("{} residues need tiles of {}, and {} come from one pass; use --long-sequences "
                              "full{} or truncate", length, plan.tiling.length, output_name(*one_pass_output),
                              max_res > 0 ? " (ESM-2, ESM C)" : ""));
        continue;
      }
      if (options.done && options.done(rec)) {
        ++counters.already_present;
        continue;
      }
      if (!tiled) {
        window.push_back({rec.label, rec.line, rec.index, std::vector<uint8_t>(ids.begin(), ids.end())});
        continue;
      }
      TileLayout t = tile_sequence(length, plan.tiling);
      const auto slot = static_cast<int64_t>(stitches.size());
      for (std::size_t k = 0; k < t.tiles.size(); ++k) {
        const auto first = ids.begin() + t.tiles[k].start;
        window.push_back({rec.label, rec.line, rec.index, std::vector<uint8_t>(first, first + t.tiles[k].length), slot, k});
      }
      stitches.push_back(std::make_unique<runtime::TileStitch>(rec.label, rec.index, length, std::move(t), request.include, layers));
    }
    std::vector<int64_t> lengths;
    lengths.reserve(window.size());
    for (const auto& p : window) lengths.push_back(static_cast<int64_t>(p.ids.size()));
    for (auto& b : make_batches(lengths, request.toks_per_batch, 1, alone_from_tokens(model))) batches.push_back(std::move(b));
  }

  void run(const std::vector<std::size_t>& batch, std::vector<RecordOutput>& out) {
    const Alphabet& alphabet = model.alphabet();
    const auto B = static_cast<int64_t>(batch.size());
    std::vector<const std::vector<uint8_t>*> rows;
    for (auto i : batch) rows.push_back(&window[i].ids);
    int64_t T = 0;
    const auto tokens = alphabet.pad_batch(rows, T);
    const auto result = model.impl().session.run(tokens, B, T, outputs);
    runtime::BatchView view{.batch = B, .length = T, .bos = alphabet.prepend_bos() ? 1 : 0, .eos = alphabet.append_eos() ? 1 : 0};
    for (const auto& g : graph_output_specs()) {
      auto& t = view[g.id];
      t.data = result.data(std::string(g.name), &t.shape);
    }
    const int64_t specials = (alphabet.prepend_bos() ? 1 : 0) + (alphabet.append_eos() ? 1 : 0);
    out.clear();
    out.reserve(batch.size());
    for (int64_t b = 0; b < B; ++b) {
      Pending& p = window[batch[b]];
      RecordOutput r;
      r.label = std::move(p.label);
      r.index = p.index;
      r.length = static_cast<int64_t>(p.ids.size());
      counters.tokens += r.length + specials;
      std::vector<uint8_t>().swap(p.ids);
      if (p.stitch < 0) {
        runtime::slice_record(view, b, request.include, layers, layer_pos, r);
        out.push_back(std::move(r));
        continue;
      }
      runtime::slice_record(view, b, tile_include, layers, layer_pos, r);
      auto& stitch = stitches[static_cast<std::size_t>(p.stitch)];
      stitch->add(p.tile, r);
      if (stitch->complete()) {
        out.push_back(stitch->finish());
        stitch.reset();
      }
    }
    counters.written += static_cast<int64_t>(out.size());
    ++counters.batches;
  }
};

EmbedStream::EmbedStream(const Model& model, RecordSource& source, const EmbedRequest& request, StreamOptions options)
    : s_(std::make_unique<State>(State{model, source, request, std::move(options), {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}})) {
  s_->options.validate();
  s_->layers = model.resolve(request);
  s_->plan = plan_long_sequences(model.info(), request);
  s_->memory = runtime::physical_memory();
  s_->tile_include = runtime::TileStitch::tile_includes(request.include);
  for (const auto& spec : output_specs()) {  // an output tiles cannot give (the registry's OnePass rule)
    if (request.include.has(spec.id) && spec.tile == TileRule::OnePass) s_->one_pass_output = spec.id;
  }
  const auto& exported = model.info().repr_layers;
  for (auto l : s_->layers) s_->layer_pos.push_back(std::find(exported.begin(), exported.end(), l) - exported.begin());
  s_->outputs = request.include.graph_output_names();  // tile_include reads the same graph outputs
}

EmbedStream::~EmbedStream() = default;

bool EmbedStream::next(std::vector<RecordOutput>& batch) {
  // A batch of tiles may complete no record yet (its record's other tiles are in a later batch): run on until
  // one does, so that a caller that stops at an empty batch loses nothing. Every tile of a record is in the same
  // window, so the window's last batch completes all of them.
  for (;;) {
    while (s_->batches.empty()) {
      if (s_->counters.input_finished) return false;
      s_->fill();
    }
    const auto b = std::move(s_->batches.front());
    s_->batches.pop_front();
    s_->run(b, batch);
    if (!batch.empty()) return true;
  }
}

const std::vector<int64_t>& EmbedStream::layers() const { return s_->layers; }
const StreamCounters& EmbedStream::counters() const { return s_->counters; }
const std::vector<SkippedRecord>& EmbedStream::skipped() const { return s_->skipped; }

}  // namespace esm_onnx
