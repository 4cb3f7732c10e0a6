#pragma once
// What every transformers model folder shares: config.json, the head named by 'architectures', the
// labels of classifiers, and the weights in any of the files save_pretrained writes.
#include <set>
#include <string>
#include <vector>

#include "base/util/bounded_json.h"
#include "layouts/layouts.h"

namespace esm_onnx::layouts::transformers {

using json = jsonin::Json;
using Canonical = std::string (*)(const std::string&);

json read_config(const std::string& dir);
// config.json's members, each type-checked (a wrong type is a FormatError naming the key).
int64_t int_field(const json& cfg, const char* key, const std::string& path, int64_t most);
bool bool_field(const json& cfg, const char* key, bool fallback, const std::string& path);
std::string string_field(const json& cfg, const char* key, const std::string& fallback, const std::string& path);
std::string architecture_of(const json& cfg, const std::string& path);
// "<prefix>ForMaskedLM", "<prefix>Model", "<prefix>ForSequenceClassification", "<prefix>ForTokenClassification".
OutputHead head_of(const json& cfg, const std::string& path, const std::string& prefix);
// id2label in label order; FormatError when a classifier has none.
std::vector<std::string> labels_of(const json& cfg, const std::string& path);
// The shard files a sharded index (model.safetensors.index.json, ...) names, each a plain file name.
std::set<std::string> shard_files(const std::string& index_path);
// model.safetensors, its sharded index, pytorch_model.bin or its sharded index; sets serialization.
void open_weights(Loaded& out, const std::string& dir, Canonical canonical);

// Each model_type's reader.
Loaded load_transformers_esm(const std::string& dir, const json& cfg);
Loaded load_transformers_esmc(const std::string& dir, const json& cfg);
// An ESMFold folder (EsmForProteinFolding): whether config.json says so, and its ESM-2 stem alone.
bool is_folding_config(const json& cfg, const std::string& cpath);
Loaded load_transformers_esmfold_stem(const std::string& dir, const json& cfg);

}  // namespace esm_onnx::layouts::transformers
