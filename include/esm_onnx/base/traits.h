#pragma once
// What each engine and each precision can do, as tables (src/base/util/traits.cpp): convert, the session, the compute
// rule, --verify and the bindings read these instead of comparing enum values of their own.
#include <cstdint>
#include <string_view>

#include "esm_onnx/base/architecture.h"
#include "esm_onnx/base/options.h"

namespace esm_onnx {

struct EngineTraits {
  Engine engine;
  unsigned precisions;    // bit (1 << Precision) for each precision its graphs may hold
  bool microsoft_ops;     // runs ONNX Runtime's com.microsoft ops (fused layers, quantized MatMuls)
  bool cuda;              // can run on --device cuda
  bool bf16_compute;      // chooses bf16 compute for fp32 graphs (--compute)
  bool compiled_cache;    // caches compiled models (--cache-dir)
  std::string_view precisions_text;  // for messages: "fp32 or int8"

  bool takes(Precision p) const { return (precisions & (1u << static_cast<unsigned>(p))) != 0; }
};
const EngineTraits& engine_traits(Engine engine);

// What a precision means for fidelity: the floor --verify holds a graph to against the fp32 reference.
struct FidelityFloor {
  double max_abs_error;    // 0 = not checked
  double min_mean_cosine;  // 0 = not checked
  double min_argmax;       // agreement of logits' argmax, 0 = not checked
  std::string_view text;   // "fp32: max abs error <= 1e-4"
};

// The same for ESMFold, whose stem takes the precision (the folding graph stays fp32): how far its structures may
// lie from the fp32 model's on generated proteins.
struct FoldFloor {
  double max_ca_rmsd;     // Angstrom, after superposition
  double max_plddt_diff;  // 0-100 scale
  std::string_view text;
};

struct PrecisionTraits {
  Precision precision;
  double weight_share;  // bytes of its weights against fp32's (an upper bound: embeddings and norms stay fp32)
  FidelityFloor floor;
  FoldFloor fold_floor;
};
const PrecisionTraits& precision_traits(Precision precision);
// bf16 compute on an fp32 graph (OpenVINO): its own floor.
const FidelityFloor& bf16_compute_floor();

// What a family was trained on: the length jobs tile long sequences to by default (score, embed's tiles).
struct FamilyTraits {
  Family family;
  int64_t training_residues;  // residues per sequence in training: ESM-1b/1v and ESM-2 1,022 (1,024-token crops), ESM C 2,048
  bool positions_limited;     // learned positions: no pass beyond the table (ESM-1, ESM-1b, ESM-1v)
  LongSequences long_sequences;  // embed's default for long records: truncate (esm-extract's), ESM C tile at 2,048
};
const FamilyTraits& family_traits(Family family);

}  // namespace esm_onnx
