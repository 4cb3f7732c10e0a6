#include "esm_onnx/base/model_info.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/util/bounded_json.h"
#include "base/util/numbers.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/fold_config.h"
#include "esm_onnx/base/layers.h"

namespace esm_onnx {
namespace {

const std::string P = "esm_onnx.";

// Far above what any converted model holds; a value past these is a damaged or crafted file.
constexpr std::size_t kMaxText = 4096;  // one metadata value

struct IntLimit {
  const char* key;
  int64_t low, high;
};
constexpr IntLimit kIntLimits[] = {
    {"format_revision", 0, 1 << 20}, {"num_layers", 1, 1024},     {"embed_dim", 1, 1 << 16},
    {"attention_heads", 1, 1024},    {"vocab_size", 1, 255},      {"max_tokens", 0, 1 << 20},
    {"int4_block", 0, 4096},         {"padding_idx", 0, 254},     {"cls_idx", 0, 254},
    {"eos_idx", 0, 254},             {"mask_idx", 0, 254},
};

std::string need(const std::map<std::string, std::string>& m, const std::string& key, const std::string& path,
                 std::size_t max_size = kMaxText) {
  auto it = m.find(P + key);
  if (it == m.end()) {
    throw FormatError(fmt::format("{}: metadata '{}{}' missing: this model was not written by esm-onnx convert "
                                  "(or by an incompatible version); convert the checkpoint again", path, P, key));
  }
  if (it->second.size() > max_size) {
    throw FormatError(fmt::format("{}: metadata '{}{}' holds {} bytes, more than the {} any model has; the file is "
                                  "damaged: convert the checkpoint again", path, P, key, it->second.size(), max_size));
  }
  return it->second;
}

int64_t need_int(const std::map<std::string, std::string>& m, const std::string& key, const std::string& path) {
  const std::string v = need(m, key, path);
  const auto n = text::parse_number<int64_t>(v);
  if (!n) throw FormatError(fmt::format("{}: metadata '{}{}' = '{}' is not an integer", path, P, key, v));
  for (const auto& l : kIntLimits) {
    if (key == l.key && (*n < l.low || *n > l.high)) {
      throw FormatError(fmt::format("{}: metadata '{}{}' = {} is outside {}..{}; the file is damaged: convert the "
                                    "checkpoint again", path, P, key, *n, l.low, l.high));
    }
  }
  return *n;
}

}  // namespace

void check_labels(const std::vector<std::string>& labels, const std::string& where) {
  if (labels.size() > kMaxLabels) {
    throw FormatError(fmt::format("{}: {} labels, more than the {} a model may carry", where, labels.size(), kMaxLabels));
  }
  std::size_t text = 2;
  for (std::size_t k = 0; k < labels.size(); ++k) {
    if (labels[k].size() > kMaxLabelBytes) {
      throw FormatError(fmt::format("{}: label {} is {} bytes long, more than the {} a label name may have", where, k,
                                    labels[k].size(), kMaxLabelBytes));
    }
    text += nlohmann::json(labels[k]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() + 1;
  }
  if (text > kMaxLabelsText) {
    throw FormatError(fmt::format("{}: the labels take {} bytes, more than the {} a model may carry", where, text, kMaxLabelsText));
  }
}

ModelInfo ModelInfo::from_metadata(const std::map<std::string, std::string>& m, const std::string& path) {
  if (FoldModelInfo::is_fold(m)) {
    const auto it = m.find("esm_onnx.fold_stem");
    throw UsageError(fmt::format("{}: an ESMFold model: `esm-onnx fold` runs it{}", path,
                                 it == m.end() ? std::string()
                                               : fmt::format("; its stem {} is an ESM-2 model that embed and score run",
                                                             it->second)));
  }
  ModelInfo i;
  i.format_revision = static_cast<int>(need_int(m, "format_revision", path));
  if (i.format_revision != kModelFormatRevision) {
    throw FormatError(fmt::format("{}: model format revision {}, this esm-onnx reads revision {}: convert the "
                                  "checkpoint again with this version", path, i.format_revision, kModelFormatRevision));
  }
  {
    const std::string where = fmt::format("{}: metadata '{}family'", path, P);
    try {
      i.family = parse_family(need(m, "family", path), where);
    } catch (const UsageError& e) {
      throw FormatError(fmt::format("{}; convert the checkpoint again", e.what()));
    }
  }
  i.variant = need(m, "variant", path);
  try {  // Alphabet's message knows the names; this one adds the file
    i.alphabet = Alphabet::from_name(need(m, "alphabet", path)).kind();
  } catch (const FormatError& e) {
    throw FormatError(fmt::format("{}: metadata '{}alphabet': {}; convert the checkpoint again", path, P, e.what()));
  }
  i.num_layers = need_int(m, "num_layers", path);
  i.embed_dim = need_int(m, "embed_dim", path);
  i.attention_heads = need_int(m, "attention_heads", path);
  i.vocab_size = need_int(m, "vocab_size", path);
  const std::string layers = need(m, "repr_layers", path);
  auto parsed = parse_layer_list(layers);
  if (!parsed) throw FormatError(fmt::format("{}: metadata '{}repr_layers' = '{}' is not a list of layer numbers", path, P, layers));
  i.repr_layers = std::move(*parsed);
  for (const auto& g : graph_output_specs()) {
    if (g.metadata_key.empty()) continue;
    const std::string key(g.metadata_key);
    const bool present = g.metadata_optional ? m.count(P + key) && m.at(P + key) == "1" : need(m, key, path) == "1";
    i.outputs.set(g.id, present);
  }
  const bool has_logits = i.has(GraphOutput::Logits);
  i.max_tokens = need_int(m, "max_tokens", path);
  // Models converted before heads existed have masked-token logits (or none).
  if (auto it = m.find(P + "head"); it != m.end()) {
    i.head = parse_output_head(it->second, fmt::format("{}: metadata '{}head'", path, P));
  } else {
    i.head = has_logits ? OutputHead::LanguageModel : OutputHead::None;
  }
  if (has_logits != (i.head != OutputHead::None)) {
    throw FormatError(fmt::format("{}: metadata '{}head' = {} disagrees with '{}has_logits'; convert the checkpoint again",
                                  path, P, output_head_name(i.head), P));
  }
  if (m.count(P + "labels")) {
    const std::string where = fmt::format("{}: metadata '{}labels'", path, P);
    const auto j = jsonin::parse_text(need(m, "labels", path, kMaxLabelsText), where, 2);
    if (!j.is_array()) throw FormatError(fmt::format("{} is {}, not a list of names", where, jsonin::type_text(j)));
    for (const auto& v : j) {
      if (!v.is_string()) throw FormatError(fmt::format("{} holds {}, not a name", where, jsonin::type_text(v)));
      i.labels.push_back(v.get<std::string>());
    }
    check_labels(i.labels, where);
  }
  const bool classifier = i.head == OutputHead::SequenceClassification || i.head == OutputHead::TokenClassification;
  if (classifier == i.labels.empty()) {
    throw FormatError(fmt::format("{}: metadata '{}labels' {} for a {} head; convert the checkpoint again", path, P,
                                  classifier ? "is missing" : "is present", output_head_name(i.head)));
  }
  i.precision = parse_precision(need(m, "precision", path), fmt::format("{}: metadata '{}precision'", path, P));
  // Written since the fast-path variants; models without them have explicit attention.
  if (auto it = m.find(P + "attention"); it != m.end()) {
    i.attention = parse_attention(it->second, fmt::format("{}: metadata '{}attention'", path, P));
  }
  if (m.count(P + "int4_block")) i.int4_block = need_int(m, "int4_block", path);
  i.source_file = need(m, "source_file", path);
  i.source_sha256 = need(m, "source_sha256", path);
  i.converter_version = need(m, "converter_version", path);
  i.padding_idx = need_int(m, "padding_idx", path);
  i.cls_idx = need_int(m, "cls_idx", path);
  i.eos_idx = need_int(m, "eos_idx", path);
  i.mask_idx = need_int(m, "mask_idx", path);
  i.prepend_bos = need(m, "prepend_bos", path) == "1";
  i.append_eos = need(m, "append_eos", path) == "1";
  const Alphabet a = i.make_alphabet();
  if (a.padding_idx() != i.padding_idx || a.cls_idx() != i.cls_idx || a.eos_idx() != i.eos_idx ||
      a.mask_idx() != i.mask_idx || static_cast<int64_t>(a.size()) != i.vocab_size) {
    throw FormatError(fmt::format("{}: special token ids in the metadata disagree with the {} alphabet", path, a.name()));
  }
  return i;
}

std::map<std::string, std::string> ModelInfo::to_metadata() const {
  auto b = [](bool v) { return std::string(v ? "1" : "0"); };
  std::map<std::string, std::string> m{
      {P + "format_revision", std::to_string(format_revision)}, {P + "family", family_name(family)},
      {P + "variant", variant}, {P + "alphabet", Alphabet::for_kind(alphabet).name()},
      {P + "num_layers", std::to_string(num_layers)}, {P + "embed_dim", std::to_string(embed_dim)},
      {P + "attention_heads", std::to_string(attention_heads)}, {P + "vocab_size", std::to_string(vocab_size)},
      {P + "repr_layers", join_layers(repr_layers)}, {P + "head", output_head_name(head)}, {P + "max_tokens", std::to_string(max_tokens)},
      {P + "precision", precision_name(precision)}, {P + "attention", attention_name(attention)}, {P + "int4_block", std::to_string(int4_block)},
      {P + "source_file", source_file},
      {P + "source_sha256", source_sha256}, {P + "converter_version", converter_version},
      {P + "padding_idx", std::to_string(padding_idx)}, {P + "cls_idx", std::to_string(cls_idx)},
      {P + "eos_idx", std::to_string(eos_idx)}, {P + "mask_idx", std::to_string(mask_idx)},
      {P + "prepend_bos", b(prepend_bos)}, {P + "append_eos", b(append_eos)},
  };
  for (const auto& g : graph_output_specs()) {
    if (!g.metadata_key.empty()) m[P + std::string(g.metadata_key)] = b(has(g.id));
  }
  if (!labels.empty()) m[P + "labels"] = nlohmann::json(labels).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return m;
}

int64_t ModelInfo::max_residues() const {
  if (max_tokens <= 0) return 0;
  return max_tokens - (prepend_bos ? 1 : 0) - (append_eos ? 1 : 0);
}

std::string ModelInfo::to_string() const {
  return fmt::format("{} ({} arch, {} alphabet): {} layers, dim {}, {} heads; exported layers [{}]; logits {}; "
                     "contacts {}; attentions {}; precision {}{}, {} attention; max residues {}; source {} (sha256 {}); converter {}",
                     variant, family_name(family), Alphabet::for_kind(alphabet).name(), num_layers, embed_dim, attention_heads, join_layers(repr_layers),
                     has(GraphOutput::Logits) ? (head == OutputHead::LanguageModel ? std::string("yes")
                                                                     : fmt::format("{} ({} labels)", output_head_name(head), labels.size()))
                                : std::string("no"),
                     has(GraphOutput::Contacts) ? "yes" : "no", has(GraphOutput::Attentions) ? "yes" : "no", precision_name(precision),
                     int4_block > 0 ? fmt::format(" (block {})", int4_block) : std::string(), attention_name(attention),
                     max_residues() > 0 ? std::to_string(max_residues()) : std::string("unlimited"), source_file,
                     source_sha256.substr(0, 16), converter_version);
}

}  // namespace esm_onnx
