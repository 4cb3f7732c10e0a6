#pragma once
// Overlapping windows over a sequence longer than a model takes, and the weights that stitch the windows'
// per-residue values back together: esm-variants' `get_intervals_and_weights` (Brandes et al. 2023), the
// convention of the genome-wide ESM-1b catalogue. `score` uses it for long proteins; one implementation for
// every job that tiles.
//
// Windows of `window` residues are laid from both ends inward, each pair overlapping the next by at least
// `min_overlap`; when the two innermost ones overlap by less, one more window is centred between them. Each
// window weighs its residues with sigmoid edges (sharpness `s`, over round(min_overlap / 2) residues) except at
// the sequence's own ends, and each residue's weights are normalised to sum to 1 over the windows that hold it.
#include <cstdint>
#include <vector>

namespace esm_onnx {

struct TilingOptions {
  int64_t window{1022};      // residues per window (esm-variants: 1022, ESM-1b's limit)
  int64_t min_overlap{512};  // residues two neighbouring windows share at least
  double sharpness{20};      // s of the sigmoid edges

  void validate() const;  // UsageError naming the option
  // The same for a request, where window 0 stands for the model's tile length (tiling_for_model).
  void validate_request() const;
};

struct ModelInfo;
// A request's tiling on one model: window 0 becomes the family's training length, at most what the model's
// positions take; a window given beyond them is a UsageError naming --tile-length.
TilingOptions tiling_for_model(const ModelInfo& info, TilingOptions requested);

struct Tile {
  int64_t start{0};   // first residue (0-based)
  int64_t length{0};  // residues
};

struct Tiling {
  std::vector<Tile> tiles;  // sorted by start; one tile covering everything when the sequence fits the window
  // weights[k][i]: the normalised weight of residue tiles[k].start + i in tile k.
  std::vector<std::vector<double>> weights;
};

// The tiles of a sequence of `length` residues (>= 1).
Tiling tile_sequence(int64_t length, const TilingOptions& options = {});

}  // namespace esm_onnx
