// transformers' ESMFold folder: config.json's esmfold_config (trunk, structure_module) and the head's tensors.
#include "layouts/esmfold.h"

#include <fmt/format.h>

#include <filesystem>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
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

FoldHead load_esmfold_head(const std::string& path, const ModelConfig& stem) {
  const std::string cpath = config_path(path);
  const auto cfg = transformers::read_config(path);
  const json empty = json::object();
  const json* fold = jsonin::get_object(cfg, "esmfold_config", cpath);
  if (!fold) throw FormatError(fmt::format("{}: an ESMFold configuration without 'esmfold_config'", cpath));
  const std::string fw = cpath + ": esmfold_config";
  // What the released model does not use, and esm-onnx does not build.
  for (const char* key : {"use_esm_attn_map", "esm_ablate_pairwise", "esm_ablate_sequence", "bypass_lm"}) {
    if (jsonin::get_bool(*fold, key, fw).value_or(false)) {
      throw UnsupportedError(fmt::format("{}: '{}' is true; esm-onnx builds ESMFold as released, where it is false", fw, key));
    }
  }
  FoldHead out;
  FoldConfig& c = out.config;
  c.esm_layers = stem.num_layers;
  c.esm_dim = stem.embed_dim;
  c.embed_aa = jsonin::get_bool(*fold, "embed_aa", fw).value_or(true);
  c.lddt_head_hid_dim = int_member(*fold, "lddt_head_hid_dim", c.lddt_head_hid_dim, fw);
  const std::string tw = fw + ".trunk";
  const json& trunk = object_member(*fold, "trunk", fw, empty);
  c.num_blocks = int_member(trunk, "num_blocks", c.num_blocks, tw);
  c.sequence_state_dim = int_member(trunk, "sequence_state_dim", c.sequence_state_dim, tw);
  c.pairwise_state_dim = int_member(trunk, "pairwise_state_dim", c.pairwise_state_dim, tw);
  c.sequence_head_width = int_member(trunk, "sequence_head_width", c.sequence_head_width, tw);
  c.pairwise_head_width = int_member(trunk, "pairwise_head_width", c.pairwise_head_width, tw);
  c.position_bins = int_member(trunk, "position_bins", c.position_bins, tw);
  c.max_recycles = int_member(trunk, "max_recycles", c.max_recycles, tw);
  const std::string sw = tw + ".structure_module";
  const json& sm = object_member(trunk, "structure_module", tw, empty);
  auto& s = c.structure;
  s.sequence_dim = int_member(sm, "sequence_dim", s.sequence_dim, sw);
  s.pairwise_dim = int_member(sm, "pairwise_dim", s.pairwise_dim, sw);
  s.ipa_dim = int_member(sm, "ipa_dim", s.ipa_dim, sw);
  s.resnet_dim = int_member(sm, "resnet_dim", s.resnet_dim, sw);
  s.num_heads_ipa = int_member(sm, "num_heads_ipa", s.num_heads_ipa, sw);
  s.num_qk_points = int_member(sm, "num_qk_points", s.num_qk_points, sw);
  s.num_v_points = int_member(sm, "num_v_points", s.num_v_points, sw);
  s.num_blocks = int_member(sm, "num_blocks", s.num_blocks, sw);
  s.num_transition_layers = int_member(sm, "num_transition_layers", s.num_transition_layers, sw);
  s.num_resnet_blocks = int_member(sm, "num_resnet_blocks", s.num_resnet_blocks, sw);
  s.num_angles = int_member(sm, "num_angles", s.num_angles, sw);
  s.trans_scale_factor = number_member(sm, "trans_scale_factor", s.trans_scale_factor, sw);
  s.epsilon = number_member(sm, "epsilon", s.epsilon, sw);
  s.inf = number_member(sm, "inf", s.inf, sw);
  c.validate(cpath);

  Loaded& t = out.tensors;
  t.source = "transformers";
  transformers::open_weights(t, path, identity);
  for (auto it = t.names.begin(); it != t.names.end();) {
    it = it->first.rfind("esm.", 0) == 0 ? t.names.erase(it) : std::next(it);
  }
  t.files.insert(t.files.begin(), cpath);
  return out;
}

}  // namespace esm_onnx::layouts
