// The engine and precision tables (include/esm_onnx/base/traits.h).
#include "esm_onnx/base/traits.h"

#include <array>

#include "esm_onnx/base/errors.h"

namespace esm_onnx {
namespace {

constexpr unsigned bit(Precision p) { return 1u << static_cast<unsigned>(p); }

constexpr std::array<EngineTraits, 2> kEngines{{
    {Engine::OnnxRuntime, bit(Precision::Fp32) | bit(Precision::Fp16) | bit(Precision::Int8) | bit(Precision::Int4),
     true, true, false, false, "fp32, fp16, int8 or int4"},
    // Int8 as compressed weights behind a standard DequantizeLinear; bf16 is a compute choice, not a graph.
    {Engine::OpenVino, bit(Precision::Fp32) | bit(Precision::Int8), false, false, true, true, "fp32 or int8"},
}};

constexpr std::array<PrecisionTraits, 4> kPrecisions{{
    {Precision::Fp32, 1.0, {1e-4, 0, 0, "fp32: max abs error <= 1e-4"},
     {0.01, 0.05, "fp32 stem: CA RMSD <= 0.01 A, pLDDT within 0.05"}},
    {Precision::Fp16, 0.5, {0, 0.999, 0, "fp16: cosine >= 0.999"},
     {0.1, 1.0, "fp16 stem: CA RMSD <= 0.1 A, pLDDT within 1"}},
    {Precision::Int8, 0.3, {0, 0.99, 0.95, "int8: cosine >= 0.99 and argmax agreement >= 95%"},
     {0.1, 1.0, "int8 stem: CA RMSD <= 0.1 A, pLDDT within 1"}},
    {Precision::Int4, 0.25, {0, 0.99, 0.95, "int4: cosine >= 0.99 and argmax agreement >= 95%"},
     {0.1, 1.0, "int4 stem: CA RMSD <= 0.1 A, pLDDT within 1"}},
}};

constexpr std::array<FamilyTraits, 4> kFamilies{{
    {Family::Esm1, 1023, true, LongSequences::Truncate},  // 1,024 positions, BOS only
    {Family::Esm1b, 1022, true, LongSequences::Truncate},
    {Family::Esm2, 1022, false, LongSequences::Truncate},  // rotary: runs longer, but trained on 1,024-token crops
    {Family::EsmC, 2048, false, LongSequences::Tile},      // one pass up to its training length, tiles beyond
}};

constexpr FidelityFloor kBf16Compute{0, 0.9999, 0.99, "bf16 compute: cosine >= 0.9999 and argmax agreement >= 99%"};

}  // namespace

const EngineTraits& engine_traits(Engine engine) {
  for (const auto& t : kEngines) {
    if (t.engine == engine) return t;
  }
  throw InternalError("engine_traits: an engine outside the table");
}

const PrecisionTraits& precision_traits(Precision precision) {
  for (const auto& t : kPrecisions) {
    if (t.precision == precision) return t;
  }
  throw InternalError("precision_traits: a precision outside the table");
}

const FamilyTraits& family_traits(Family family) {
  for (const auto& t : kFamilies) {
    if (t.family == family) return t;
  }
  throw InternalError("family_traits: a family outside the table");
}

const FidelityFloor& bf16_compute_floor() { return kBf16Compute; }

}  // namespace esm_onnx
