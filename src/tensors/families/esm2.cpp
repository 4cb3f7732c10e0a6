// ESM-2: ESM-1b's layers with rotary positions instead of a table, trained with token dropout.
#include "tensors/families/families.h"

namespace esm_onnx::families {

FamilyTraits esm2() {
  Architecture a;
  a.positions = Positions::Rotary;
  a.token_dropout = true;
  return {Family::Esm2, "ESM-2", a, AlphabetKind::Esm1b};
}

}  // namespace esm_onnx::families
