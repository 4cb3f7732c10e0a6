// fair-esm layout v1: ESM-1 (protein_bert_base), ESM-1b and ESM-1v (roberta_large).
#include <fmt/format.h>

#include "esm/layout.h"
#include "esm_onnx/errors.h"

namespace esm_onnx::layout {

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

namespace {

// fair-esm's `pra`: the argument names with their encoder_/decoder_ prefix dropped.
pickle::Value renamed_args(const pickle::Value& args, const std::string& word) {
  pickle::Value out;
  out.kind = pickle::Value::Kind::Object;
  for (const auto& [k, v] : args.dict) {
    if (k->kind != pickle::Value::Kind::String) continue;
    out.dict.emplace_back(pickle::Value::string(py_strip_prefix(k->s, word, word + "_")), v);
  }
  return out;
}

}  // namespace

Parsed parse_v1(const pickle::Value& args, const pickle::Value& state, const std::string& path) {
  const std::string arch = str_attr(args, "arch");
  Parsed p;
  auto raw = tensors_of(state, path);
  pickle::Value a;
  if (arch == "roberta_large") {
    a = renamed_args(args, "encoder");
    for (auto& [name, t] : raw) {
      const std::string n = py_strip_prefix(py_strip_prefix(name, "sentence_encoder", "sentence_encoder."), "encoder", "encoder.");
      p.tensors[n] = t;
    }
    p.config.family = Family::Esm1b;
    p.config.variant = "ESM-1b";
    p.config.alphabet = AlphabetKind::Esm1b;
    p.zero_mask_row = true;
    p.config.emb_layer_norm_before = false;
    for (const auto& [n, t] : p.tensors) {
      if (n.rfind("emb_layer_norm_before", 0) == 0) p.config.emb_layer_norm_before = true;
    }
    p.config.max_positions = int_attr(a, "max_positions", path);
    p.config.layer_norm_eps = 1e-5f;
  } else if (arch == "protein_bert_base") {
    a = renamed_args(args, "decoder");
    for (auto& [name, t] : raw) p.tensors[py_strip_prefix(name, "decoder", "decoder.")] = t;
    p.config.family = Family::Esm1;
    p.config.variant = "ESM-1";
    p.config.alphabet = AlphabetKind::Esm1;
    p.config.final_bias = bool_attr(a, "final_bias", false);
    p.config.max_positions = 0;  // sinusoidal positions: no table to run past
    p.config.layer_norm_eps = 1e-12f;
  } else if (arch == "msa_transformer") {
    throw UnsupportedError(fmt::format("{}: this is an MSA Transformer checkpoint (arch msa_transformer); it takes "
                                       "multiple sequence alignments, which esm-onnx does not support", path));
  } else if (arch.find("invariant_gvp") != std::string::npos) {
    throw UnsupportedError(fmt::format("{}: this is an ESM-IF inverse-folding checkpoint (arch {}); esm-onnx "
                                       "supports the sequence models ESM-1, ESM-1b, ESM-1v and ESM-2", path, arch));
  } else {
    throw UnsupportedError(fmt::format("{}: unknown fair-esm architecture '{}' in args.arch (expected roberta_large "
                                       "or protein_bert_base)", path, arch));
  }
  p.config.num_layers = int_attr(a, "layers", path);
  p.config.embed_dim = int_attr(a, "embed_dim", path);
  p.config.ffn_dim = int_attr(a, "ffn_embed_dim", path);
  p.config.attention_heads = int_attr(a, "attention_heads", path);
  p.config.token_dropout = bool_attr(a, "token_dropout", false);
  return p;
}

}  // namespace esm_onnx::layout
