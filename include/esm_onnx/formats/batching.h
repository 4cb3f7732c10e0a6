#pragma once
// esm-extract's batching: sort by length, pack while max_len * count <= toks_per_batch; a sequence
// longer than the budget goes alone.
#include <cstdint>
#include <vector>

namespace esm_onnx {

// lengths: per sequence (residue tokens). Returns batches of indices into `lengths`, shortest first.
// extra_toks_per_seq: added to every length before packing (esm-extract uses 1). alone_from > 0: a sequence
// of at least that many tokens (with the extra) is a batch of its own.
std::vector<std::vector<std::size_t>> make_batches(const std::vector<int64_t>& lengths, int64_t toks_per_batch,
                                                   int64_t extra_toks_per_seq = 1, int64_t alone_from = 0);

}  // namespace esm_onnx
