// FoldConfig's checks and its metadata JSON.
#include "esm_onnx/base/fold_config.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/util/bounded_json.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx {

namespace {

// Each size with its name and a bound far above any released model, so that a damaged configuration is a
// FormatError and never an allocation of its size.
template <typename F>
void for_each_size(const FoldConfig& c, F&& f) {
  f("esm_layers", c.esm_layers, 1024);
  f("esm_dim", c.esm_dim, 1 << 16);
  f("sequence_state_dim", c.sequence_state_dim, 1 << 16);
  f("pairwise_state_dim", c.pairwise_state_dim, 1 << 12);
  f("sequence_head_width", c.sequence_head_width, 1 << 16);
  f("pairwise_head_width", c.pairwise_head_width, 1 << 12);
  f("position_bins", c.position_bins, 1 << 16);
  f("num_blocks", c.num_blocks, 1024);
  f("lddt_head_hid_dim", c.lddt_head_hid_dim, 1 << 16);
  const auto& s = c.structure;
  f("structure_module.sequence_dim", s.sequence_dim, 1 << 16);
  f("structure_module.pairwise_dim", s.pairwise_dim, 1 << 12);
  f("structure_module.ipa_dim", s.ipa_dim, 1 << 12);
  f("structure_module.resnet_dim", s.resnet_dim, 1 << 16);
  f("structure_module.num_heads_ipa", s.num_heads_ipa, 1024);
  f("structure_module.num_qk_points", s.num_qk_points, 1024);
  f("structure_module.num_v_points", s.num_v_points, 1024);
  f("structure_module.num_blocks", s.num_blocks, 1024);
  f("structure_module.num_transition_layers", s.num_transition_layers, 1024);
  f("structure_module.num_resnet_blocks", s.num_resnet_blocks, 1024);
}

}  // namespace

void FoldConfig::validate(const std::string& where) const {
  for_each_size(*this, [&](const char* name, int64_t v, int64_t most) {
    if (v < 1 || v > most) throw FormatError(fmt::format("{}: ESMFold's {} = {} is outside 1..{}", where, name, v, most));
  });
  if (max_recycles < 0 || max_recycles > 1024) {
    throw FormatError(fmt::format("{}: ESMFold's max_recycles = {} is outside 0..1024", where, max_recycles));
  }
  if (sequence_state_dim % sequence_head_width != 0 || pairwise_state_dim % pairwise_head_width != 0) {
    throw FormatError(fmt::format("{}: ESMFold's head widths ({}, {}) do not divide its state widths ({}, {})", where,
                                  sequence_head_width, pairwise_head_width, sequence_state_dim, pairwise_state_dim));
  }
  if (pairwise_state_dim % 2 != 0) throw FormatError(fmt::format("{}: ESMFold's pairwise_state_dim {} is odd", where, pairwise_state_dim));
  if (structure.num_angles != 7) {
    throw FormatError(fmt::format("{}: ESMFold's structure module predicts {} torsions; the atom tables have 7", where,
                                  structure.num_angles));
  }
  for (auto [name, v] : {std::pair<const char*, float>{"trans_scale_factor", structure.trans_scale_factor},
                         {"epsilon", structure.epsilon}, {"inf", structure.inf}}) {
    if (!(v > 0) || v > 1e30f) throw FormatError(fmt::format("{}: ESMFold's structure_module.{} = {} is not a positive number", where, name, v));
  }
}

std::string FoldConfig::to_json() const {
  nlohmann::ordered_json j;
  for_each_size(*this, [&](const char* name, int64_t v, int64_t) { j[name] = v; });
  j["max_recycles"] = max_recycles;
  j["embed_aa"] = embed_aa;
  j["structure_module.num_angles"] = structure.num_angles;
  j["structure_module.trans_scale_factor"] = structure.trans_scale_factor;
  j["structure_module.epsilon"] = structure.epsilon;
  j["structure_module.inf"] = structure.inf;
  return j.dump();
}

