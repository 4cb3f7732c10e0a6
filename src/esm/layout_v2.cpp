// fair-esm layout v2: ESM-2 ("cfg" + "model").
#include <fmt/format.h>

#include "esm/layout.h"
#include "esm_onnx/errors.h"

namespace esm_onnx::layout {

Parsed parse_v2(const pickle::Value& cfg, const pickle::Value& state, const std::string& path) {
  pickle::ValuePtr model = cfg.get("model");
  if (!model) throw FormatError(fmt::format("{}: cfg has no 'model' entry", path));
  if (model->get("esm_type") || model->get("trunk")) {
    throw UnsupportedError(fmt::format("{}: this is an ESMFold checkpoint (structure prediction); esm-onnx supports "
                                       "the ESM-2 language model it builds on, not the folding trunk", path));
  }
  Parsed p;
  for (auto& [name, t] : tensors_of(state, path)) {
    // fair-esm: re.sub("^encoder.sentence_encoder.|^encoder.", "", name)
    std::string n = name;
    if (n.rfind("encoder.sentence_encoder.", 0) == 0) n = n.substr(25);
    else if (n.rfind("encoder.", 0) == 0) n = n.substr(8);
    p.tensors[n] = t;
  }
  auto& c = p.config;
  c.family = Family::Esm2;
  c.variant = "ESM-2";
  c.alphabet = AlphabetKind::Esm1b;
  c.num_layers = int_attr(*model, "encoder_layers", path);
  c.embed_dim = int_attr(*model, "encoder_embed_dim", path);
  c.attention_heads = int_attr(*model, "encoder_attention_heads", path);
  c.ffn_dim = 4 * c.embed_dim;
  c.token_dropout = bool_attr(*model, "token_dropout", true);
  c.max_positions = 0;  // rotary: no hard limit (trained on 1024-token crops)
  c.layer_norm_eps = 1e-5f;
  return p;
}

}  // namespace esm_onnx::layout
