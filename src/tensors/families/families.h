#pragma once
// Each family's architecture switches and alphabet, one file per family. Loaders start from these and
// set only what a checkpoint's own configuration decides (token dropout, an embedding norm, ...).
#include <string_view>

#include "esm_onnx/base/model_config.h"

namespace esm_onnx::families {

struct FamilyTraits {
  Family family;
  const char* variant;  // the default name to show
  Architecture arch;
  AlphabetKind alphabet;
};

FamilyTraits esm1();
FamilyTraits esm1b();
FamilyTraits esm2();
FamilyTraits esmc(int64_t layers);  // the residual divisor depends on the depth

// ESM-1v is ESM-1b's architecture trained for variant effects; only its released names tell them apart
// ("esm1v_t33_650M_UR90S_1", "facebook/esm1v_t33_650M_UR90S_1"). It has no contact-regression file.
bool is_esm1v_name(std::string_view name);
inline constexpr const char* kEsm1vVariant = "ESM-1v";

// A ModelConfig with the family's switches, alphabet and name filled in.
ModelConfig config_for(const FamilyTraits& traits);

}  // namespace esm_onnx::families
