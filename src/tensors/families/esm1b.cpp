// ESM-1b and ESM-1v (fair-esm's roberta_large): learned positions, pre-LayerNorm layers, a final norm and
// the dense LM head. Some configurations add a LayerNorm after the embeddings.
#include "tensors/families/families.h"

namespace esm_onnx::families {

FamilyTraits esm1b() {
  Architecture a;
  a.positions = Positions::Learned;
  return {Family::Esm1b, "ESM-1b", a, AlphabetKind::Esm1b};
}

bool is_esm1v_name(std::string_view name) { return name.find("esm1v") != std::string_view::npos; }

}  // namespace esm_onnx::families
