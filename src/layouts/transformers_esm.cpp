// Hugging Face transformers ESM folders (EsmModel, EsmForMaskedLM, EsmForSequenceClassification,
// EsmForTokenClassification) for ESM-2 (rotary) and ESM-1b / ESM-1v (learned positions) configs.
// Names are the file's with the base model's "esm." prefix dropped. transformers 4.x writes LayerNorm
// parameters as weight/bias and per-layer rotary frequencies; 5.x writes gamma/beta and one frequency
// tensor under a "layer.*" name. Both are read.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "esm_onnx/errors.h"
#include "families/families.h"
#include "layouts/layouts.h"
#include "source/safetensors.h"
#include "source/torch_source.h"
#include "torch/torch_file.h"

namespace esm_onnx::layouts {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using model::NameRule;

std::string canonical(const std::string& n) { return n.rfind("esm.", 0) == 0 ? n.substr(4) : n; }

void linear(std::vector<NameRule>& r, Role role, const std::string& name) {
  r.push_back({role, Part::Weight, {name + ".weight"}});
  r.push_back({role, Part::Bias, {name + ".bias"}});
}
void norm(std::vector<NameRule>& r, Role role, const std::string& name) {
  r.push_back({role, Part::Weight, {name + ".weight", name + ".gamma"}});
  r.push_back({role, Part::Bias, {name + ".bias", name + ".beta"}});
}

model::Layout esm_layout() {
  model::Layout l;
  l.name = "transformers ESM";
  auto& r = l.rules;
  r.push_back({Role::TokenEmbedding, Part::Weight, {"embeddings.word_embeddings.weight"}});
  r.push_back({Role::PositionEmbedding, Part::Weight, {"embeddings.position_embeddings.weight"}});
  norm(r, Role::EmbedNorm, "embeddings.layer_norm");
  norm(r, Role::AttnNorm, "encoder.layer.{i}.attention.LayerNorm");
  linear(r, Role::Query, "encoder.layer.{i}.attention.self.query");
  linear(r, Role::Key, "encoder.layer.{i}.attention.self.key");
  linear(r, Role::Value, "encoder.layer.{i}.attention.self.value");
  linear(r, Role::AttnOut, "encoder.layer.{i}.attention.output.dense");
  r.push_back({Role::RotaryFreq, Part::Weight,
               {"encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq",
                "encoder.layer.*.attention.self.rotary_embeddings.inv_freq", "rotary_embeddings.inv_freq"}});
  norm(r, Role::FfnNorm, "encoder.layer.{i}.LayerNorm");
  linear(r, Role::FfnUp, "encoder.layer.{i}.intermediate.dense");
  linear(r, Role::FfnDown, "encoder.layer.{i}.output.dense");
  norm(r, Role::FinalNorm, "encoder.emb_layer_norm_after");
  linear(r, Role::LmDense, "lm_head.dense");
  norm(r, Role::LmNorm, "lm_head.layer_norm");
  // The decoder is tied to the word embeddings and often not written.
  r.push_back({Role::LmOut, Part::Weight, {"lm_head.decoder.weight", "embeddings.word_embeddings.weight"}});
  r.push_back({Role::LmOut, Part::Bias, {"lm_head.bias", "lm_head.decoder.bias"}});
  linear(r, Role::ContactRegression, "contact_head.regression");
  linear(r, Role::ClassifierDense, "classifier.dense");
  r.push_back({Role::ClassifierOut, Part::Weight, {"classifier.out_proj.weight", "classifier.weight"}});
  r.push_back({Role::ClassifierOut, Part::Bias, {"classifier.out_proj.bias", "classifier.bias"}});
  // Written by some versions, never used by the model: the position table of rotary models (the
  // loader drops it), the position-id buffer, the pooler (EsmModel's pooler_output is not an output here).
  l.ignored = {"embeddings.position_embeddings.weight", "embeddings.position_ids", "pooler.dense.weight",
               "pooler.dense.bias", "encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq",
               "rotary_embeddings.inv_freq"};
  return l;
}

json read_config(const std::string& dir) {
  const std::string path = (fs::path(dir) / "config.json").string();
  std::ifstream in(path);
  if (!in) throw FileError(fmt::format("{}: cannot read: a transformers model folder needs its config.json", path));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw FormatError(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

int64_t int_field(const json& cfg, const char* key, const std::string& path, int64_t most) {
  const auto it = cfg.find(key);
  if (it == cfg.end() || !it->is_number_integer()) {
    throw FormatError(fmt::format("{}: '{}' is missing or not an integer", path, key));
  }
  const auto v = it->get<int64_t>();
  if (v < 1 || v > most) throw FormatError(fmt::format("{}: '{}' = {} is outside 1..{}", path, key, v, most));
  return v;
}

bool bool_field(const json& cfg, const char* key, bool fallback) {
  const auto it = cfg.find(key);
  return it != cfg.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

OutputHead head_of(const json& cfg, const std::string& path) {
  std::string arch;
  if (auto it = cfg.find("architectures"); it != cfg.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
    arch = (*it)[0].get<std::string>();
  }
  if (arch == "EsmForMaskedLM") return OutputHead::LanguageModel;
  if (arch == "EsmModel") return OutputHead::None;
  if (arch == "EsmForSequenceClassification") return OutputHead::SequenceClassification;
  if (arch == "EsmForTokenClassification") return OutputHead::TokenClassification;
  if (arch == "EsmForProteinFolding") {
    throw UnsupportedError(fmt::format("{}: an ESMFold model (EsmForProteinFolding); esm-onnx runs the language models, "
                                       "not the folding trunk", path));
  }
  if (arch.empty()) {
    throw FormatError(fmt::format("{}: no 'architectures' entry says which head the model has (EsmForMaskedLM, "
                                  "EsmModel, EsmForSequenceClassification or EsmForTokenClassification)", path));
  }
  throw UnsupportedError(fmt::format("{}: architecture '{}' is not supported; esm-onnx reads EsmModel, EsmForMaskedLM, "
                                     "EsmForSequenceClassification and EsmForTokenClassification", path, arch));
}

std::vector<std::string> labels_of(const json& cfg, const std::string& path) {
  const auto it = cfg.find("id2label");
  if (it == cfg.end() || !it->is_object() || it->empty()) {
    throw FormatError(fmt::format("{}: a classifier without 'id2label'; save the model with transformers so that its "
                                  "labels are written", path));
  }
  std::vector<std::string> labels(it->size());
  std::vector<bool> seen(it->size(), false);
  for (const auto& [k, v] : it->items()) {
    std::size_t id = 0;
    try {
      std::size_t used = 0;
      id = std::stoul(k, &used);
      if (used != k.size()) throw std::invalid_argument(k);
    } catch (const std::exception&) {
      throw FormatError(fmt::format("{}: id2label key '{}' is not a label number", path, k));
    }
    if (id >= labels.size() || seen[id]) {
      throw FormatError(fmt::format("{}: id2label has {} entries but numbers one of them {}", path, labels.size(), k));
    }
    seen[id] = true;
    labels[id] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  return labels;
}

// model.safetensors, its sharded form, or pytorch_model.bin (and its sharded form).
void open_weights(Loaded& out, const std::string& dir) {
  const fs::path d(dir);
  auto shards_of = [&](const std::string& index) {
    const std::string path = (d / index).string();
    std::ifstream in(path);
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      throw FormatError(fmt::format("{}: not valid JSON: {}", path, e.what()));
    }
    std::set<std::string> files;
    if (!j.contains("weight_map") || !j["weight_map"].is_object()) throw FormatError(fmt::format("{}: no weight_map", path));
    for (const auto& [name, file] : j["weight_map"].items()) {
      const std::string f = file.is_string() ? file.get<std::string>() : "";
      if (f.empty() || f.find('/') != std::string::npos || f == "..") {
        throw FormatError(fmt::format("{}: tensor {} is mapped to '{}', not a file of this folder", path, name, f));
      }
      files.insert(f);
    }
    return files;
  };
  auto add_torch = [&](const fs::path& p) {
    std::shared_ptr<const torchfile::TorchFile> file = torchfile::TorchFile::open(p.string());
    add_source(out, std::make_unique<source::TorchSource>(file, *file->root()), canonical);
  };
  if (fs::exists(d / "model.safetensors")) {
    add_source(out, source::SafetensorsSource::open((d / "model.safetensors").string()), canonical);
    out.serialization = "safetensors";
  } else if (fs::exists(d / "model.safetensors.index.json")) {
    for (const auto& f : shards_of("model.safetensors.index.json")) {
      add_source(out, source::SafetensorsSource::open((d / f).string()), canonical);
    }
    out.serialization = "safetensors";
  } else if (fs::exists(d / "pytorch_model.bin")) {
    add_torch(d / "pytorch_model.bin");
    out.serialization = out.sources.front()->container();
  } else if (fs::exists(d / "pytorch_model.bin.index.json")) {
    for (const auto& f : shards_of("pytorch_model.bin.index.json")) add_torch(d / f);
    out.serialization = out.sources.front()->container();
  } else {
    throw FileError(fmt::format("{}: no weights: a transformers model folder holds model.safetensors (or "
                                "pytorch_model.bin, or their sharded index) beside config.json", dir));
  }
}

}  // namespace

Loaded load_transformers_esm(const std::string& dir) {
  const std::string cpath = (fs::path(dir) / "config.json").string();
  const json cfg = read_config(dir);
  if (!cfg.is_object()) throw FormatError(fmt::format("{}: not a JSON object", cpath));
  const std::string type = cfg.value("model_type", "");
  if (type != "esm") {
    throw UnsupportedError(fmt::format("{}: model_type '{}'; esm-onnx reads transformers ESM models (model_type esm)",
                                       cpath, type));
  }
  if (bool_field(cfg, "is_folding_model", false)) {
    throw UnsupportedError(fmt::format("{}: an ESMFold model; esm-onnx runs the language models only", cpath));
  }
  if (bool_field(cfg, "is_decoder", false) || bool_field(cfg, "add_cross_attention", false)) {
    throw UnsupportedError(fmt::format("{}: a decoder or cross-attention configuration; ESM models are encoders", cpath));
  }
  const std::string positions = cfg.value("position_embedding_type", "absolute");
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
  const std::string name = cfg.value("_name_or_path", "");
  if (positions == "absolute" && name.find("esm1v") != std::string::npos) c.variant = "ESM-1v";
  c.num_layers = int_field(cfg, "num_hidden_layers", cpath, 1024);
  c.embed_dim = int_field(cfg, "hidden_size", cpath, 1 << 16);
  c.attention_heads = int_field(cfg, "num_attention_heads", cpath, 1024);
  c.ffn_dim = int_field(cfg, "intermediate_size", cpath, 1 << 18);
  c.arch.token_dropout = bool_field(cfg, "token_dropout", false);
  c.arch.embed_norm = bool_field(cfg, "emb_layer_norm_before", false);
  if (auto it = cfg.find("layer_norm_eps"); it != cfg.end() && it->is_number()) {
    c.arch.layer_norm_eps = it->get<float>();
  } else {
    c.arch.layer_norm_eps = 1e-12f;  // EsmConfig's default
  }
  if (auto it = cfg.find("hidden_act"); it != cfg.end() && it->is_string() && it->get<std::string>() != "gelu") {
    throw UnsupportedError(fmt::format("{}: hidden_act '{}'; ESM layers use GELU", cpath, it->get<std::string>()));
  }
  const Alphabet& alphabet = Alphabet::for_kind(c.alphabet);
  for (auto [key, want] : {std::pair<const char*, int64_t>{"pad_token_id", alphabet.padding_idx()},
                           {"mask_token_id", alphabet.mask_idx()}}) {
    if (auto it = cfg.find(key); it != cfg.end() && it->is_number_integer() && it->get<int64_t>() != want) {
      throw UnsupportedError(fmt::format("{}: {} = {}, but the ESM alphabet has it at {}; a different vocabulary is not "
                                         "supported", cpath, key, it->get<int64_t>(), want));
    }
  }
  c.head = head_of(cfg, cpath);
  if (c.head == OutputHead::SequenceClassification || c.head == OutputHead::TokenClassification) {
    c.labels = labels_of(cfg, cpath);
  }
  open_weights(out, dir);
  out.files.insert(out.files.begin(), cpath);
  c.has_contacts = out.names.count("contact_head.regression.weight") > 0;
  if (!c.has_contacts) out.notices.push_back("no contact_head.regression weights in the folder: the model has no contacts output");
  out.layout = esm_layout();
  return out;
}

}  // namespace esm_onnx::layouts
