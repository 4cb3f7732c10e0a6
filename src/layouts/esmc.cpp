// ESM C in its three spellings, one table: transformers' EsmcModel / EsmcFor* folders
// ("layers.N.self_attn.q_proj"), EvolutionaryScale's release files (a bare state dict,
// "transformer.blocks.N.attn.layernorm_qkv.1" with q, k and v packed, "ffn.1" with the SwiGLU gate and
// input packed, "sequence_head.*"), and the TransformerEngine names some hub repositories carry
// ("layernorm_qkv.layer_norm_weight", "ffn.fc1_weight"). Names are read with a leading "esmc." dropped.
#include <fmt/format.h>

#include <filesystem>

#include "esm_onnx/base/errors.h"
#include "formats/source/safetensors.h"
#include "layouts/transformers_folder.h"
#include "tensors/families/families.h"

namespace esm_onnx::layouts {
namespace {

namespace fs = std::filesystem;
using model::Alt;

std::string canonical(const std::string& n) { return n.rfind("esmc.", 0) == 0 ? n.substr(5) : n; }

const std::string kBlock = "transformer.blocks.{i}.";

model::Layout esmc_layout() {
  model::Layout l;
  l.name = "ESM C";
  auto& r = l.rules;
  const std::string b = kBlock;
  r.push_back({Role::TokenEmbedding, Part::Weight, {"embed_tokens.weight", "embed.weight"}});
  model::add_module(r, Role::AttnNorm,
       {"layers.{i}.input_layernorm.weight", b + "attn.layernorm_qkv.0.weight", b + "attn.layernorm_qkv.layer_norm_weight"},
       {"layers.{i}.input_layernorm.bias", b + "attn.layernorm_qkv.0.bias", b + "attn.layernorm_qkv.layer_norm_bias"});
  const Role qkv[] = {Role::Query, Role::Key, Role::Value};
  const char* hf_qkv[] = {"q_proj", "k_proj", "v_proj"};
  for (int k = 0; k < 3; ++k) {
    model::add_module(r, qkv[k],
         {fmt::format("layers.{{i}}.self_attn.{}.weight", hf_qkv[k]), Alt(b + "attn.layernorm_qkv.1.weight", k, 3),
          Alt(b + "attn.layernorm_qkv.weight", k, 3)},
         {fmt::format("layers.{{i}}.self_attn.{}.bias", hf_qkv[k]), Alt(b + "attn.layernorm_qkv.1.bias", k, 3),
          Alt(b + "attn.layernorm_qkv.bias", k, 3)});
  }
  model::add_module(r, Role::QueryNorm, {"layers.{i}.self_attn.q_norm.weight", b + "attn.q_ln.weight"},
       {"layers.{i}.self_attn.q_norm.bias", b + "attn.q_ln.bias"});
  model::add_module(r, Role::KeyNorm, {"layers.{i}.self_attn.k_norm.weight", b + "attn.k_ln.weight"},
       {"layers.{i}.self_attn.k_norm.bias", b + "attn.k_ln.bias"});
  model::add_module(r, Role::AttnOut, {"layers.{i}.self_attn.o_proj.weight", b + "attn.out_proj.weight"},
       {"layers.{i}.self_attn.o_proj.bias", b + "attn.out_proj.bias"});
  model::add_module(r, Role::FfnNorm,
       {"layers.{i}.post_attention_layernorm.weight", b + "ffn.0.weight", b + "ffn.layer_norm_weight"},
       {"layers.{i}.post_attention_layernorm.bias", b + "ffn.0.bias", b + "ffn.layer_norm_bias"});
  // SwiGLU: silu(first half) * second half of the packed projection.
  model::add_module(r, Role::FfnGate, {"layers.{i}.mlp.gate_proj.weight", Alt(b + "ffn.1.weight", 0, 2), Alt(b + "ffn.fc1_weight", 0, 2)},
       {"layers.{i}.mlp.gate_proj.bias", Alt(b + "ffn.1.bias", 0, 2), Alt(b + "ffn.fc1_bias", 0, 2)});
  model::add_module(r, Role::FfnUp, {"layers.{i}.mlp.up_proj.weight", Alt(b + "ffn.1.weight", 1, 2), Alt(b + "ffn.fc1_weight", 1, 2)},
       {"layers.{i}.mlp.up_proj.bias", Alt(b + "ffn.1.bias", 1, 2), Alt(b + "ffn.fc1_bias", 1, 2)});
  model::add_module(r, Role::FfnDown, {"layers.{i}.mlp.down_proj.weight", b + "ffn.3.weight", b + "ffn.fc2_weight"},
       {"layers.{i}.mlp.down_proj.bias", b + "ffn.3.bias", b + "ffn.fc2_bias"});
  model::add_module(r, Role::FinalNorm, {"norm.weight", "transformer.norm.weight"}, {"norm.bias", "transformer.norm.bias"});
  model::add_module(r, Role::LmDense, {"lm_head.dense.weight", "sequence_head.0.weight", "lm_head.0.weight"},
       {"lm_head.dense.bias", "sequence_head.0.bias", "lm_head.0.bias"});
  model::add_module(r, Role::LmNorm, {"lm_head.layer_norm.weight", "sequence_head.2.weight", "lm_head.2.weight"},
       {"lm_head.layer_norm.bias", "sequence_head.2.bias", "lm_head.2.bias"});
  model::add_module(r, Role::LmOut, {"lm_head.decoder.weight", "sequence_head.3.weight", "lm_head.3.weight"},
       {"lm_head.decoder.bias", "sequence_head.3.bias", "lm_head.3.bias"});
  model::add_module(r, Role::ClassifierDense, {"classifier.dense.weight"}, {"classifier.dense.bias"});
  model::add_module(r, Role::ClassifierOut, {"classifier.out_proj.weight", "score.weight"}, {"classifier.out_proj.bias", "score.bias"});
  // TransformerEngine's serialized module state, and rotary caches some exports keep.
  l.ignored = {"*._extra_state", "*.inv_freq"};
  return l;
}

// The first spelling of (role, part, layer) the checkpoint holds, or nullptr.
const source::TensorInfo* find(const Loaded& in, Role role, Part part, int64_t layer) {
  const auto f = model::locate(in.layout, in.names, role, part, layer);
  return f.at ? &source::require(*f.at->source, f.at->name) : nullptr;
}

// The family's switches for this depth (the residual divisor depends on it).
ModelConfig esmc_config(int64_t layers) {
  ModelConfig c = families::config_for(families::esmc(layers));
  c.num_layers = layers;
  c.max_positions = 0;  // rotary: no table to run past
  return c;
}

// The released sizes get their names.
void name_release(ModelConfig& c) {
  if (c.embed_dim == 960 && c.num_layers == 30) c.variant = "ESM C 300M";
  if (c.embed_dim == 1152 && c.num_layers == 36) c.variant = "ESM C 600M";
}

}  // namespace

Loaded load_esmc_state(std::unique_ptr<source::TensorSource> src) {
  Loaded out;
  out.source = "ESM C";
  out.serialization = src->container();
  out.layout = esmc_layout();
  const std::string path = src->path();
  add_source(out, std::move(src), canonical);
  const auto* embed = find(out, Role::TokenEmbedding, Part::Weight, -1);
  const auto* attn0 = find(out, Role::AttnOut, Part::Weight, 0);
  if (!embed || !attn0) {
    throw UnsupportedError(fmt::format(
        "{}: a state dict that is neither fair-esm's checkpoint (with 'model' and 'args' or 'cfg') nor ESM C's (with "
        "embed.weight and transformer.blocks.0.*); for a transformers model give its folder (config.json beside the "
        "weights)", path));
  }
  // The release files carry no configuration: the sizes come from the tensors, with 64-wide heads as released.
  int64_t layers = 0;
  while (find(out, Role::AttnOut, Part::Weight, layers)) ++layers;
  ModelConfig c = esmc_config(layers);
  c.embed_dim = embed->shape.size() == 2 ? embed->shape[1] : 0;
  if (c.embed_dim <= 0 || c.embed_dim % 64 != 0) {
    throw FormatError(fmt::format("{}: the token embedding is {} wide; ESM C's width is a multiple of its 64-wide heads",
                                  path, c.embed_dim));
  }
  c.attention_heads = c.embed_dim / 64;
  const auto* down = find(out, Role::FfnDown, Part::Weight, 0);
  c.ffn_dim = down && down->shape.size() == 2 ? down->shape[1] : 0;
  c.head = find(out, Role::LmOut, Part::Weight, -1) ? OutputHead::LanguageModel : OutputHead::None;
  c.arch.attention_bias = find(out, Role::Query, Part::Bias, 0) != nullptr;
  c.arch.ffn_bias = find(out, Role::FfnDown, Part::Bias, 0) != nullptr;
  name_release(c);
  out.config = c;
  out.notices.push_back("ESM C has no contact head: the model has no contacts output");
  return out;
}

Loaded load_safetensors(const std::string& path) { return load_esmc_state(source::SafetensorsSource::open(path)); }

namespace transformers {

Loaded load_transformers_esmc(const std::string& dir, const json& cfg) {
  const std::string cpath = (fs::path(dir) / "config.json").string();
  Loaded out;
  out.source = "transformers";
  out.layout = esmc_layout();
  ModelConfig c = esmc_config(int_field(cfg, "num_hidden_layers", cpath, 1024));
  c.embed_dim = int_field(cfg, "hidden_size", cpath, 1 << 16);
  c.attention_heads = int_field(cfg, "num_attention_heads", cpath, 1024);
  c.ffn_dim = int_field(cfg, "intermediate_size", cpath, 1 << 18);
  if (const auto hd = jsonin::get_int(cfg, "head_dim", cpath); hd && *hd * c.attention_heads != c.embed_dim) {
    throw UnsupportedError(fmt::format("{}: head_dim {} times {} heads is not hidden_size {}; esm-onnx needs "
                                       "hidden_size = heads x head_dim", cpath, *hd, c.attention_heads, c.embed_dim));
  }
  if (const auto kv = jsonin::get_int(cfg, "num_key_value_heads", cpath); kv && *kv != c.attention_heads) {
    throw UnsupportedError(fmt::format("{}: grouped-query attention (num_key_value_heads {}) is not ESM C", cpath, *kv));
  }
  if (const auto act = jsonin::get_string(cfg, "hidden_act", cpath); act && *act != "silu") {
    throw UnsupportedError(fmt::format("{}: hidden_act '{}'; ESM C's feed-forward is SwiGLU (silu)", cpath, *act));
  }
  c.arch.attention_bias = bool_field(cfg, "attention_bias", false, cpath);
  c.arch.ffn_bias = bool_field(cfg, "mlp_bias", false, cpath);
  if (const json* rp = jsonin::get_object(cfg, "rope_parameters", cpath)) {
    const std::string where = cpath + ": rope_parameters";
    if (const auto type = jsonin::get_string(*rp, "rope_type", where).value_or("default"); type != "default") {
      throw UnsupportedError(fmt::format("{}: rope_type '{}'; ESM C uses the default rotary embedding", cpath, type));
    }
    if (const auto t = jsonin::get_number(*rp, "rope_theta", where)) c.arch.rope_theta = *t;
  } else if (const auto t = jsonin::get_number(cfg, "rope_theta", cpath)) {
    c.arch.rope_theta = *t;
  }
  c.head = head_of(cfg, cpath, "Esmc");
  if (c.head == OutputHead::SequenceClassification || c.head == OutputHead::TokenClassification) {
    c.labels = labels_of(cfg, cpath);
  }
  name_release(c);
  out.config = c;
  open_weights(out, dir, canonical);
  out.files.insert(out.files.begin(), cpath);
  out.notices.push_back("ESM C has no contact head: the model has no contacts output");
  return out;
}

}  // namespace transformers
}  // namespace esm_onnx::layouts
