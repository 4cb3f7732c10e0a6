// fair-esm checkpoints: v1 (top-level "args": ESM-1 as protein_bert_base, ESM-1b/ESM-1v as roberta_large)
// and v2 (top-level "cfg": ESM-2). Names are fair-esm's module names after its own upgrade renames.
#include <fmt/format.h>

#include <algorithm>

#include <filesystem>
#include <map>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "formats/pickle/value.h"
#include "formats/source/torch_source.h"
#include "formats/torch/torch_file.h"
#include "layouts/layouts.h"
#include "tensors/families/families.h"

namespace esm_onnx::layouts {
namespace {

using pickle::Value;

// Python's `"".join(s.split(sep)[1:]) if cond in s else s`, as fair-esm's renames are written.
std::string py_strip_prefix(const std::string& s, const std::string& cond, const std::string& sep) {
  if (s.find(cond) == std::string::npos) return s;
  std::string out;
  std::size_t pos = s.find(sep);
  while (pos != std::string::npos) {
    const std::size_t start = pos + sep.size();
    const std::size_t next = s.find(sep, start);
    out += s.substr(start, next == std::string::npos ? std::string::npos : next - start);
    pos = next;
  }
  return out;
}

// v2: re.sub("^encoder.sentence_encoder.|^encoder.", "", name)
std::string canonical_v2(const std::string& n) {
  if (n.rfind("encoder.sentence_encoder.", 0) == 0) return n.substr(25);
  if (n.rfind("encoder.", 0) == 0) return n.substr(8);
  return n;
}
std::string canonical_roberta(const std::string& n) {
  return py_strip_prefix(py_strip_prefix(n, "sentence_encoder", "sentence_encoder."), "encoder", "encoder.");
}
std::string canonical_protein_bert(const std::string& n) { return py_strip_prefix(n, "decoder", "decoder."); }
std::string canonical_contacts(const std::string& n) { return n; }

model::Layout fair_esm_layout(Family family) {
  model::Layout l;
  l.name = "fair-esm";
  l.strict = false;  // released files carry fairseq bookkeeping tensors (versions, float buffers)
  auto& r = l.rules;
  // ESM-1b and ESM-2 tie the embedding to the output projection; what the loaded model holds in both
  // is lm_head.weight, loaded last.
  const bool tied = family != Family::Esm1;
  r.push_back({Role::TokenEmbedding, Part::Weight, {tied ? "lm_head.weight" : "embed_tokens.weight"}});
  r.push_back({Role::PositionEmbedding, Part::Weight, {"embed_positions.weight"}});
  model::add_module(r, Role::EmbedNorm, "emb_layer_norm_before");
  model::add_module(r, Role::AttnNorm, "layers.{i}.self_attn_layer_norm");
  model::add_module(r, Role::Query, "layers.{i}.self_attn.q_proj");
  model::add_module(r, Role::Key, "layers.{i}.self_attn.k_proj");
  model::add_module(r, Role::Value, "layers.{i}.self_attn.v_proj");
  model::add_module(r, Role::AttnOut, "layers.{i}.self_attn.out_proj");
  r.push_back({Role::BiasK, Part::Weight, {"layers.{i}.self_attn.bias_k"}});
  r.push_back({Role::BiasV, Part::Weight, {"layers.{i}.self_attn.bias_v"}});
  r.push_back({Role::RotaryFreq, Part::Weight, {"layers.{i}.self_attn.rot_emb.inv_freq"}});
  model::add_module(r, Role::FfnNorm, "layers.{i}.final_layer_norm");
  model::add_module(r, Role::FfnUp, "layers.{i}.fc1");
  model::add_module(r, Role::FfnDown, "layers.{i}.fc2");
  model::add_module(r, Role::FinalNorm, "emb_layer_norm_after");
  model::add_module(r, Role::LmDense, "lm_head.dense");
  model::add_module(r, Role::LmNorm, "lm_head.layer_norm");
  if (tied) {
    model::add_module(r, Role::LmOut, "lm_head");
  } else {
    r.push_back({Role::LmOut, Part::Weight, {"embed_out"}});
    r.push_back({Role::LmOut, Part::Bias, {"embed_out_bias"}});
  }
  model::add_module(r, Role::ContactRegression, "contact_head.regression");
  if (family == Family::Esm1b) l.zero_mask_row_of = "embed_tokens.weight";
  return l;
}

int64_t int_attr(const Value& obj, const std::string& name, const std::string& path) {
  auto v = obj.get(name);
  if (!v || v->kind != Value::Kind::Int) {
    throw FormatError(fmt::format("{}: the model arguments lack the integer '{}'", path, name));
  }
  // Far above any released ESM model, far below what would exhaust memory before the tensors are checked.
  static const std::map<std::string, int64_t> kLimits = {
      {"layers", 1024}, {"encoder_layers", 1024}, {"embed_dim", 1 << 16}, {"encoder_embed_dim", 1 << 16},
      {"ffn_embed_dim", 1 << 18}, {"attention_heads", 1024}, {"encoder_attention_heads", 1024},
      {"max_positions", 1 << 20}};
  const auto limit = kLimits.find(name);
  const int64_t most = limit == kLimits.end() ? (int64_t{1} << 32) : limit->second;
  if (v->i < 1 || v->i > most) {
    throw FormatError(fmt::format("{}: model argument '{}' = {} is outside 1..{}; the file is corrupt or not an ESM "
                                  "checkpoint", path, name, v->i, most));
  }
  return v->i;
}

bool bool_attr(const Value& obj, const std::string& name, bool fallback) {
  auto v = obj.get(name);
  if (!v) return fallback;
  if (v->kind == Value::Kind::Bool) return v->b;
  if (v->kind == Value::Kind::Int) return v->i != 0;
  return fallback;
}

std::string str_attr(const Value& obj, const std::string& name) {
  auto v = obj.get(name);
  return v && v->kind == Value::Kind::String ? v->s : std::string();
}

// fair-esm's `pra`: the argument names with their encoder_/decoder_ prefix dropped.
Value renamed_args(const Value& args, const std::string& word) {
  Value out;
  out.kind = Value::Kind::Object;
  for (const auto& [k, v] : args.dict) {
    if (k->kind != Value::Kind::String) continue;
    out.dict.emplace_back(Value::string(py_strip_prefix(k->s, word, word + "_")), v);
  }
  return out;
}

using Canonical = std::string (*)(const std::string&);

struct V1 {
  ModelConfig config;
  Canonical canonical;
};

// args.arch -> how its arguments are named and what it is. A name without a reader is refused with its
// `unsupported` text.
struct V1Arch {
  const char* arch;
  const char* arg_prefix;  // fair-esm drops it from the argument names ("encoder_layers" -> "layers")
  void (*configure)(V1& out, const Value& args, const Value& state, const std::string& path);
  const char* unsupported;  // set for the architectures esm-onnx does not run
};

void configure_roberta(V1& out, const Value& a, const Value& state, const std::string& path) {
  out.config = families::config_for(families::esm1b());
  out.canonical = canonical_roberta;
  for (const auto& [k, v] : state.dict) {
    if (k->kind == Value::Kind::String && canonical_roberta(k->s).rfind("emb_layer_norm_before", 0) == 0) {
      out.config.arch.embed_norm = true;
    }
  }
  out.config.max_positions = int_attr(a, "max_positions", path);
}

void configure_protein_bert(V1& out, const Value& a, const Value&, const std::string&) {
  out.config = families::config_for(families::esm1());
  out.canonical = canonical_protein_bert;
  out.config.arch.lm_bias = bool_attr(a, "final_bias", false);
  out.config.max_positions = 0;  // sinusoidal positions: no table to run past
}

constexpr V1Arch kV1Archs[] = {
    {"roberta_large", "encoder", configure_roberta, nullptr},
    {"protein_bert_base", "decoder", configure_protein_bert, nullptr},
    {"msa_transformer", "", nullptr,
     "this is an MSA Transformer checkpoint (arch msa_transformer); it takes multiple sequence alignments, which "
     "esm-onnx does not support"},
    {"invariant_gvp", "", nullptr,
     "this is an ESM-IF inverse-folding checkpoint; esm-onnx supports the sequence models ESM-1, ESM-1b, ESM-1v, "
     "ESM-2 and ESM C"},
};

V1 parse_v1(const Value& args, const Value& state, const std::string& path) {
  const std::string arch = str_attr(args, "arch");
  const auto* known = std::find_if(std::begin(kV1Archs), std::end(kV1Archs), [&](const V1Arch& k) {
    return k.configure ? arch == k.arch : arch.find(k.arch) != std::string::npos;
  });
  if (known == std::end(kV1Archs)) {
    throw UnsupportedError(fmt::format("{}: unknown fair-esm architecture '{}' in args.arch (expected roberta_large "
                                       "or protein_bert_base)", path, arch));
  }
  if (!known->configure) throw UnsupportedError(fmt::format("{}: {} (args.arch {})", path, known->unsupported, arch));
  const Value a = renamed_args(args, known->arg_prefix);
  V1 out{};
  known->configure(out, a, state, path);
  auto& c = out.config;
  c.num_layers = int_attr(a, "layers", path);
  c.embed_dim = int_attr(a, "embed_dim", path);
  c.ffn_dim = int_attr(a, "ffn_embed_dim", path);
  c.attention_heads = int_attr(a, "attention_heads", path);
  c.arch.token_dropout = bool_attr(a, "token_dropout", false);
  return out;
}

ModelConfig parse_v2(const Value& cfg, const std::string& path) {
  pickle::ValuePtr m = cfg.get("model");
  if (!m) throw FormatError(fmt::format("{}: cfg has no 'model' entry", path));
  if (m->get("esm_type") || m->get("trunk")) {
    throw UnsupportedError(fmt::format("{}: this is an ESMFold checkpoint (structure prediction); esm-onnx supports "
                                       "the ESM-2 language model it builds on, not the folding trunk", path));
  }
  ModelConfig c = families::config_for(families::esm2());
  c.num_layers = int_attr(*m, "encoder_layers", path);
  c.embed_dim = int_attr(*m, "encoder_embed_dim", path);
  c.attention_heads = int_attr(*m, "encoder_attention_heads", path);
  c.ffn_dim = 4 * c.embed_dim;
  c.arch.token_dropout = bool_attr(*m, "token_dropout", true);
  c.max_positions = 0;  // rotary: no hard limit (trained on 1024-token crops)
  return c;
}

std::string contact_path_for(const std::string& path) {
  std::filesystem::path p(path);
  return (p.parent_path() / (p.stem().string() + "-contact-regression.pt")).string();
}

}  // namespace

void add_source(Loaded& into, std::unique_ptr<source::TensorSource> src, std::string (*canonical)(const std::string&),
                Overlap overlap) {
  for (const auto& t : src->tensors()) {
    const std::string name = canonical(t.name);
    auto [it, fresh] = into.names.try_emplace(name, model::Located{src.get(), t.name});
    if (fresh) continue;
    if (overlap == Overlap::Replace) {
      it->second = {src.get(), t.name};
      continue;
    }
    // Two tensors for one weight (a name with and without a prefix, or in two shards): readers of the same
    // files disagree on which one wins, so neither is taken.
    throw FormatError(fmt::format("{}: tensors '{}' (in {}) and '{}' (in {}) are the same weight {}; keep one of them",
                                  src->path(), it->second.name, it->second.source->path(), t.name, src->path(), name));
  }
  into.files.push_back(src->path());
  into.sources.push_back(std::move(src));
}

Loaded load_torch(const std::string& path) {
  std::shared_ptr<const torchfile::TorchFile> file = torchfile::TorchFile::open(path);
  const auto& root = *file->root();
  if (root.kind == Value::Kind::Dict && root.get("model")) return load_fair_esm(file);
  // A bare state dict (ESM C's release files), or one under "state_dict" as training checkpoints keep it.
  const Value* state = &root;
  if (root.kind == Value::Kind::Dict) {
    if (auto sd = root.get("state_dict"); sd && sd->kind == Value::Kind::Dict) state = sd.get();
  }
  bool has_tensors = false;
  if (state->kind == Value::Kind::Dict) {
    for (const auto& [k, v] : state->dict) has_tensors |= v->kind == Value::Kind::Tensor;
  }
  if (!has_tensors) {
    throw UnsupportedError(fmt::format("{}: holds a {} without fair-esm's 'model' entry or a state dict of tensors; not "
                                       "an ESM checkpoint", path, root.describe()));
  }
  return load_esmc_state(std::make_unique<source::TorchSource>(file, *state));
}

Loaded load_fair_esm(std::shared_ptr<const torchfile::TorchFile> file) {
  const std::string& path = file->path();
  const auto& root = *file->root();
  if (root.kind != Value::Kind::Dict) {
    throw FormatError(fmt::format("{}: holds a {}, not a checkpoint dict", path, root.describe()));
  }
  auto state = root.get("model");
  auto args = root.get("args");
  auto cfg = root.get("cfg");
  if (!state) throw UnsupportedError(fmt::format("{}: no 'model' entry: not a fair-esm checkpoint", path));
  if (state->kind != Value::Kind::Dict) {
    throw FormatError(fmt::format("{}: 'model' is a {}, not a state dict", path, state->describe()));
  }
  Loaded out;
  out.source = "fair-esm";
  out.serialization = file->serialization();
  Canonical canonical = canonical_v2;
  if (args && args->kind == Value::Kind::Object) {
    auto v1 = parse_v1(*args, *state, path);
    out.config = v1.config;
    canonical = v1.canonical;
  } else if (cfg && cfg->kind == Value::Kind::Dict) {
    out.config = parse_v2(*cfg, path);
  } else {
    throw UnsupportedError(fmt::format("{}: neither 'args' (fair-esm v1: ESM-1, ESM-1b, ESM-1v) nor 'cfg' (v2: ESM-2) "
                                       "describes the model", path));
  }
  out.layout = fair_esm_layout(out.config.family);
  add_source(out, std::make_unique<source::TorchSource>(file, *state), canonical);
  const std::string stem = std::filesystem::path(path).stem().string();
  if (out.config.family == Family::Esm1b && families::is_esm1v_name(stem)) out.config.variant = families::kEsm1vVariant;

  const std::string contacts = contact_path_for(path);
  if (files::path_kind(contacts) != files::PathKind::Missing) {  // a FIFO or a link loop: its open says so
    std::shared_ptr<const torchfile::TorchFile> cfile = torchfile::TorchFile::open(contacts);
    const auto& croot = *cfile->root();
    auto cmodel = croot.kind == Value::Kind::Dict ? croot.get("model") : nullptr;
    if (!cmodel) throw FormatError(fmt::format("{}: no 'model' dict of contact-head weights", contacts));
    auto src = std::make_unique<source::TorchSource>(cfile, *cmodel);
    if (!src->find("contact_head.regression.weight")) {
      throw FormatError(fmt::format("{}: lacks contact_head.regression.weight", contacts));
    }
    add_source(out, std::move(src), canonical_contacts, Overlap::Replace);  // fair-esm: the regression file wins
    out.contact_file = contacts;
    out.config.has_contacts = true;
  } else {
    out.notices.push_back(fmt::format("no contact-regression file ({}) beside the checkpoint: the model has no "
                                      "contacts output", std::filesystem::path(contacts).filename().string()));
  }
  return out;
}

}  // namespace esm_onnx::layouts
