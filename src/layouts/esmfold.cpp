// transformers' ESMFold folder: config.json's esmfold_config (trunk, structure_module) and the head's tensors.
#include "layouts/esmfold.h"

#include <fmt/format.h>

#include <filesystem>
#include <optional>
#include <utility>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "formats/source/torch_source.h"
#include "layouts/transformers_folder.h"

namespace esm_onnx::layouts {

namespace fs = std::filesystem;
using transformers::json;

namespace {

std::string config_path(const std::string& dir) { return (fs::path(dir) / "config.json").string(); }

// An int member of `obj` (a sub-object of config.json, named by `where`), `fallback` when absent.
int64_t int_member(const json& obj, const char* key, int64_t fallback, const std::string& where) {
  return jsonin::get_int(obj, key, where).value_or(fallback);
}
float number_member(const json& obj, const char* key, float fallback, const std::string& where) {
  return static_cast<float>(jsonin::get_number(obj, key, where).value_or(fallback));
}

const json& object_member(const json& obj, const char* key, const std::string& where, const json& empty) {
  const json* o = jsonin::get_object(obj, key, where);
  return o ? *o : empty;
}

std::string identity(const std::string& n) { return n; }

}  // namespace

bool is_esmfold(const std::string& path) {
  if (files::path_kind(path) != files::PathKind::Folder) return false;
  if (files::path_kind(config_path(path)) == files::PathKind::Missing) return false;
  const auto cfg = transformers::read_config(path);
  return jsonin::get_string(cfg, "model_type", config_path(path)).value_or("") == "esm" &&
         transformers::is_folding_config(cfg, config_path(path));
}

Loaded load_esmfold_stem(const std::string& path) {
  return transformers::load_transformers_esmfold_stem(path, transformers::read_config(path));
}

namespace {

// Each size of the folding head under its name in transformers' esmfold_config and in fair-esm's cfg (the trunk's
// names are the same; the structure module's are openfold's in fair-esm).
struct TrunkKey {
  const char* name;
  int64_t FoldConfig::*field;
};
constexpr TrunkKey kTrunkKeys[] = {
    {"num_blocks", &FoldConfig::num_blocks},
    {"sequence_state_dim", &FoldConfig::sequence_state_dim},
    {"pairwise_state_dim", &FoldConfig::pairwise_state_dim},
    {"sequence_head_width", &FoldConfig::sequence_head_width},
    {"pairwise_head_width", &FoldConfig::pairwise_head_width},
    {"position_bins", &FoldConfig::position_bins},
    {"max_recycles", &FoldConfig::max_recycles},
};
struct StructureKey {
  const char* transformers;
  const char* fair_esm;
  int64_t StructureModuleConfig::*field;
};
constexpr StructureKey kStructureKeys[] = {
    {"sequence_dim", "c_s", &StructureModuleConfig::sequence_dim},
    {"pairwise_dim", "c_z", &StructureModuleConfig::pairwise_dim},
    {"ipa_dim", "c_ipa", &StructureModuleConfig::ipa_dim},
    {"resnet_dim", "c_resnet", &StructureModuleConfig::resnet_dim},
    {"num_heads_ipa", "no_heads_ipa", &StructureModuleConfig::num_heads_ipa},
    {"num_qk_points", "no_qk_points", &StructureModuleConfig::num_qk_points},
    {"num_v_points", "no_v_points", &StructureModuleConfig::num_v_points},
    {"num_blocks", "no_blocks", &StructureModuleConfig::num_blocks},
    {"num_transition_layers", "no_transition_layers", &StructureModuleConfig::num_transition_layers},
    {"num_resnet_blocks", "no_resnet_blocks", &StructureModuleConfig::num_resnet_blocks},
    {"num_angles", "no_angles", &StructureModuleConfig::num_angles},
};
struct StructureNumber {
  const char* name;  // the same in both
  float StructureModuleConfig::*field;
};
constexpr StructureNumber kStructureNumbers[] = {
    {"trans_scale_factor", &StructureModuleConfig::trans_scale_factor},
    {"epsilon", &StructureModuleConfig::epsilon},
    {"inf", &StructureModuleConfig::inf},
};

enum class Naming { Transformers, FairEsm };

// The folding head's configuration from the source's own (esmfold_config, or fair-esm's cfg.model), absent keys
// taking the source's defaults (FoldConfig's are the release's); `where` names it in errors.
FoldConfig fold_config(const json& fold, const ModelConfig& stem, Naming naming, const std::string& where) {
  const json empty = json::object();
  for (const char* key : {"use_esm_attn_map", "esm_ablate_pairwise", "esm_ablate_sequence", "bypass_lm"}) {
    if (jsonin::get_bool(fold, key, where).value_or(false)) {
      throw UnsupportedError(fmt::format("{}: '{}' is true; esm-onnx builds ESMFold as released, where it is false", where, key));
    }
  }
  FoldConfig c;
  c.esm_layers = stem.num_layers;
  c.esm_dim = stem.embed_dim;
  c.embed_aa = jsonin::get_bool(fold, "embed_aa", where).value_or(true);  // fair-esm always embeds them
  c.lddt_head_hid_dim = int_member(fold, "lddt_head_hid_dim", c.lddt_head_hid_dim, where);
  const std::string tw = where + ".trunk";
  const json& trunk = object_member(fold, "trunk", where, empty);
  for (const auto& k : kTrunkKeys) c.*k.field = int_member(trunk, k.name, c.*k.field, tw);
  const std::string sw = tw + ".structure_module";
  const json& sm = object_member(trunk, "structure_module", tw, empty);
  for (const auto& k : kStructureKeys) {
    c.structure.*k.field = int_member(sm, naming == Naming::Transformers ? k.transformers : k.fair_esm, c.structure.*k.field, sw);
  }
  for (const auto& k : kStructureNumbers) c.structure.*k.field = number_member(sm, k.name, c.structure.*k.field, sw);
  c.validate(where);
  return c;
}

// fair-esm's esmfold_3B_v1.pt: {"cfg": {"model": <omegaconf DictConfig>}, "model": state dict}. The config is
// read without omegaconf: a DictConfig pickles as an object whose _content maps keys to nodes holding _val.
json plain(const pickle::Value& v, const std::string& where, int depth = 0) {
  using Kind = pickle::Value::Kind;
  if (depth > 32) throw FormatError(fmt::format("{}: the ESMFold configuration nests too deep", where));
  switch (v.kind) {
    case Kind::None: return nullptr;
    case Kind::Bool: return v.b;
    case Kind::Int: return v.i;
    case Kind::Float: return v.f;
    case Kind::String: return v.s;
    case Kind::List:
    case Kind::Tuple: {
      json a = json::array();
      for (const auto& item : v.items) a.push_back(plain(*item, where, depth + 1));
      return a;
    }
    case Kind::Dict: {
      json o = json::object();
      for (const auto& [k, item] : v.dict) {
        if (k->kind == Kind::String) o[k->s] = plain(*item, where, depth + 1);
      }
      return o;
    }
    case Kind::Object: {
      if (auto content = v.get("_content")) return plain(*content, where, depth + 1);  // DictConfig, ListConfig
      if (auto val = v.get("_val")) return plain(*val, where, depth + 1);               // a value node
      return nullptr;
    }
    default: return nullptr;
  }
}

// The cfg.model of a fair-esm ESMFold file, or null when the file is not one.
std::optional<json> fair_esm_fold_config(const torchfile::TorchFile& file) {
  const auto& root = *file.root();
  if (root.kind != pickle::Value::Kind::Dict) return std::nullopt;
  auto cfg = root.get("cfg");
  auto model = cfg ? cfg->get("model") : nullptr;
  if (!model) return std::nullopt;
  json m = plain(*model, file.path() + ": cfg.model");
  if (!m.is_object() || !m.contains("trunk")) return std::nullopt;
  return m;
}

// fair-esm's esm_type -> the ESM-2 release its ESMFold loads as the stem (esm/esmfold/v1/esmfold.py's registry).
constexpr std::pair<const char*, const char*> kStems[] = {
    {"esm2_8M", "esm2_t6_8M_UR50D"},     {"esm2_35M", "esm2_t12_35M_UR50D"}, {"esm2_150M", "esm2_t30_150M_UR50D"},
    {"esm2_650M", "esm2_t33_650M_UR50D"}, {"esm2_3B", "esm2_t36_3B_UR50D"},   {"esm2_15B", "esm2_t48_15B_UR50D"},
};

}  // namespace

FoldHead load_esmfold_head(const std::string& path, const ModelConfig& stem) {
  const std::string cpath = config_path(path);
  const auto cfg = transformers::read_config(path);
  const json* fold = jsonin::get_object(cfg, "esmfold_config", cpath);
  if (!fold) throw FormatError(fmt::format("{}: an ESMFold configuration without 'esmfold_config'", cpath));
  FoldHead out;
  out.config = fold_config(*fold, stem, Naming::Transformers, cpath + ": esmfold_config");
  Loaded& t = out.tensors;
  t.source = "transformers";
  transformers::open_weights(t, path, identity);
  for (auto it = t.names.begin(); it != t.names.end();) {
    it = it->first.rfind("esm.", 0) == 0 ? t.names.erase(it) : std::next(it);
  }
  t.files.insert(t.files.begin(), cpath);
  return out;
}

bool is_fair_esm_fold(const std::string& path) {
  if (files::path_kind(path) != files::PathKind::Regular) return false;
  try {
    return fair_esm_fold_config(*torchfile::TorchFile::open(path)).has_value();
  } catch (const Error&) {
    return false;  // not a torch file at all: the ordinary readers say what it is
  }
}

std::string fair_esm_fold_stem(const std::string& path) {
  const auto file = torchfile::TorchFile::open(path);
  const auto cfg = fair_esm_fold_config(*file);
  if (!cfg) throw FormatError(fmt::format("{}: not fair-esm's ESMFold file (no cfg.model with a trunk)", path));
  const std::string type = jsonin::get_string(*cfg, "esm_type", path + ": cfg.model").value_or("esm2_3B");
  for (const auto& [t, name] : kStems) {
    if (type == t) {
      const auto stem = fs::path(path).parent_path() / (std::string(name) + ".pt");
      if (files::path_kind(stem.string()) == files::PathKind::Missing) {
        throw FileError(fmt::format("{}: fair-esm's ESMFold loads its stem {} ({}) from the same folder, which has no "
                                    "such file: download it there (esm-onnx download {} --dir {})", path, stem.string(),
                                    type, name, fs::path(path).parent_path().string()));
      }
      return stem.string();
    }
  }
  throw UnsupportedError(fmt::format("{}: esm_type '{}' is not one of fair-esm's ESM-2 stems", path, type));
}

FoldHead load_fair_esm_fold_head(const std::string& path, const ModelConfig& stem) {
  std::shared_ptr<const torchfile::TorchFile> file = torchfile::TorchFile::open(path);
  const auto cfg = fair_esm_fold_config(*file);
  if (!cfg) throw FormatError(fmt::format("{}: not fair-esm's ESMFold file (no cfg.model with a trunk)", path));
  FoldHead out;
  out.config = fold_config(*cfg, stem, Naming::FairEsm, path + ": cfg.model");
  auto state = file->root()->get("model");
  if (!state || state->kind != pickle::Value::Kind::Dict) throw FormatError(fmt::format("{}: no 'model' state dict", path));
  Loaded& t = out.tensors;
  t.source = "fair-esm";
  t.serialization = file->serialization();
  add_source(t, std::make_unique<source::TorchSource>(file, *state), identity);
  for (auto it = t.names.begin(); it != t.names.end();) {
    it = it->first.rfind("esm.", 0) == 0 ? t.names.erase(it) : std::next(it);
  }
  return out;
}

}  // namespace esm_onnx::layouts
