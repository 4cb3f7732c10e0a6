#include "esm_onnx/formats/batching.h"

#include <algorithm>
#include <numeric>

namespace esm_onnx {

std::vector<std::vector<std::size_t>> make_batches(const std::vector<int64_t>& lengths, int64_t toks_per_batch,
                                                   int64_t extra, int64_t alone_from) {
  std::vector<std::size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  // Python's sort of (length, index) tuples: ties keep file order.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
  std::vector<std::vector<std::size_t>> batches;
  std::vector<std::size_t> buf;
  int64_t max_len = 0;
  for (std::size_t i : order) {
    const int64_t sz = lengths[i] + extra;
    const bool alone = alone_from > 0 && sz >= alone_from;
    if (!buf.empty() && (alone || std::max(sz, max_len) * static_cast<int64_t>(buf.size() + 1) > toks_per_batch)) {
      batches.push_back(std::move(buf));
      buf.clear();
      max_len = 0;
    }
    max_len = std::max(max_len, sz);
    buf.push_back(i);
  }
  if (!buf.empty()) batches.push_back(std::move(buf));
  return batches;
}

}  // namespace esm_onnx
