#include "esm_onnx/base/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <utility>

#include "esm_onnx/base/architecture.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx {
namespace {

// One table per enum: the parse and name functions below read only these.
template <typename E, std::size_t N>
using Names = std::array<std::pair<E, const char*>, N>;

constexpr Names<Precision, 4> kPrecisions{{{Precision::Fp32, "fp32"}, {Precision::Fp16, "fp16"},
                                           {Precision::Int8, "int8"}, {Precision::Int4, "int4"}}};
constexpr Names<Device, 2> kDevices{{{Device::Cpu, "cpu"}, {Device::Cuda, "cuda"}}};
constexpr Names<Engine, 2> kEngines{{{Engine::OnnxRuntime, "ort"}, {Engine::OpenVino, "openvino"}}};
constexpr Names<Compute, 3> kComputes{{{Compute::Auto, "auto"}, {Compute::Fp32, "fp32"}, {Compute::Bf16, "bf16"}}};
constexpr Names<Attention, 2> kAttentions{{{Attention::Explicit, "explicit"}, {Attention::Fused, "fused"}}};
constexpr Names<OutputHead, 4> kHeads{{{OutputHead::None, "none"}, {OutputHead::LanguageModel, "language-model"},
                                       {OutputHead::SequenceClassification, "sequence-classification"},
                                       {OutputHead::TokenClassification, "token-classification"}}};
constexpr Names<Family, 4> kFamilies{{{Family::Esm1, "ESM-1"}, {Family::Esm1b, "ESM-1b"}, {Family::Esm2, "ESM-2"},
                                      {Family::EsmC, "ESM C"}}};
constexpr Names<OutputFormat, 3> kFormats{{{OutputFormat::Npz, "npz"}, {OutputFormat::Pt, "pt"}, {OutputFormat::H5, "h5"}}};
constexpr Names<LongSequences, 3> kLongSequences{
    {{LongSequences::Truncate, "truncate"}, {LongSequences::Tile, "tile"}, {LongSequences::Full, "full"}}};

template <typename E, std::size_t N>
E parse(const Names<E, N>& table, std::string_view text, std::string_view option, const char* what) {
  for (const auto& [value, name] : table) {
    if (text == name) return value;
  }
  std::vector<const char*> names;
  for (const auto& [value, name] : table) names.push_back(name);
  throw UsageError(fmt::format("{} {}: unknown {} (use {})", option, text, what, fmt::join(names, ", ")));
}

template <typename E, std::size_t N>
const char* name_of(const Names<E, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "?";
}

}  // namespace

Precision parse_precision(std::string_view t, std::string_view o) { return parse(kPrecisions, t, o, "precision"); }
const char* precision_name(Precision p) { return name_of(kPrecisions, p); }
Device parse_device(std::string_view t, std::string_view o) { return parse(kDevices, t, o, "device"); }
const char* device_name(Device d) { return name_of(kDevices, d); }
Engine parse_engine(std::string_view t, std::string_view o) { return parse(kEngines, t, o, "engine"); }
const char* engine_name(Engine e) { return name_of(kEngines, e); }
Compute parse_compute(std::string_view t, std::string_view o) { return parse(kComputes, t, o, "compute"); }
const char* compute_name(Compute c) { return name_of(kComputes, c); }
Attention parse_attention(std::string_view t, std::string_view o) { return parse(kAttentions, t, o, "attention kind"); }
const char* attention_name(Attention a) { return name_of(kAttentions, a); }
OutputHead parse_output_head(std::string_view t, std::string_view o) { return parse(kHeads, t, o, "output head"); }
const char* output_head_name(OutputHead h) { return name_of(kHeads, h); }
const char* family_name(Family f) { return name_of(kFamilies, f); }
Family parse_family(std::string_view t, std::string_view o) { return parse(kFamilies, t, o, "family"); }

OutputFormat parse_output_format(std::string_view t, std::string_view o) {
  if (t == "hdf5") return OutputFormat::H5;
  return parse(kFormats, t, o, "format");
}
const char* format_name(OutputFormat f) { return name_of(kFormats, f); }
const char* format_extension(OutputFormat f) {
  switch (f) {
    case OutputFormat::Npz: return ".npz";
    case OutputFormat::Pt: return ".pt";
    case OutputFormat::H5: return ".h5";
  }
  return "";
}

LongSequences parse_long_sequences(std::string_view t, std::string_view o) {
  return parse(kLongSequences, t, o, "mode for long sequences");
}
const char* long_sequences_name(LongSequences m) { return name_of(kLongSequences, m); }

}  // namespace esm_onnx
