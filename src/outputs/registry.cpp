// The output tables (include/esm_onnx/outputs.h): the one place that names each output.
#include "esm_onnx/outputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>

#include "esm_onnx/errors.h"

namespace esm_onnx {
namespace {

constexpr std::array<GraphOutputSpec, 4> kGraphOutputs{{
    {GraphOutput::Representations, "representations", "", false, "[layers, B, T, E] (the exported layers)", ConvertRule::Always,
     false, false, ""},
    {GraphOutput::Logits, "logits", "has_logits", false, "[B, T, vocab] ([B, T, labels]; [B, labels] per sequence)",
     ConvertRule::WithHead, false, false, "a bare encoder, such as transformers' EsmModel, has no head"},
    {GraphOutput::Contacts, "contacts", "has_contacts", false, "[B, L, L]", ConvertRule::WithHead, true, true,
     "converted without contact-regression weights (ESM C has no contact head), or with --no-contacts"},
    {GraphOutput::Attentions, "attentions", "has_attentions", true, "[B, layers, H, T, T], padding rows and columns zero",
     ConvertRule::OnRequest, true, false, "converted without --attentions"},
}};

constexpr std::array<OutputSpec, 6> kOutputs{{
    {Output::Mean, "mean", GraphOutput::Representations, SliceRule::ResidueMean, "mean_representations", true, "[E]",
     TileRule::MeanOfRows},
    {Output::PerTok, "per_tok", GraphOutput::Representations, SliceRule::ResidueRows, "representations", true, "[L, E]",
     TileRule::WeightedRows},
    {Output::Bos, "bos", GraphOutput::Representations, SliceRule::FirstToken, "bos_representations", true, "[E]",
     TileRule::FirstTile},
    {Output::Contacts, "contacts", GraphOutput::Contacts, SliceRule::ResidueSquare, "contacts", false, "[L, L]",
     TileRule::WeightedPairs},
    {Output::Logits, "logits", GraphOutput::Logits, SliceRule::HeadRows, "logits", false, "[L, vocab]", TileRule::HeadRows},
    {Output::Attentions, "attentions", GraphOutput::Attentions, SliceRule::TokenSquares, "attentions", false,
     "[layers, heads, t, t], t = tokens with BOS and EOS", TileRule::OnePass},
}};

}  // namespace

std::span<const OutputSpec> output_specs() { return kOutputs; }
std::span<const GraphOutputSpec> graph_output_specs() { return kGraphOutputs; }

const OutputSpec& output_spec(Output output) {
  for (const auto& s : kOutputs) {
    if (s.id == output) return s;
  }
  throw InternalError(fmt::format("unknown output {}", static_cast<unsigned>(output)));
}

const GraphOutputSpec& graph_output_spec(GraphOutput output) {
  for (const auto& s : kGraphOutputs) {
    if (s.id == output) return s;
  }
  throw InternalError(fmt::format("unknown graph output {}", static_cast<unsigned>(output)));
}

std::string array_key(Output output, int64_t layer) {
  const auto& s = output_spec(output);
  return s.per_layer ? fmt::format("{}/{}", s.key, layer) : std::string(s.key);
}

std::string output_names_text() {
  std::vector<std::string_view> names;
  for (const auto& s : kOutputs) names.push_back(s.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

Output parse_output(std::string_view text, std::string_view option) {
  for (const auto& s : kOutputs) {
    if (s.name == text) return s.id;
  }
  throw UsageError(fmt::format("{} {}: unknown output (use {})", option, text, output_names_text()));
}

const char* output_name(Output output) { return output_spec(output).name.data(); }

Includes Includes::parse(const std::vector<std::string>& names, std::string_view option) {
  Includes in;
  for (const auto& n : names) in.add(parse_output(n, option));
  if (in.empty()) throw UsageError(fmt::format("{}: name at least one of {}", option, output_names_text()));
  return in;
}

bool Includes::needs(GraphOutput source) const {
  for (const auto& s : kOutputs) {
    if (s.source == source && has(s.id)) return true;
  }
  return false;
}

std::vector<std::string> Includes::names() const {
  std::vector<std::string> out;
  for (const auto& s : kOutputs) {
    if (has(s.id)) out.emplace_back(s.name);
  }
  return out;
}

std::string Includes::to_string() const { return fmt::format("{}", fmt::join(names(), ",")); }

bool needs_attention_maps(const GraphOutputs& outputs) {
  for (const auto& s : kGraphOutputs) {
    if (s.needs_attention_maps && outputs.has(s.id)) return true;
  }
  return false;
}

bool needs_explicit_layers(const GraphOutputs& outputs) {
  for (const auto& s : kGraphOutputs) {
    if (s.needs_attention_maps && !s.fused_side_branch && outputs.has(s.id)) return true;
  }
  return false;
}

std::vector<std::string> GraphOutputs::names() const {
  std::vector<std::string> out;
  for (const auto& s : kGraphOutputs) {
    if (has(s.id)) out.emplace_back(s.name);
  }
  return out;
}

}  // namespace esm_onnx
