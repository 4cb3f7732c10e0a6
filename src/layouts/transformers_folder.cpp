#include "layouts/transformers_folder.h"

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/model_info.h"
#include "formats/source/safetensors.h"
#include "formats/source/torch_source.h"
#include "formats/torch/torch_file.h"

namespace esm_onnx::layouts::transformers {

namespace fs = std::filesystem;

json read_config(const std::string& dir) {
  const std::string path = (fs::path(dir) / "config.json").string();
  if (files::path_kind(path) == files::PathKind::Missing) {
    throw FileError(fmt::format("{}: cannot read: a transformers model folder needs its config.json", path));
  }
  json cfg = jsonin::parse_file(path, "config.json", jsonin::kConfigLimits);
  if (!cfg.is_object()) throw FormatError(fmt::format("{}: is {}, not a JSON object", path, jsonin::type_text(cfg)));
  return cfg;
}

int64_t int_field(const json& cfg, const char* key, const std::string& path, int64_t most) {
  const auto v = jsonin::get_int(cfg, key, path);
  if (!v) throw FormatError(fmt::format("{}: '{}' is missing", path, key));
  if (*v < 1 || *v > most) throw FormatError(fmt::format("{}: '{}' = {} is outside 1..{}", path, key, *v, most));
  return *v;
}

bool bool_field(const json& cfg, const char* key, bool fallback, const std::string& path) {
  return jsonin::get_bool(cfg, key, path).value_or(fallback);
}

std::string string_field(const json& cfg, const char* key, const std::string& fallback, const std::string& path) {
  return jsonin::get_string(cfg, key, path).value_or(fallback);
}

std::string architecture_of(const json& cfg, const std::string& path) {
  const json* a = jsonin::get_array(cfg, "architectures", path);
  if (!a || a->empty()) return {};
  if (!(*a)[0].is_string()) {
    throw FormatError(fmt::format("{}: 'architectures' holds {}, expected class names", path, jsonin::type_text((*a)[0])));
  }
  return (*a)[0].get<std::string>();
}

OutputHead head_of(const json& cfg, const std::string& path, const std::string& prefix) {
  const std::string arch = architecture_of(cfg, path);
  const std::string names = fmt::format("{0}ForMaskedLM, {0}Model, {0}ForSequenceClassification or {0}ForTokenClassification", prefix);
  if (arch == prefix + "ForMaskedLM") return OutputHead::LanguageModel;
  if (arch == prefix + "Model") return OutputHead::None;
  if (arch == prefix + "ForSequenceClassification") return OutputHead::SequenceClassification;
  if (arch == prefix + "ForTokenClassification") return OutputHead::TokenClassification;
  if (arch.empty()) throw FormatError(fmt::format("{}: no 'architectures' entry says which head the model has ({})", path, names));
  throw UnsupportedError(fmt::format("{}: architecture '{}' is not supported; esm-onnx reads {}", path, arch, names));
}

std::vector<std::string> labels_of(const json& cfg, const std::string& path) {
  const json* map = jsonin::get_object(cfg, "id2label", path);
  if (!map || map->empty()) {
    throw FormatError(fmt::format("{}: a classifier without 'id2label'; save the model with transformers so that its "
                                  "labels are written", path));
  }
  if (map->size() > kMaxLabels) {
    throw FormatError(fmt::format("{}: id2label has {} entries, more than the {} a model may carry", path, map->size(), kMaxLabels));
  }
  std::vector<std::string> labels(map->size());
  std::vector<bool> seen(map->size(), false);
  for (const auto& [k, v] : map->items()) {
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
    if (!v.is_string()) {
      throw FormatError(fmt::format("{}: id2label '{}' is {}, not a label name", path, k, jsonin::type_text(v)));
    }
    seen[id] = true;
    labels[id] = v.get<std::string>();
  }
  check_labels(labels, path + ": id2label");
  return labels;
}

// The shard files of a sharded index (model.safetensors.index.json, pytorch_model.bin.index.json).
std::set<std::string> shard_files(const std::string& index_path) {
  const json j = jsonin::parse_file(index_path, "the sharded index", jsonin::kConfigLimits);
  const json* map = j.is_object() ? jsonin::get_object(j, "weight_map", index_path) : nullptr;
  if (!map) throw FormatError(fmt::format("{}: no weight_map", index_path));
  std::set<std::string> files;
  for (const auto& [name, file] : map->items()) {
    const std::string f = file.is_string() ? file.get<std::string>() : "";
    if (f.empty() || f.find('/') != std::string::npos || f.find("..") != std::string::npos) {
      throw FormatError(fmt::format("{}: tensor {} is mapped to '{}', not a file of this folder", index_path, name, f));
    }
    files.insert(f);
  }
  if (files.empty()) {
    throw FormatError(fmt::format("{}: the weight_map names no tensor, so the folder has no weights; the index is "
                                  "damaged or the upload incomplete", index_path));
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
  // Anything at the name counts as there (a FIFO, a link loop): opening it then says what is wrong.
  auto present = [&](const char* name) { return files::path_kind((d / name).string()) != files::PathKind::Missing; };
  if (present("model.safetensors")) {
    add_source(out, source::SafetensorsSource::open((d / "model.safetensors").string()), canonical);
    out.serialization = "safetensors";
  } else if (present("model.safetensors.index.json")) {
    for (const auto& f : shards_of("model.safetensors.index.json")) {
      add_source(out, source::SafetensorsSource::open((d / f).string()), canonical);
    }
    out.serialization = "safetensors";
  } else if (present("pytorch_model.bin")) {
    add_torch(d / "pytorch_model.bin");
    out.serialization = out.sources.front()->container();
  } else if (present("pytorch_model.bin.index.json")) {
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
  // config.json's model_type -> its reader.
  static constexpr struct {
    const char* model_type;
    Loaded (*load)(const std::string&, const transformers::json&);
  } kModelTypes[] = {{"esm", transformers::load_transformers_esm}, {"esmc", transformers::load_transformers_esmc}};
  const auto type = jsonin::get_string(cfg, "model_type", cpath);
  for (const auto& t : kModelTypes) {
    if (type == t.model_type) return t.load(dir, cfg);
  }
  throw UnsupportedError(fmt::format("{}: model_type '{}'; esm-onnx reads transformers ESM (esm) and ESM C (esmc) "
                                     "models", cpath, type.value_or("")));
}

}  // namespace esm_onnx::layouts
