#include "engines/graph/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace esm_onnx::graph {

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFF;
  if (abs >= 0x7F800000) return static_cast<uint16_t>(sign | 0x7C00 | (abs > 0x7F800000 ? 0x200 : 0));  // inf, nan
  if (abs >= 0x477FF000) return static_cast<uint16_t>(sign | 0x7C00);  // rounds above 65504
  if (abs < 0x38800000) {
    // Subnormal half (or zero): scale into the 10-bit mantissa with round to nearest even.
    if (abs < 0x33000000) return sign;
    const uint32_t e = abs >> 23;
    const uint32_t mant = (abs & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - e;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rem = abs & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

std::vector<uint16_t> to_half(const std::vector<float>& x) {
  std::vector<uint16_t> out(x.size());
  std::transform(x.begin(), x.end(), out.begin(), float_to_half);
  return out;
}

Int8Weights quantize_int8(const std::vector<float>& w, int64_t n, int64_t k) {
  if (static_cast<int64_t>(w.size()) != n * k) throw std::invalid_argument("quantize_int8: size mismatch");
  Int8Weights out;
  out.q.resize(w.size());
  out.scale.resize(static_cast<std::size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const float* row = w.data() + r * k;
    float amax = 0.0f;
    for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(row[c]));
    const float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
    out.scale[r] = scale;
    for (int64_t c = 0; c < k; ++c) {
      const float v = std::nearbyint(row[c] / scale);
      out.q[c * n + r] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
    }
  }
  return out;
}

Int4Weights quantize_int4(const std::vector<float>& w, int64_t n, int64_t k, int64_t block) {
  if (static_cast<int64_t>(w.size()) != n * k) throw std::invalid_argument("quantize_int4: size mismatch");
  if (block < 16 || (block & (block - 1)) != 0) throw std::invalid_argument("quantize_int4: block must be a power of two >= 16");
  Int4Weights out;
  out.blocks = (k + block - 1) / block;
  const int64_t blob = block / 2;
  const int64_t zp_bytes = (out.blocks + 1) / 2;
  out.packed.assign(static_cast<std::size_t>(n * out.blocks * blob), 0);
  out.scale.resize(static_cast<std::size_t>(n * out.blocks));
  out.zero_points.assign(static_cast<std::size_t>(n * zp_bytes), 0);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t bi = 0; bi < out.blocks; ++bi) {
      const int64_t c0 = bi * block, c1 = std::min(k, c0 + block);
      // The range always includes 0 so that zero weights (and the padding) stay exactly zero. The full
      // range is rarely best: clipping the extremes a little makes finer steps for the bulk of the weights,
      // so a few shrunken ranges are tried and the one with the least squared error is kept.
      float lo = 0.0f, hi = 0.0f;
      for (int64_t c = c0; c < c1; ++c) {
        lo = std::min(lo, w[r * k + c]);
        hi = std::max(hi, w[r * k + c]);
      }
      float scale = 1.0f;
      uint8_t zp = 0;
      double best = -1.0;
      for (int step = 0; step <= 8 && hi > lo; ++step) {
        const float shrink = 1.0f - 0.05f * static_cast<float>(step);
        const float s_try = (hi - lo) * shrink / 15.0f;
        const auto z_try = static_cast<uint8_t>(std::clamp(std::nearbyint(-lo * shrink / s_try), 0.0f, 15.0f));
        double err = 0.0;
        for (int64_t c = c0; c < c1; ++c) {
          const float v = w[r * k + c];
          const float q = std::clamp(std::nearbyint(v / s_try) + z_try, 0.0f, 15.0f);
          const double d = static_cast<double>((q - z_try) * s_try - v);
          err += d * d;
        }
        if (best < 0.0 || err < best) {
          best = err;
          scale = s_try;
          zp = z_try;
        }
      }
      out.scale[r * out.blocks + bi] = scale;
      out.zero_points[r * zp_bytes + bi / 2] |= static_cast<uint8_t>(zp << ((bi % 2) * 4));
      for (int64_t j = 0; j < block; ++j) {
        const int64_t c = c0 + j;
        uint8_t q = zp;
        if (c < c1) q = static_cast<uint8_t>(std::clamp(std::nearbyint(w[r * k + c] / scale) + zp, 0.0f, 15.0f));
        out.packed[(r * out.blocks + bi) * blob + j / 2] |= static_cast<uint8_t>(q << ((j % 2) * 4));
      }
    }
  }
  return out;
}

float dequantize_int4(const Int4Weights& q, int64_t block, int64_t n, int64_t k) {
  const int64_t bi = k / block, j = k % block, blob = block / 2;
  const uint8_t byte = q.packed[(n * q.blocks + bi) * blob + j / 2];
  const int v = (byte >> ((j % 2) * 4)) & 0xF;
  const int64_t zp_bytes = (q.blocks + 1) / 2;
  const int zp = (q.zero_points[n * zp_bytes + bi / 2] >> ((bi % 2) * 4)) & 0xF;
  return static_cast<float>(v - zp) * q.scale[n * q.blocks + bi];
}

}  // namespace esm_onnx::graph
