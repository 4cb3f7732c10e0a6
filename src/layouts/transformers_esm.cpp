// Hugging Face transformers ESM folders (EsmModel, EsmForMaskedLM, EsmForSequenceClassification,
// EsmForTokenClassification) for ESM-2 (rotary) and ESM-1b / ESM-1v (learned positions) configs.
// Names are the file's with the base model's "esm." prefix dropped. transformers 4.x writes LayerNorm
// parameters as weight/bias and per-layer rotary frequencies; 5.x writes gamma/beta and one frequency
// tensor under a "layer.*" name. Both are read.
#include <fmt/format.h>

#include <filesystem>

#include "esm_onnx/base/errors.h"
#include "layouts/transformers_folder.h"
#include "tensors/families/families.h"

namespace esm_onnx::layouts {
namespace {

namespace fs = std::filesystem;
using model::NameRule;
using namespace transformers;

std::string canonical(const std::string& n) { return n.rfind("esm.", 0) == 0 ? n.substr(4) : n; }

// LayerNorm parameters are weight/bias (transformers 4.x) or gamma/beta (5.x).
void norm(std::vector<NameRule>& r, Role role, const std::string& name) {
  model::add_module(r, role, {name + ".weight", name + ".gamma"}, {name + ".bias", name + ".beta"});
}

model::Layout esm_layout() {
  model::Layout l;
  l.name = "transformers ESM";
  auto& r = l.rules;
  r.push_back({Role::TokenEmbedding, Part::Weight, {"embeddings.word_embeddings.weight"}});
  r.push_back({Role::PositionEmbedding, Part::Weight, {"embeddings.position_embeddings.weight"}});
  norm(r, Role::EmbedNorm, "embeddings.layer_norm");
  norm(r, Role::AttnNorm, "encoder.layer.{i}.attention.LayerNorm");
  model::add_module(r, Role::Query, "encoder.layer.{i}.attention.self.query");
  model::add_module(r, Role::Key, "encoder.layer.{i}.attention.self.key");
  model::add_module(r, Role::Value, "encoder.layer.{i}.attention.self.value");
  model::add_module(r, Role::AttnOut, "encoder.layer.{i}.attention.output.dense");
  r.push_back({Role::RotaryFreq, Part::Weight,
               {"encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq",
                "encoder.layer.*.attention.self.rotary_embeddings.inv_freq", "rotary_embeddings.inv_freq"}});
  norm(r, Role::FfnNorm, "encoder.layer.{i}.LayerNorm");
  model::add_module(r, Role::FfnUp, "encoder.layer.{i}.intermediate.dense");
  model::add_module(r, Role::FfnDown, "encoder.layer.{i}.output.dense");
  norm(r, Role::FinalNorm, "encoder.emb_layer_norm_after");
  model::add_module(r, Role::LmDense, "lm_head.dense");
  norm(r, Role::LmNorm, "lm_head.layer_norm");
  // The decoder is tied to the word embeddings and often not written.
  r.push_back({Role::LmOut, Part::Weight, {"lm_head.decoder.weight", "embeddings.word_embeddings.weight"}});
  r.push_back({Role::LmOut, Part::Bias, {"lm_head.bias", "lm_head.decoder.bias"}});
  model::add_module(r, Role::ContactRegression, "contact_head.regression");
  model::add_module(r, Role::ClassifierDense, "classifier.dense");
  r.push_back({Role::ClassifierOut, Part::Weight, {"classifier.out_proj.weight", "classifier.weight"}});
  r.push_back({Role::ClassifierOut, Part::Bias, {"classifier.out_proj.bias", "classifier.bias"}});
  // Written by some versions, never used by the model: the position table of rotary models (the
  // loader drops it), the position-id buffer, the pooler (EsmModel's pooler_output is not an output here).
  l.ignored = {"embeddings.position_embeddings.weight", "embeddings.position_ids", "pooler.dense.weight",
               "pooler.dense.bias", "encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq",
               "rotary_embeddings.inv_freq"};
  return l;
}

}  // namespace

namespace transformers {

bool is_folding_config(const json& cfg, const std::string& cpath) {
  return architecture_of(cfg, cpath) == "EsmForProteinFolding" || bool_field(cfg, "is_folding_model", false, cpath);
}

namespace {

// The stem of a folding model: its "esm." tensors; the folding head's are read by layouts/esmfold.cpp.
constexpr const char* kFoldHeadPrefix = "<folding head>";
std::string stem_canonical(const std::string& n) {
  return n.rfind("esm.", 0) == 0 ? n.substr(4) : kFoldHeadPrefix + n;
}

Loaded load_esm(const std::string& dir, const json& cfg, bool fold_stem) {
  const std::string cpath = (fs::path(dir) / "config.json").string();
  if (!fold_stem && is_folding_config(cfg, cpath)) {
    throw UnsupportedError(fmt::format("{}: an ESMFold model (EsmForProteinFolding): `esm-onnx convert` makes a folding "
                                       "model of it, which `esm-onnx fold` runs; its stem alone is not an embedding "
                                       "model to convert", cpath));
  }
  if (bool_field(cfg, "is_decoder", false, cpath) || bool_field(cfg, "add_cross_attention", false, cpath)) {
    throw UnsupportedError(fmt::format("{}: a decoder or cross-attention configuration; ESM models are encoders", cpath));
  }
  if (auto it = cfg.find("position_embedding_type"); it != cfg.end() && it->is_null()) {
    throw UnsupportedError(fmt::format("{}: position_embedding_type null (a model without position embeddings) is not an "
                                       "ESM configuration (rotary or absolute)", cpath));
  }
  const std::string positions = string_field(cfg, "position_embedding_type", "absolute", cpath);
  Loaded out;
  out.source = "transformers";
  ModelConfig& c = out.config;
  if (positions == "rotary") {
    c = families::config_for(families::esm2());
  } else if (positions == "absolute") {
    c = families::config_for(families::esm1b());
    c.max_positions = int_field(cfg, "max_position_embeddings", cpath, 1 << 20) - 2;
    if (c.max_positions < 1) throw FormatError(fmt::format("{}: max_position_embeddings must exceed 2", cpath));
  } else {
    throw UnsupportedError(fmt::format("{}: position_embedding_type '{}' is not an ESM configuration (rotary or absolute)",
                                       cpath, positions));
  }
  const std::string name = string_field(cfg, "_name_or_path", "", cpath);
  if (positions == "absolute" && families::is_esm1v_name(name)) c.variant = families::kEsm1vVariant;
  c.num_layers = int_field(cfg, "num_hidden_layers", cpath, 1024);
  c.embed_dim = int_field(cfg, "hidden_size", cpath, 1 << 16);
  c.attention_heads = int_field(cfg, "num_attention_heads", cpath, 1024);
  c.ffn_dim = int_field(cfg, "intermediate_size", cpath, 1 << 18);
  c.arch.token_dropout = bool_field(cfg, "token_dropout", false, cpath);
  c.arch.embed_norm = bool_field(cfg, "emb_layer_norm_before", false, cpath);
  const double eps = jsonin::get_number(cfg, "layer_norm_eps", cpath).value_or(1e-12);  // EsmConfig's default
  if (!(eps > 0 && eps < 1)) throw FormatError(fmt::format("{}: layer_norm_eps = {} is not a small positive number", cpath, eps));
  c.arch.layer_norm_eps = static_cast<float>(eps);
  if (const auto act = jsonin::get_string(cfg, "hidden_act", cpath); act && *act != "gelu") {
    throw UnsupportedError(fmt::format("{}: hidden_act '{}'; ESM layers use GELU", cpath, *act));
  }
  const Alphabet& alphabet = Alphabet::for_kind(c.alphabet);
  for (auto [key, want] : {std::pair<const char*, int64_t>{"pad_token_id", alphabet.padding_idx()},
                           {"mask_token_id", alphabet.mask_idx()}}) {
    if (const auto id = jsonin::get_int(cfg, key, cpath); id && *id != want) {
      throw UnsupportedError(fmt::format("{}: {} = {}, but the ESM alphabet has it at {}; a different vocabulary is not "
                                         "supported", cpath, key, *id, want));
    }
  }
  if (fold_stem) {
    // Every hidden state feeds the folding trunk; the stem has no head of its own.
    c.head = OutputHead::None;
    open_weights(out, dir, stem_canonical);
    for (auto it = out.names.begin(); it != out.names.end();) {
      it = it->first.rfind(kFoldHeadPrefix, 0) == 0 ? out.names.erase(it) : std::next(it);
    }
    out.files.insert(out.files.begin(), cpath);
    c.has_contacts = out.names.count("contact_head.regression.weight") > 0;  // bound, not built (the trunk needs none)
    out.layout = esm_layout();
    return out;
  }
  c.head = head_of(cfg, cpath, "Esm");
  if (c.head == OutputHead::SequenceClassification || c.head == OutputHead::TokenClassification) {
    c.labels = labels_of(cfg, cpath);
  }
  open_weights(out, dir, canonical);
  out.files.insert(out.files.begin(), cpath);
  c.has_contacts = out.names.count("contact_head.regression.weight") > 0;
  if (!c.has_contacts) out.notices.push_back("no contact_head.regression weights in the folder: the model has no contacts output");
  out.layout = esm_layout();
  return out;
}

}  // namespace

Loaded load_transformers_esm(const std::string& dir, const json& cfg) { return load_esm(dir, cfg, false); }
Loaded load_transformers_esmfold_stem(const std::string& dir, const json& cfg) { return load_esm(dir, cfg, true); }

}  // namespace transformers

}  // namespace esm_onnx::layouts
