#include "runtime/slicing.h"

#include <algorithm>

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

void slice_record(const BatchView& v, int64_t b, Includes include, const std::vector<int64_t>& layers,
                  const std::vector<int64_t>& layer_pos, RecordOutput& out) {
  const int64_t L = out.length, T = v.length, B = v.batch;
  if (v.representations) {
    const int64_t E = v.embed_dim;
    for (std::size_t k = 0; k < layers.size(); ++k) {
      const float* base = v.representations + ((layer_pos[k] * B + b) * T) * E;
      const float* residues = base + v.bos * E;
      if (include.has(Output::PerTok)) out.representations[layers[k]] = {{L, E}, std::vector<float>(residues, residues + L * E)};
      if (include.has(Output::Mean)) out.mean_representations[layers[k]] = mean_rows(residues, L, E);
      if (include.has(Output::Bos)) out.bos_representations[layers[k]] = {{E}, std::vector<float>(base, base + E)};
    }
  }
  if (v.logits && !v.logits_per_token) {
    const float* base = v.logits + b * v.vocab;
    out.logits = FloatArray{{v.vocab}, std::vector<float>(base, base + v.vocab)};
  } else if (v.logits) {
    const float* base = v.logits + (b * T + v.bos) * v.vocab;
    out.logits = FloatArray{{L, v.vocab}, std::vector<float>(base, base + L * v.vocab)};
  }
  if (v.contacts) {
    const int64_t C = v.contact_len;
    FloatArray c{{L, L}, std::vector<float>(static_cast<std::size_t>(L * L))};
    for (int64_t i = 0; i < L; ++i) {
      const float* row = v.contacts + (b * C + i) * C;
      std::copy(row, row + L, c.data.begin() + i * L);
    }
    out.contacts = std::move(c);
  }
}

}  // namespace esm_onnx::runtime
