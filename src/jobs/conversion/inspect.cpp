#include "esm_onnx/jobs/inspect.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "base/util/numbers.h"
#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/model_info.h"
#include "esm_onnx/checkpoint/checkpoint.h"
#include "esm_onnx/checkpoint/fold_checkpoint.h"
#include "esm_onnx/base/fold_config.h"

namespace esm_onnx {
namespace {

// ESMFold's sizes, as its metadata or its checkpoint gives them.
void add_fold_config(nlohmann::ordered_json& j, const FoldConfig& c) {
  j["stem_layers"] = c.esm_layers;
  j["stem_embed_dim"] = c.esm_dim;
  const auto sizes = nlohmann::ordered_json::parse(c.to_json());  // named: items() views it
  for (const auto& [k, v] : sizes.items()) {
    if (k != "esm_layers" && k != "esm_dim") j[k] = v;
  }
}

nlohmann::ordered_json describe_fold_checkpoint(const std::string& path) {
  const FoldCheckpoint ck = FoldCheckpoint::load(path);
  nlohmann::ordered_json j;
  j["kind"] = ck.stem().source() + " ESMFold checkpoint";
  j["file"] = path;
  j["files"] = ck.files();
  j["stem"] = ck.stem().config().variant;
  add_fold_config(j, ck.config());
  j["head_parameters"] = ck.head_weight_count();
  return j;
}

nlohmann::ordered_json describe_checkpoint(const std::string& path) {
  if (FoldCheckpoint::recognises(path)) return describe_fold_checkpoint(path);
  Checkpoint ck = Checkpoint::load(path);
  const auto& c = ck.config();
  std::map<std::string, int64_t> dtypes;
  uint64_t params = 0;
  for (const auto& t : ck.stored()) {
    ++dtypes[t.dtype];
    uint64_t k = 1;
    for (auto d : t.shape) k *= static_cast<uint64_t>(d);
    params += k;
  }
  nlohmann::ordered_json j;
  j["kind"] = ck.source() + " checkpoint";
  j["file"] = path;
  j["serialization"] = ck.serialization();
  j["model"] = c.variant;
  j["architecture"] = family_name(c.family);
  j["layers"] = c.num_layers;
  j["embed_dim"] = c.embed_dim;
  j["attention_heads"] = c.attention_heads;
  j["ffn_dim"] = c.ffn_dim;
  j["vocab_size"] = c.vocab_size;
  j["alphabet"] = Alphabet::for_kind(c.alphabet).name();
  j["token_dropout"] = c.arch.token_dropout;
  j["max_residues"] = c.max_tokens() > 0 ? c.max_tokens() - 2 : 0;
  j["contacts"] = c.has_contacts;
  j["contact_file"] = ck.contact_file();
  j["head"] = output_head_name(c.head);
  if (!c.labels.empty()) j["labels"] = c.labels;
  j["parameters"] = params;
  j["stored_dtypes"] = dtypes;
  j["notices"] = ck.notices();
  return j;
}

nlohmann::ordered_json describe_onnx(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto m;
  if (!in || !m.ParseFromIstream(&in)) throw FormatError(fmt::format("{}: not an ONNX model", path));
  std::map<std::string, std::string> props;
  for (const auto& p : m.metadata_props()) props[p.key()] = p.value();
  const bool fold = FoldModelInfo::is_fold(props);
  uint64_t inline_bytes = 0, external_bytes = 0;
  std::set<std::string> locations;
  for (const auto& t : m.graph().initializer()) {
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      for (const auto& e : t.external_data()) {
        if (e.key() == "length") {
          const auto n = text::parse_number<uint64_t>(e.value());
          if (!n) throw FormatError(fmt::format("{}: initializer {}: external data length '{}' is not a number", path, t.name(), e.value()));
          external_bytes += *n;
        }
        if (e.key() == "location") locations.insert(e.value());
      }
    } else {
      inline_bytes += t.raw_data().size() + 4 * static_cast<uint64_t>(t.float_data_size()) +
                      8 * static_cast<uint64_t>(t.int64_data_size());
    }
  }
  auto names = [](const auto& vs) {
    std::vector<std::string> out;
    for (const auto& v : vs) out.push_back(v.name());
    return out;
  };
  nlohmann::ordered_json j;
  if (fold) {
    const FoldModelInfo info = FoldModelInfo::from_metadata(props, path);
    j["kind"] = "esm-onnx folding model (ESMFold)";
    j["file"] = path;
    j["stem_file"] = info.stem_file;
    add_fold_config(j, info.config);
    j["nodes"] = m.graph().node_size();
    j["inputs"] = names(m.graph().input());
    j["outputs"] = names(m.graph().output());
    j["weights_inline_bytes"] = inline_bytes;
    j["weights_external_bytes"] = external_bytes;
    j["external_data_files"] = locations;
    j["source_file"] = info.source_file;
    j["source_sha256"] = info.source_sha256;
    j["converter_version"] = info.converter_version;
    j["format_revision"] = info.format_revision;
    return j;
  }
  const ModelInfo info = ModelInfo::from_metadata(props, path);
  j["kind"] = "esm-onnx model";
  j["file"] = path;
  j["model"] = info.variant;
  j["architecture"] = family_name(info.family);
  j["layers"] = info.num_layers;
  j["embed_dim"] = info.embed_dim;
  j["attention_heads"] = info.attention_heads;
  j["vocab_size"] = info.vocab_size;
  j["alphabet"] = Alphabet::for_kind(info.alphabet).name();
  j["exported_layers"] = info.repr_layers;
  // Each optional graph output by its registry name: true when the model has it.
  for (const auto& g : graph_output_specs()) {
    if (!g.metadata_key.empty()) j[std::string(g.name)] = info.has(g.id);
  }
  j["head"] = output_head_name(info.head);
  if (!info.labels.empty()) j["labels"] = info.labels;
  j["precision"] = precision_name(info.precision);
  j["attention"] = attention_name(info.attention);
  if (info.int4_block > 0) j["int4_block"] = info.int4_block;
  j["max_residues"] = info.max_residues();
  j["opset"] = m.opset_import_size() ? m.opset_import(0).version() : 0;
  j["nodes"] = m.graph().node_size();
  j["inputs"] = names(m.graph().input());
  j["outputs"] = names(m.graph().output());
  j["weights_inline_bytes"] = inline_bytes;
  j["weights_external_bytes"] = external_bytes;
  j["external_data_files"] = locations;
  j["source_file"] = info.source_file;
  j["source_sha256"] = info.source_sha256;
  j["converter_version"] = info.converter_version;
  j["format_revision"] = info.format_revision;
  return j;
}

// A folder is a transformers checkpoint; a file is an ONNX model when it says so (its name, or protobuf's
// first field); anything else (a FIFO, a device, a link loop) is refused before a byte is read.
bool is_onnx(const std::string& path) {
  const auto kind = files::path_kind(path);
  if (kind == files::PathKind::Missing) throw FileError(fmt::format("{}: no such file or folder", path));
  if (kind == files::PathKind::Folder) return false;
  const files::RegularFile f = files::RegularFile::open(path, "the file to inspect");
  if (std::filesystem::path(path).extension() == ".onnx") return true;
  char c = 0;
  return ::pread(f.fd(), &c, 1, 0) == 1 && c == 0x08;  // protobuf field 1 (ir_version), varint
}

nlohmann::ordered_json describe(const std::string& path) {
  return is_onnx(path) ? describe_onnx(path) : describe_checkpoint(path);
}

}  // namespace

std::string inspect_json(const std::string& path) { return describe(path).dump(2); }

std::string inspect_text(const std::string& path) {
  const auto j = describe(path);
  std::string out;
  for (const auto& [k, v] : j.items()) {
    std::string val = v.is_string() ? v.get<std::string>() : v.dump();
    if (v.is_array() && v.empty()) val = "-";
    if (v.is_string() && val.empty()) val = "-";
    out += fmt::format("{:<24}{}\n", k + ":", val);
  }
  return out;
}

}  // namespace esm_onnx
