#pragma once
// What one record's pair outputs (contacts [L, L], attentions [layers, H, t, t]) take in memory, against what the
// machine has: a record that would need more is skipped with the reason instead of running into the OOM killer.
#include <cstdint>
#include <string>

#include "esm_onnx/engines/model.h"

namespace esm_onnx::runtime {

// Bytes of physical memory (0 when unknown: no check).
uint64_t physical_memory();

// Why a record of `length` residues cannot get its pair outputs on this machine ("" when it can). `one_pass`:
// the record runs as one pass (full, truncate, or a record within one tile); otherwise it is stitched from tiles
// of `tile` residues.
std::string pair_memory_problem(const ModelInfo& info, Includes include, int64_t length, bool one_pass, int64_t tile,
                                uint64_t memory);

}  // namespace esm_onnx::runtime
