#pragma once
// torch.linspace in float32 as its CPU kernel computes each element (from both ends towards the middle), so that
// bin edges and centres built from it are the reference's to the last bit.
#include <cstdint>
#include <vector>

namespace esm_onnx::structure {

inline std::vector<float> linspace(float start, float end, int64_t steps) {
  std::vector<float> out(static_cast<size_t>(steps));
  if (steps == 1) out[0] = start;
  if (steps <= 1) return out;
  const float step = (end - start) / static_cast<float>(steps - 1);
  for (int64_t i = 0; i < steps; ++i) {
    out[static_cast<size_t>(i)] =
        i < steps / 2 ? start + step * static_cast<float>(i) : end - step * static_cast<float>(steps - i - 1);
  }
  return out;
}

}  // namespace esm_onnx::structure
