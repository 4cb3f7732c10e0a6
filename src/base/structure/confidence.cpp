// The confidence heads' reductions: pLDDT (fair-esm's categorical_lddt x 100), pTM and PAE (openfold's compute_tm
// and compute_predicted_aligned_error), in float32 with the reference's bins, softmax and expected values.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/structure.h"
#include "linspace.h"

namespace esm_onnx::structure {

namespace {

// softmax(logits[0..bins)) . centres, as torch.softmax then a sum of products: every element float32 as torch
// computes it, but the two sums accumulated in double and rounded once. torch sums float32 in SIMD lanes whose
// order depends on the CPU, so no fixed float32 order reproduces it; the exact sum is what its error is
// measured from, so a double sum stays closest to torch wherever it runs.
float expected_value(const float* logits, const std::vector<float>& centres, std::vector<float>& probs) {
  const size_t bins = centres.size();
  float top = logits[0];
  for (size_t k = 1; k < bins; ++k) top = std::max(top, logits[k]);
  double sum = 0.0;
  for (size_t k = 0; k < bins; ++k) {
    probs[k] = std::exp(logits[k] - top);
    sum += static_cast<double>(probs[k]);
  }
  // torch's softmax scales by the reciprocal of the sum rather than dividing each term.
  const float scale = 1.0f / static_cast<float>(sum);
  double value = 0.0;
  for (size_t k = 0; k < bins; ++k) value += static_cast<double>(probs[k] * scale * centres[k]);
  return static_cast<float>(value);
}

// The aligned-error bins' centres: linspace(0, max_bin, bins - 1) are the edges; each centre is half a step above
// its edge, plus one more centre past the last edge (openfold's _calculate_bin_centers).
std::vector<float> aligned_error_centres(int64_t bins, float max_bin, const char* what) {
  if (bins < 3) throw UsageError(fmt::format("{}: {} bins: needs at least 3", what, bins));
  if (!(max_bin > 0.0f) || !std::isfinite(max_bin)) {
    throw UsageError(fmt::format("{}: max_bin {}: must be a positive number", what, max_bin));
  }
  std::vector<float> centres = linspace(0.0f, max_bin, bins - 1);
  const float step = centres[1] - centres[0];
  for (float& c : centres) c = c + step / 2.0f;
  centres.push_back(centres.back() + step);
  return centres;
}

void check_pairs(int64_t length, const char* what) {
  if (length < 1) throw UsageError(fmt::format("{}: length {}: needs at least 1 residue", what, length));
}

}  // namespace

std::vector<float> plddt(const float* logits, int64_t n, int64_t bins) {
  if (n < 0) throw UsageError(fmt::format("plddt: {} rows is negative", n));
  if (bins < 1) throw UsageError(fmt::format("plddt: {} bins: needs at least 1", bins));
  // Centres of `bins` equal bins over [0, 1], as the mean of neighbouring linspace(0, 1, bins + 1) edges.
  const std::vector<float> edges = linspace(0.0f, 1.0f, bins + 1);
  std::vector<float> centres(static_cast<size_t>(bins));
  for (size_t k = 0; k < centres.size(); ++k) centres[k] = (edges[k] + edges[k + 1]) / 2.0f;
  std::vector<float> probs(centres.size()), out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    out[static_cast<size_t>(i)] = 100.0f * expected_value(logits + i * bins, centres, probs);
  }
  return out;
}

float ptm(const float* logits, int64_t length, int64_t bins, float max_bin) {
  check_pairs(length, "ptm");
  const std::vector<float> centres = aligned_error_centres(bins, max_bin, "ptm");
  // TM-score's d0 for the clipped length, in double as Python computes it; the per-bin terms are float32.
  const double clipped = static_cast<double>(std::max<int64_t>(length, 19));
  const double d0 = 1.24 * std::pow(clipped - 15.0, 1.0 / 3.0) - 1.8;
  const auto d0_squared = static_cast<float>(d0 * d0);
  std::vector<float> tm_per_bin(centres.size());
  for (size_t k = 0; k < centres.size(); ++k) tm_per_bin[k] = 1.0f / (1.0f + centres[k] * centres[k] / d0_squared);
  // Every residue weighs 1: row i (aligned on residue i) averages its L terms, each times 1 / (1e-8 + L) in float32.
  const float weight = 1.0f / (1e-8f + static_cast<float>(length));
  std::vector<float> probs(centres.size());
  float best = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < length; ++i) {
    double sum = 0.0;  // in double, as expected_value's sums
    for (int64_t j = 0; j < length; ++j) {
      sum += static_cast<double>(expected_value(logits + (i * length + j) * bins, tm_per_bin, probs) * weight);
    }
    const auto per_alignment = static_cast<float>(sum);
    // The maximum, NaN if any row is NaN (as torch.max; the reference then fails to find it).
    if (std::isnan(per_alignment)) return per_alignment;
    best = std::max(best, per_alignment);
  }
  return best;
}

AlignedError predicted_aligned_error(const float* logits, int64_t length, int64_t bins, float max_bin) {
  if (length < 0) throw UsageError(fmt::format("predicted_aligned_error: length {} is negative", length));
  const std::vector<float> centres = aligned_error_centres(bins, max_bin, "predicted_aligned_error");
  AlignedError out;
  const auto pairs = static_cast<size_t>(length) * static_cast<size_t>(length);
  out.pae.resize(pairs);
  std::vector<float> probs(centres.size());
  for (size_t p = 0; p < pairs; ++p) {
    out.pae[p] = expected_value(logits + static_cast<int64_t>(p) * bins, centres, probs);
  }
  out.max_pae = centres.back();
  return out;
}

}  // namespace esm_onnx::structure
