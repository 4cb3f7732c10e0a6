#pragma once
// Weight encodings for the reduced precisions: fp16, int8 per output channel, int4 in blocks.
// Inputs are fair-esm Linear weights, row-major [out = N, in = K].
#include <cstdint>
#include <vector>

namespace esm_onnx::graph {

// IEEE binary16, round to nearest even; overflow becomes infinity as torch's .half() does.
uint16_t float_to_half(float f);
std::vector<uint16_t> to_half(const std::vector<float>& x);

// Symmetric int8 per output channel, laid out for com.microsoft DynamicQuantizeMatMul: B is [K, N].
struct Int8Weights {
  std::vector<int8_t> q;      // [K, N]
  std::vector<float> scale;   // [N]
};
Int8Weights quantize_int8(const std::vector<float>& w, int64_t n, int64_t k);

// Asymmetric 4-bit blocks along K, laid out for com.microsoft MatMulNBits: B is [N, blocks, block/2]
// (two values per byte, low nibble first), scales [N * blocks], zero points two per byte [N * ceil(blocks/2)].
// A last partial block is padded with the zero point, so it contributes nothing.
struct Int4Weights {
  int64_t blocks{0};
  std::vector<uint8_t> packed;
  std::vector<float> scale;
  std::vector<uint8_t> zero_points;
};
Int4Weights quantize_int4(const std::vector<float>& w, int64_t n, int64_t k, int64_t block);

// The value MatMulNBits computes with for element (row n, column k): (q - zp) * scale.
float dequantize_int4(const Int4Weights& q, int64_t block, int64_t n, int64_t k);

}  // namespace esm_onnx::graph
