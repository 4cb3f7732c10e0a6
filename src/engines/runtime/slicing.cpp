#include "engines/runtime/slicing.h"

#include <algorithm>

#include "esm_onnx/base/errors.h"

namespace esm_onnx::runtime {

FloatArray mean_rows(const float* rows, int64_t length, int64_t dim) {
  std::vector<double> acc(static_cast<std::size_t>(dim), 0.0);
  for (int64_t t = 0; t < length; ++t) {
    for (int64_t e = 0; e < dim; ++e) acc[e] += rows[t * dim + e];
  }
  FloatArray m{{dim}, std::vector<float>(static_cast<std::size_t>(dim))};
  for (int64_t e = 0; e < dim; ++e) m.data[e] = static_cast<float>(acc[e] / static_cast<double>(length));
  return m;
}

namespace {

// The top-left n x n block of each of `count` [C, C] matrices starting at `base`.
FloatArray squares(const float* base, int64_t count, int64_t C, int64_t n) {
  FloatArray a{{}, std::vector<float>(static_cast<std::size_t>(count * n * n))};
  for (int64_t m = 0; m < count; ++m) {
    for (int64_t i = 0; i < n; ++i) {
      const float* row = base + (m * C + i) * C;
      std::copy(row, row + n, a.data.begin() + (m * n + i) * n);
    }
  }
  return a;
}

FloatArray per_layer(SliceRule rule, const BatchView& v, const BatchTensor& reps, int64_t b, int64_t pos, int64_t L) {
  const int64_t B = v.batch, T = v.length, E = reps.shape[3];
  const float* base = reps.data + ((pos * B + b) * T) * E;
  const float* residues = base + v.bos * E;
  switch (rule) {
    case SliceRule::ResidueRows: return {{L, E}, std::vector<float>(residues, residues + L * E)};
    case SliceRule::ResidueMean: return mean_rows(residues, L, E);
    case SliceRule::FirstToken: return {{E}, std::vector<float>(base, base + E)};
    default: break;
  }
  throw InternalError("slicing: not a per-layer rule");
}

FloatArray whole(SliceRule rule, const BatchView& v, const BatchTensor& t, int64_t b, int64_t L) {
  switch (rule) {
    case SliceRule::ResidueSquare: {
      const int64_t C = t.shape[1];
      FloatArray c = squares(t.data + b * C * C, 1, C, L);
      c.shape = {L, L};
      return c;
    }
    case SliceRule::HeadRows: {
      const int64_t V = t.shape.back();
      if (t.shape.size() == 2) {  // a sequence classifier: one row per record
        const float* base = t.data + b * V;
        return {{V}, std::vector<float>(base, base + V)};
      }
      const float* base = t.data + (b * v.length + v.bos) * V;
      return {{L, V}, std::vector<float>(base, base + L * V)};
    }
    case SliceRule::TokenSquares: {  // [B, layers, H, T, T]
      const int64_t layers = t.shape[1], H = t.shape[2], T = v.length, n = v.bos + L + v.eos;
      FloatArray a = squares(t.data + b * layers * H * T * T, layers * H, T, n);
      a.shape = {layers, H, n, n};
      return a;
    }
    default: break;
  }
  throw InternalError("slicing: not a whole-output rule");
}

}  // namespace

void slice_record(const BatchView& v, int64_t b, Includes include, const std::vector<int64_t>& layers,
                  const std::vector<int64_t>& layer_pos, RecordOutput& out) {
  for (const auto& spec : output_specs()) {
    if (!include.has(spec.id)) continue;
    const BatchTensor& t = v[spec.source];
    if (!t.data) continue;
    if (spec.per_layer) {
      for (std::size_t k = 0; k < layers.size(); ++k) {
        out.arrays.push_back({spec.id, layers[k], per_layer(spec.slice, v, t, b, layer_pos[k], out.length)});
      }
    } else {
      out.arrays.push_back({spec.id, -1, whole(spec.slice, v, t, b, out.length)});
    }
  }
}

}  // namespace esm_onnx::runtime
