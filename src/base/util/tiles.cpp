// esm-variants' tiling (esm_variants_utils.py: intervals, chop, get_intervals_and_weights), on index ranges
// instead of numpy arrays; the numbers are the same for every length (tests/python/test_score.py checks them).
#include "esm_onnx/base/tiles.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/model_info.h"
#include "esm_onnx/base/traits.h"

namespace esm_onnx {

namespace {

// The checks that do not need the tile length, each naming the option the user gave.
void check_overlap_and_sharpness(int64_t min_overlap, double sharpness) {
  if (min_overlap < 1) throw UsageError(fmt::format("--tile-overlap {}: must be at least 1 residue", min_overlap));
  if (!(sharpness > 0) || !std::isfinite(sharpness)) {
    throw UsageError(fmt::format("--tile-sharpness {}: must be a positive number", sharpness));
  }
}

}  // namespace

void Tiling::validate_resolved() const {
  if (length < 2) throw UsageError(fmt::format("--tile-length {}: must be at least 2 residues", length));
  check_overlap_and_sharpness(min_overlap, sharpness);
  if (min_overlap >= length) {
    throw UsageError(fmt::format("--tile-overlap {}: must be less than the tile length ({})", min_overlap, length));
  }
}

// Length 0 (the model's tile length) is resolved later, against the model: only what holds for any length now.
void Tiling::validate() const {
  if (length != 0) validate_resolved();
  else check_overlap_and_sharpness(min_overlap, sharpness);
}

std::string Tiling::to_string() const {
  return fmt::format("tile_length={} tile_overlap={} tile_sharpness={}",
                     length == 0 ? std::string("model") : std::to_string(length), min_overlap, sharpness);
}

Tiling tiling_for_model(const ModelInfo& info, Tiling t) {
  const int64_t limit = info.max_residues();  // 0: positions without a limit
  if (t.length == 0) t.length = limit > 0 ? std::min(limit, family_traits(info.family).training_residues)
                                          : family_traits(info.family).training_residues;
  if (limit > 0 && t.length > limit) {
    throw UsageError(fmt::format("--tile-length {}: {} takes at most {} residues per pass", t.length, info.variant, limit));
  }
  t.validate_resolved();
  return t;
}

namespace {

// intervals(L, ...) for L = the residues [lo, hi): the two outer windows of each level, recursing on what
// chop() leaves between them, and the centred window when the innermost pair overlaps too little.
void intervals(int64_t lo, int64_t hi, const Tiling& o, std::vector<Tile>& parts) {
  while (hi - lo > o.length) {
    parts.push_back({lo, o.length});
    parts.push_back({hi - o.length, o.length});
    lo += o.length - o.min_overlap;  // chop(): L[max_len - min_overlap : -(max_len - min_overlap)]
    hi -= o.length - o.min_overlap;
    if (hi < lo) hi = lo;  // an empty slice; the innermost pair then overlaps by more than min_overlap
  }
  const Tile& left = parts[parts.size() - 2];
  const Tile& right = parts.back();
  const int64_t overlap = (left.start + left.length - 1) - right.start;
  if (overlap < o.min_overlap) {
    const int64_t centre = lo + (hi - lo) / 2;
    parts.push_back({centre - o.length / 2, o.length});
  }
}

}  // namespace

TileLayout tile_sequence(int64_t length, const Tiling& o) {
  o.validate_resolved();
  if (length < 1) throw UsageError(fmt::format("tile_sequence: length {}: a sequence has at least 1 residue", length));
  TileLayout t;
  if (length <= o.length) {
    t.tiles.push_back({0, length});
    t.weights.emplace_back(static_cast<std::size_t>(length), 1.0);
    return t;
  }
  intervals(0, length, o, t.tiles);
  std::stable_sort(t.tiles.begin(), t.tiles.end(), [](const Tile& a, const Tile& b) { return a.start < b.start; });
  for (const Tile& tile : t.tiles) {
    if (tile.start < 0 || tile.start + tile.length > length) {
      throw InternalError(fmt::format("tile_sequence: tile [{}, {}) outside a sequence of {}", tile.start,
                                      tile.start + tile.length, length));
    }
  }
  // Sigmoid edges over a = round(min_overlap / 2) residues (numpy's round: half to even).
  const int64_t a = static_cast<int64_t>(std::nearbyint(static_cast<double>(o.min_overlap) / 2.0));
  auto rising = [&](int64_t i) { return 1.0 / (1.0 + std::exp(-(static_cast<double>(i) - static_cast<double>(a) / 2.0) / o.sharpness)); };
  auto falling = [&](int64_t i) { return 1.0 / (1.0 + std::exp((static_cast<double>(i) - static_cast<double>(a) / 2.0) / o.sharpness)); };
  std::vector<double> sums(static_cast<std::size_t>(length), 0.0);
  const std::size_t n = t.tiles.size();
  for (std::size_t k = 0; k < n; ++k) {
    const Tile& tile = t.tiles[k];
    std::vector<double> w(static_cast<std::size_t>(tile.length), 1.0);
    const bool head = k > 0, tail = k + 1 < n;  // the first tile keeps the sequence's start flat, the last its end
    for (int64_t i = 0; i < std::min(a, tile.length); ++i) {
      if (head) w[static_cast<std::size_t>(i)] = rising(i);
      if (tail) w[static_cast<std::size_t>(tile.length - a + i)] = falling(i);
    }
    for (int64_t i = 0; i < tile.length; ++i) sums[static_cast<std::size_t>(tile.start + i)] += w[static_cast<std::size_t>(i)];
    t.weights.push_back(std::move(w));
  }
  for (std::size_t k = 0; k < n; ++k) {
    for (int64_t i = 0; i < t.tiles[k].length; ++i) {
      t.weights[k][static_cast<std::size_t>(i)] /= sums[static_cast<std::size_t>(t.tiles[k].start + i)];
    }
  }
  return t;
}

}  // namespace esm_onnx
