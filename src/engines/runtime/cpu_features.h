#pragma once
// The CPU's bf16 instructions, and the compute an engine runs with: decided here, once, so that nothing
// changes numbers silently (bf16 is asked for, or chosen by `auto` where the CPU has it, and said so).
#include "esm_onnx/base/options.h"

namespace esm_onnx::runtime {

struct CpuFeatures {
  bool avx512_bf16{false};  // AVX512_BF16 (CPUID 7.1 EAX bit 5) with the OS saving AVX-512 state
  bool amx_bf16{false};     // AMX-BF16 (CPUID 7.0 EDX bit 22) with the OS saving the AMX tile state
  bool bf16() const { return avx512_bf16 || amx_bf16; }
  static CpuFeatures detect();
};

// Compute::Fp32 or Compute::Bf16 (never Auto). UsageError for bf16 on ONNX Runtime, or on a CPU without
// AVX512_BF16 or AMX-BF16 (naming them).
Compute resolve_compute(Engine engine, Compute requested, const CpuFeatures& cpu);

}  // namespace esm_onnx::runtime
