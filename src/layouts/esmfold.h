#pragma once
// ESMFold as transformers saves it (EsmForProteinFolding): one folder whose config.json carries
// `esmfold_config` and whose weights hold the ESM-2 stem under "esm." beside the folding head.
#include <string>

#include "esm_onnx/base/fold_config.h"
#include "layouts/layouts.h"

namespace esm_onnx::layouts {

// Whether `path` is a folder whose config.json says EsmForProteinFolding (reads config.json only).
bool is_esmfold(const std::string& path);

// The ESM-2 stem: a Loaded like any transformers ESM model's, with no head.
Loaded load_esmfold_stem(const std::string& path);

// The folding head: its configuration (stem sizes from the stem's) and every non-stem tensor under the
// file's own name.
struct FoldHead {
  FoldConfig config;
  Loaded tensors;
};
FoldHead load_esmfold_head(const std::string& path, const ModelConfig& stem);

}  // namespace esm_onnx::layouts
