#include "layouts/transformers_folder.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "esm_onnx/errors.h"
#include "source/safetensors.h"
#include "source/torch_source.h"
#include "torch/torch_file.h"

namespace esm_onnx::layouts::transformers {

namespace fs = std::filesystem;

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

std::string architecture_of(const json& cfg) {
  if (auto it = cfg.find("architectures"); it != cfg.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
    return (*it)[0].get<std::string>();
  }
  return {};
}

OutputHead head_of(const json& cfg, const std::string& path, const std::string& prefix) {
  const std::string arch = architecture_of(cfg);
  const std::string names = fmt::format("{0}ForMaskedLM, {0}Model, {0}ForSequenceClassification or {0}ForTokenClassification", prefix);
  if (arch == prefix + "ForMaskedLM") return OutputHead::LanguageModel;
  if (arch == prefix + "Model") return OutputHead::None;
  if (arch == prefix + "ForSequenceClassification") return OutputHead::SequenceClassification;
  if (arch == prefix + "ForTokenClassification") return OutputHead::TokenClassification;
  if (arch.empty()) throw FormatError(fmt::format("{}: no 'architectures' entry says which head the model has ({})", path, names));
  throw UnsupportedError(fmt::format("{}: architecture '{}' is not supported; esm-onnx reads {}", path, arch, names));
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
std::set<std::string> shard_files(const std::string& index_path) {
  std::ifstream in(index_path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw FormatError(fmt::format("{}: not valid JSON: {}", index_path, e.what()));
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw FormatError(fmt::format("{}: no weight_map", index_path));
  }
  std::set<std::string> files;
  for (const auto& [name, file] : j["weight_map"].items()) {
    const std::string f = file.is_string() ? file.get<std::string>() : "";
    if (f.empty() || f.find('/') != std::string::npos || f.find("..") != std::string::npos) {
      throw FormatError(fmt::format("{}: tensor {} is mapped to '{}', not a file of this folder", index_path, name, f));
    }
    files.insert(f);
  }
  return files;
}

void open_weights(Loaded& out, const std::string& dir, Canonical canonical) {
  const fs::path d(dir);
  auto shards_of = [&](const std::string& index) { return shard_files((d / index).string()); };
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


}  // namespace esm_onnx::layouts::transformers

namespace esm_onnx::layouts {

Loaded load_transformers(const std::string& dir) {
  const std::string cpath = (std::filesystem::path(dir) / "config.json").string();
  const auto cfg = transformers::read_config(dir);
  if (!cfg.is_object()) throw FormatError(fmt::format("{}: not a JSON object", cpath));
  const std::string type = cfg.value("model_type", "");
  if (type == "esm") return transformers::load_transformers_esm(dir, cfg);
  if (type == "esmc") return transformers::load_transformers_esmc(dir, cfg);
  throw UnsupportedError(fmt::format("{}: model_type '{}'; esm-onnx reads transformers ESM (esm) and ESM C (esmc) "
                                     "models", cpath, type));
}

}  // namespace esm_onnx::layouts