FoldConfig FoldConfig::from_json(const std::string& text, const std::string& where) {
  const auto j = jsonin::parse_text(text, where, 4);
  if (!j.is_object()) throw FormatError(fmt::format("{}: the ESMFold configuration is not a JSON object", where));
  FoldConfig c;
  auto need_int = [&](const char* key) {
    const auto v = jsonin::get_int(j, key, where);
    if (!v) throw FormatError(fmt::format("{}: the ESMFold configuration has no '{}'", where, key));
    return *v;
  };
  auto need_number = [&](const char* key) {
    const auto v = jsonin::get_number(j, key, where);
    if (!v) throw FormatError(fmt::format("{}: the ESMFold configuration has no '{}'", where, key));
    return static_cast<float>(*v);
  };
  c.esm_layers = need_int("esm_layers");
  c.esm_dim = need_int("esm_dim");
  c.sequence_state_dim = need_int("sequence_state_dim");
  c.pairwise_state_dim = need_int("pairwise_state_dim");
  c.sequence_head_width = need_int("sequence_head_width");
  c.pairwise_head_width = need_int("pairwise_head_width");
  c.position_bins = need_int("position_bins");
  c.num_blocks = need_int("num_blocks");
  c.lddt_head_hid_dim = need_int("lddt_head_hid_dim");
  auto& s = c.structure;
  s.sequence_dim = need_int("structure_module.sequence_dim");
  s.pairwise_dim = need_int("structure_module.pairwise_dim");
  s.ipa_dim = need_int("structure_module.ipa_dim");
  s.resnet_dim = need_int("structure_module.resnet_dim");
  s.num_heads_ipa = need_int("structure_module.num_heads_ipa");
  s.num_qk_points = need_int("structure_module.num_qk_points");
  s.num_v_points = need_int("structure_module.num_v_points");
  s.num_blocks = need_int("structure_module.num_blocks");
  s.num_transition_layers = need_int("structure_module.num_transition_layers");
  s.num_resnet_blocks = need_int("structure_module.num_resnet_blocks");
  s.num_angles = need_int("structure_module.num_angles");
  s.trans_scale_factor = need_number("structure_module.trans_scale_factor");
  s.epsilon = need_number("structure_module.epsilon");
  s.inf = need_number("structure_module.inf");
  c.max_recycles = need_int("max_recycles");
  c.embed_aa = jsonin::get_bool(j, "embed_aa", where).value_or(true);
  c.validate(where);
  return c;
}

std::map<std::string, std::string> FoldModelInfo::to_metadata() const {
  return {{kFoldMetadataKey, config.to_json()},
          {"esm_onnx.fold_format_revision", std::to_string(format_revision)},
          {"esm_onnx.fold_stem", stem_file},
          {"esm_onnx.source_file", source_file},
          {"esm_onnx.source_sha256", source_sha256},
          {"esm_onnx.converter_version", converter_version}};
}

FoldModelInfo FoldModelInfo::from_metadata(const std::map<std::string, std::string>& m, const std::string& path) {
  auto get = [&](const std::string& key) -> std::string {
    auto it = m.find(key);
    if (it == m.end()) {
      throw FormatError(fmt::format("{}: not a folding model written by this esm-onnx (no metadata '{}'); convert the "
                                    "checkpoint again", path, key));
    }
    if (it->second.size() > 65536) throw FormatError(fmt::format("{}: metadata '{}' is too long: the file is damaged", path, key));
    return it->second;
  };
  FoldModelInfo i;
  const std::string rev = get("esm_onnx.fold_format_revision");
  if (rev != std::to_string(kFoldFormatRevision)) {
    throw FormatError(fmt::format("{}: folding model format revision {}, this esm-onnx reads revision {}: convert the "
                                  "checkpoint again with this version", path, rev, kFoldFormatRevision));
  }
  i.config = FoldConfig::from_json(get(kFoldMetadataKey), path + ": metadata 'esm_onnx.fold'");
  i.stem_file = get("esm_onnx.fold_stem");
  if (i.stem_file.empty() || i.stem_file.find('/') != std::string::npos || i.stem_file == "." || i.stem_file == "..") {
    throw FormatError(fmt::format("{}: metadata 'esm_onnx.fold_stem' = '{}' is not a file name beside the model", path, i.stem_file));
  }
  i.source_file = get("esm_onnx.source_file");
  i.source_sha256 = get("esm_onnx.source_sha256");
  i.converter_version = get("esm_onnx.converter_version");
  return i;
}

}  // namespace esm_onnx
