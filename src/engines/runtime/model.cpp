#include "esm_onnx/engines/model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>

#include "engines/runtime/loaded_model.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/layers.h"
#include "esm_onnx/base/traits.h"

namespace esm_onnx {

std::string EmbedRequest::to_string() const {
  return fmt::format("include={} repr_layers={} toks_per_batch={} truncation_seq_length={} long_sequences={} {}",
                     include.to_string(), repr_layers.empty() ? "exported" : fmt::format("{}", fmt::join(repr_layers, ",")),
                     toks_per_batch, truncation_seq_length ? std::to_string(*truncation_seq_length) : std::string("default"),
                     long_sequences ? long_sequences_name(*long_sequences) : "default", tiling.to_string());
}

std::string LongSequencePlan::to_string() const {
  const std::string cut = truncate > 0 ? fmt::format(", first {} residues kept", truncate) : std::string();
  switch (mode) {
    case LongSequences::Truncate: return truncate > 0 ? fmt::format("truncate at {} residues", truncate) : "truncate: none";
    case LongSequences::Full: return "full (one pass per record)" + cut;
    case LongSequences::Tile:
      return fmt::format("tile ({}-residue tiles, overlap >= {}, s = {}{})", tiling.length, tiling.min_overlap,
                         tiling.sharpness, cut);
  }
  return "";
}

LongSequencePlan plan_long_sequences(const ModelInfo& info, const EmbedRequest& request) {
  request.validate();
  const FamilyTraits& family = family_traits(info.family);
  LongSequencePlan p;
  p.mode = request.long_sequences.value_or(family.long_sequences);
  p.truncate = request.truncation_seq_length.value_or(p.mode == LongSequences::Truncate ? kDefaultTruncation : 0);
  p.tiling = p.mode == LongSequences::Tile ? tiling_for_model(info, request.tiling) : request.tiling;
  return p;
}

std::string EngineInfo::to_string() const {
  if (!engine_traits(engine).compiled_cache) return fmt::format("{} {}", engine_name(engine), version);
  return fmt::format("{} {}, {} compute{}", engine_name(engine), version, compute_name(compute),
                     cache_dir.empty() ? ", not cached" : from_cache ? ", compiled model from the cache" : ", compiled and cached");
}

void EmbedRequest::validate() const {
  if (include.empty()) throw UsageError("--include: name at least one of " + output_names_text());
  if (toks_per_batch <= 0) throw UsageError(fmt::format("--toks-per-batch {}: must be positive", toks_per_batch));
  if (truncation_seq_length && *truncation_seq_length < 0) {
    throw UsageError(fmt::format("--truncation-seq-length {}: must be 0 (no truncation) or positive", *truncation_seq_length));
  }
  tiling.validate();
}

Model::Model(const std::string& path, const RuntimeOptions& options) {
  options.validate();
  const auto t0 = std::chrono::steady_clock::now();
  impl_ = std::make_unique<runtime::LoadedModel>(path, options);
  impl_->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  impl_->alphabet = impl_->session.info().make_alphabet();
  // EmbedStream keeps a window's token ids as bytes.
  if (impl_->alphabet.size() > 255) {
    throw FormatError(fmt::format("{}: a vocabulary of {} tokens; esm-onnx handles at most 255", path, impl_->alphabet.size()));
  }
}

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const std::string& Model::path() const { return impl_->path; }
const ModelInfo& Model::info() const { return impl_->session.info(); }
const Alphabet& Model::alphabet() const { return impl_->alphabet; }
const RuntimeOptions& Model::options() const { return impl_->options; }
double Model::load_seconds() const { return impl_->load_seconds; }
const EngineInfo& Model::engine() const { return impl_->session.engine(); }

namespace {

std::vector<int64_t> resolve_exported(const ModelInfo& info, const std::string& path, const std::vector<int64_t>& wanted) {
  if (wanted.empty()) return info.repr_layers;
  std::vector<std::string> specs;
  for (auto l : wanted) specs.push_back(std::to_string(l));
  auto layers = resolve_layers(specs, info.num_layers, "repr_layers");
  for (auto l : layers) {
    if (std::find(info.repr_layers.begin(), info.repr_layers.end(), l) == info.repr_layers.end()) {
      throw UsageError(fmt::format("repr_layers: layer {} was not exported into {} (it holds layers {}); convert "
                                   "again with --repr-layers including it", l, path, join_layers(info.repr_layers)));
    }
  }
  return layers;
}

void check_outputs(const ModelInfo& info, const std::string& path, Includes include) {
  for (const auto& g : graph_output_specs()) {
    if (!include.needs(g.id) || info.has(g.id)) continue;
    std::vector<std::string> names;
    for (const auto& o : output_specs()) {
      if (o.source == g.id && include.has(o.id)) names.emplace_back(o.name);
    }
    throw UsageError(fmt::format("include {}: {} has no {} output ({})", fmt::join(names, " "), path, g.name, g.missing_hint));
  }
}

}  // namespace

std::vector<int64_t> resolve_request(const ModelInfo& info, const std::string& path, const EmbedRequest& request) {
  request.validate();
  check_outputs(info, path, request.include);
  if (!request.include.representations()) return {};
  return resolve_exported(info, path, request.repr_layers);
}

std::vector<int64_t> Model::resolve(const EmbedRequest& request) const { return resolve_request(info(), path(), request); }

std::vector<RecordOutput> Model::embed(const std::vector<SequenceRecord>& records, const EmbedRequest& request) const {
  auto source = vector_source(records);
  StreamOptions so;
  so.strict = true;  // a list in memory has no "rest" worth running without the bad one
  so.strict_note = "";
  so.read_ahead = std::max<int64_t>(1, static_cast<int64_t>(records.size()));
  EmbedStream stream(*this, *source, request, std::move(so));
  std::vector<RecordOutput> out(records.size());
  std::vector<RecordOutput> batch;
  while (stream.next(batch)) {
    for (auto& r : batch) out[static_cast<std::size_t>(r.index)] = std::move(r);
  }
  return out;
}

std::vector<RecordOutput> Model::embed(const std::vector<std::string>& sequences, const EmbedRequest& request) const {
  std::vector<SequenceRecord> records;
  records.reserve(sequences.size());
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    records.push_back({std::to_string(i), sequences[i], 0, static_cast<int64_t>(i)});
  }
  return embed(records, request);
}

