#pragma once
// ESMFold as transformers saves it (EsmForProteinFolding): one folder whose config.json carries
// `esmfold_config` and whose weights hold the ESM-2 stem under "esm." beside the folding head; and as fair-esm
// releases it: the head's file and the ESM-2 stem's beside it. The head's tensor names are the same in both.
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

// fair-esm's pair: esmfold_3B_v1.pt ({"cfg": {"model": <omegaconf DictConfig>}, "model": the head's state dict}) and
// the ESM-2 release its esm_type names (esm2_t36_3B_UR50D.pt), beside it in the same folder.
bool is_fair_esm_fold(const std::string& path);
std::string fair_esm_fold_stem(const std::string& path);  // the stem's path; FileError naming it when absent
FoldHead load_fair_esm_fold_head(const std::string& path, const ModelConfig& stem);

}  // namespace esm_onnx::layouts
