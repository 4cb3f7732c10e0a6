// Weight encodings: fp16 rounding as torch's .half(), int8 and int4 layouts and their error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engines/graph/quantize.h"
#include "formats/torch/torch_file.h"

using namespace esm_onnx::graph;

TEST(Quantize, HalfRoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);                 // rounds up to infinity, as torch does
  EXPECT_EQ(float_to_half(5.9604644775390625e-08f), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(2.9802322387695312e-08f), 0x0000);  // exactly half of it: ties to even (zero)
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048.0f), 0x3C00);    // halfway between 1 and the next: even
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048.0f), 0x3C02);
  EXPECT_EQ(float_to_half(std::nanf("")) & 0x7C00, 0x7C00);
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 3.0f);
  for (int i = 0; i < 10000; ++i) {
    const float f = d(rng);
    const float back = esm_onnx::torchfile::half_to_float(float_to_half(f));
    EXPECT_LE(std::fabs(back - f), std::fabs(f) * (1.0f / 2048.0f) + 1e-7f) << f;
  }
}

TEST(Quantize, Int8PerOutputChannel) {
  const int64_t n = 3, k = 5;
  std::vector<float> w = {0.5f, -1.0f, 0.25f, 0.0f, 1.0f,   // row 0: max 1
                          2.0f, 1.0f, -2.0f, 0.5f, 0.0f,    // row 1: max 2
                          0.0f, 0.0f, 0.0f, 0.0f, 0.0f};    // row 2: all zero
  auto q = quantize_int8(w, n, k);
  ASSERT_EQ(q.q.size(), 15u);
  EXPECT_FLOAT_EQ(q.scale[0], 1.0f / 127.0f);
  EXPECT_FLOAT_EQ(q.scale[1], 2.0f / 127.0f);
  EXPECT_FLOAT_EQ(q.scale[2], 1.0f);
  // B is [K, N]: element (k, n) at k * N + n.
  EXPECT_EQ(q.q[1 * n + 0], -127);
  EXPECT_EQ(q.q[2 * n + 1], -127);
  EXPECT_EQ(q.q[0 * n + 0], 64);  // 63.5 rounds to even
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      EXPECT_NEAR(q.q[c * n + r] * q.scale[r], w[r * k + c], q.scale[r] / 2 + 1e-7f);
}

TEST(Quantize, Int4BlocksWithZeroPoints) {
  const int64_t n = 4, k = 80, block = 32;  // 3 blocks, the last one partial
  std::mt19937 rng(2);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> w(static_cast<std::size_t>(n * k));
  for (auto& v : w) v = d(rng);
  w[5] = 0.0f;
  auto q = quantize_int4(w, n, k, block);
  EXPECT_EQ(q.blocks, 3);
  EXPECT_EQ(q.packed.size(), static_cast<std::size_t>(n * 3 * block / 2));
  EXPECT_EQ(q.scale.size(), static_cast<std::size_t>(n * 3));
  EXPECT_EQ(q.zero_points.size(), static_cast<std::size_t>(n * 2));
  EXPECT_EQ(dequantize_int4(q, block, 0, 5), 0.0f);  // zero stays exactly zero
  double err = 0.0, norm = 0.0;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      const float got = dequantize_int4(q, block, r, c);
      const float scale = q.scale[r * q.blocks + c / block];
      // Clipping may move an extreme weight by up to the clipped part of the range, never more.
      EXPECT_LE(std::fabs(got - w[r * k + c]), 15.0f * scale * 0.5f) << r << "," << c;
      err += (got - w[r * k + c]) * (got - w[r * k + c]);
      norm += w[r * k + c] * w[r * k + c];
    }
  }
  EXPECT_LT(std::sqrt(err / norm), 0.12);  // 4 bits: about 10% relative error on Gaussian weights
  // The padding of the last block carries the zero point, so it adds nothing.
  const int64_t zp_bytes = 2;
  const int zp = q.zero_points[0 * zp_bytes + 2 / 2] & 0xF;  // block 2: low nibble of byte 1
  const uint8_t last = q.packed[(0 * q.blocks + 2) * (block / 2) + (block / 2 - 1)];
  EXPECT_EQ(last & 0xF, zp);
  EXPECT_EQ(last >> 4, zp);
}

TEST(Quantize, Int4RejectsOddBlocks) { EXPECT_THROW(quantize_int4(std::vector<float>(8), 1, 8, 24), std::invalid_argument); }
