// ESM-1 (fair-esm's protein_bert_base): sinusoidal positions, scaled token embeddings, one learned extra
// key and value per layer, no final norm, logits straight from the last layer.
#include "tensors/families/families.h"

namespace esm_onnx::families {

FamilyTraits esm1() {
  Architecture a;
  a.positions = Positions::Sinusoidal;
  a.embed_scale = true;
  a.bias_kv = true;
  a.final_norm = false;
  a.lm_head = LmHeadKind::Projection;
  a.lm_bias = false;  // set from the checkpoint's final_bias
  a.layer_norm_eps = 1e-12f;
  return {Family::Esm1, "ESM-1", a, AlphabetKind::Esm1};
}

ModelConfig config_for(const FamilyTraits& t) {
  ModelConfig c;
  c.family = t.family;
  c.variant = t.variant;
  c.arch = t.arch;
  c.alphabet = t.alphabet;
  return c;
}

}  // namespace esm_onnx::families
