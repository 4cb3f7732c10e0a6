#include "engines/runtime/cpu_features.h"

#include <fmt/format.h>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/traits.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace esm_onnx::runtime {

CpuFeatures CpuFeatures::detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return f;  // no OSXSAVE: no XGETBV
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  const uint64_t xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  const bool avx512_state = (xcr0 & 0xe6) == 0xe6;                 // SSE, AVX, opmask, ZMM halves
  const bool amx_state = (xcr0 & (3ull << 17)) == (3ull << 17);    // XTILECFG, XTILEDATA
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  const bool avx512f = b & (1u << 16);
  f.amx_bf16 = amx_state && (d & (1u << 22));
  unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
  if (a >= 1 && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512_bf16 = avx512_state && avx512f && (a1 & (1u << 5));
#endif
  return f;
}

Compute resolve_compute(Engine engine, Compute requested, const CpuFeatures& cpu) {
  if (!engine_traits(engine).bf16_compute) {
    if (requested == Compute::Bf16) {
      throw UsageError("--compute bf16: ONNX Runtime computes in the graph's own precision; bf16 compute needs "
                       "--engine openvino (on a model from convert --engine openvino)");
    }
    return Compute::Fp32;
  }
  if (requested == Compute::Bf16 && !cpu.bf16()) {
    throw UsageError("--compute bf16: this CPU has neither AVX512_BF16 nor AMX-BF16, the instructions bf16 compute "
                     "needs; use --compute fp32 (or auto)");
  }
  if (requested == Compute::Auto) return cpu.bf16() ? Compute::Bf16 : Compute::Fp32;
  return requested;
}

}  // namespace esm_onnx::runtime