ForwardOutputs Model::forward(const std::vector<int64_t>& tokens, int64_t batch, int64_t length, Includes include,
                              const std::vector<int64_t>& layers) const {
  if (batch <= 0 || length <= 0 || static_cast<int64_t>(tokens.size()) != batch * length) {
    throw UsageError(fmt::format("tokens: {} ids do not make a [{}, {}] batch", tokens.size(), batch, length));
  }
  if (info().max_tokens > 0 && length > info().max_tokens) {
    throw UsageError(fmt::format("tokens: sequences of {} tokens; {} takes at most {} (BOS and EOS included)", length,
                                 info().variant, info().max_tokens));
  }
  const auto vocab = static_cast<int64_t>(alphabet().size());
  for (auto t : tokens) {
    if (t < 0 || t >= vocab) throw UsageError(fmt::format("tokens: id {} is outside the vocabulary (0..{})", t, vocab - 1));
  }
  check_outputs(info(), path(), include);
  ForwardOutputs out;
  const std::vector<std::string> names = include.graph_output_names();
  if (include.representations()) out.layers = resolve_exported(info(), path(), layers);
  if (names.empty()) return out;
  const auto result = impl_->session.run(tokens, batch, length, names);
  std::vector<int64_t> shape;
  for (const auto& g : graph_output_specs()) {
    const float* data = include.needs(g.id) ? result.data(std::string(g.name), &shape) : nullptr;
    if (!data) continue;
    FloatArray& a = out.outputs[g.id];
    if (g.id == GraphOutput::Representations) {  // only the layers asked for, of those exported
      const int64_t per_layer = shape[1] * shape[2] * shape[3];
      a.shape = {static_cast<int64_t>(out.layers.size()), shape[1], shape[2], shape[3]};
      a.data.reserve(static_cast<std::size_t>(per_layer) * out.layers.size());
      for (auto l : out.layers) {
        const int64_t pos = std::find(info().repr_layers.begin(), info().repr_layers.end(), l) - info().repr_layers.begin();
        a.data.insert(a.data.end(), data + pos * per_layer, data + (pos + 1) * per_layer);
      }
      continue;
    }
    int64_t n = 1;
    for (auto d : shape) n *= d;
    a = FloatArray{shape, std::vector<float>(data, data + n)};
  }
  return out;
}

}  // namespace esm_onnx
