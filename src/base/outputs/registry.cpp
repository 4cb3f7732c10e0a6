// The output tables (include/esm_onnx/base/outputs.h): the one place that names each output.
#include "esm_onnx/base/outputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>

#include "esm_onnx/base/errors.h"

namespace esm_onnx {
namespace {

constexpr std::array<GraphOutputSpec, 4> kGraphOutputs{{
    {.id = GraphOutput::Representations, .name = "representations", .metadata_key = "", .metadata_optional = false,
     .layout = "[layers, B, T, E] (the exported layers)", .convert = ConvertRule::Always, .needs_attention_maps = false,
     .fused_side_branch = false, .missing_hint = ""},
    {.id = GraphOutput::Logits, .name = "logits", .metadata_key = "has_logits", .metadata_optional = false,
     .layout = "[B, T, vocab] ([B, T, labels]; [B, labels] per sequence)", .convert = ConvertRule::WithHead,
     .needs_attention_maps = false, .fused_side_branch = false,
     .missing_hint = "a bare encoder, such as transformers' EsmModel, has no head"},
    {.id = GraphOutput::Contacts, .name = "contacts", .metadata_key = "has_contacts", .metadata_optional = false,
     .layout = "[B, L, L]", .convert = ConvertRule::WithHead, .needs_attention_maps = true, .fused_side_branch = true,
     .missing_hint = "converted without contact-regression weights (ESM C has no contact head), or with --no-contacts"},
    {.id = GraphOutput::Attentions, .name = "attentions", .metadata_key = "has_attentions", .metadata_optional = true,
     .layout = "[B, layers, H, T, T], padding rows and columns zero", .convert = ConvertRule::OnRequest,
     .needs_attention_maps = true, .fused_side_branch = false, .missing_hint = "converted without --attentions"},
}};

constexpr std::array<OutputSpec, 6> kOutputs{{
    {.id = Output::Mean, .name = "mean", .source = GraphOutput::Representations, .slice = SliceRule::ResidueMean,
     .key = "mean_representations", .per_layer = true, .shape = "[E]", .tile = TileRule::MeanOfRows},
    {.id = Output::PerTok, .name = "per_tok", .source = GraphOutput::Representations, .slice = SliceRule::ResidueRows,
     .key = "representations", .per_layer = true, .shape = "[L, E]", .tile = TileRule::WeightedRows},
    {.id = Output::Bos, .name = "bos", .source = GraphOutput::Representations, .slice = SliceRule::FirstToken,
     .key = "bos_representations", .per_layer = true, .shape = "[E]", .tile = TileRule::FirstTile},
    {.id = Output::Contacts, .name = "contacts", .source = GraphOutput::Contacts, .slice = SliceRule::ResidueSquare,
     .key = "contacts", .per_layer = false, .shape = "[L, L]", .tile = TileRule::WeightedPairs},
    {.id = Output::Logits, .name = "logits", .source = GraphOutput::Logits, .slice = SliceRule::HeadRows, .key = "logits",
     .per_layer = false, .shape = "[L, vocab]", .tile = TileRule::HeadRows},
    {.id = Output::Attentions, .name = "attentions", .source = GraphOutput::Attentions, .slice = SliceRule::TokenSquares,
     .key = "attentions", .per_layer = false, .shape = "[layers, heads, t, t], t = tokens with BOS and EOS",
     .tile = TileRule::OnePass},
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

std::vector<std::string> Includes::graph_output_names() const {
  std::vector<std::string> out;
  for (const auto& g : kGraphOutputs) {
    if (needs(g.id)) out.emplace_back(g.name);
  }
  return out;
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
