#pragma once
// Overlapping windows over a sequence longer than a model takes, and the weights that stitch the windows'
// per-residue values back together: esm-variants' `get_intervals_and_weights` (Brandes et al. 2023), the
// convention of the genome-wide ESM-1b catalogue. `score` uses it for long proteins; one implementation for
// every job that tiles.
//
// Tiles of `length` residues are laid from both ends inward, each pair overlapping the next by at least
// `min_overlap`; when the two innermost ones overlap by less, one more window is centred between them. Each
// window weighs its residues with sigmoid edges (sharpness `s`, over round(min_overlap / 2) residues) except at
// the sequence's own ends, and each residue's weights are normalised to sum to 1 over the windows that hold it.
#include <cstdint>
#include <string>
#include <vector>

namespace esm_onnx {

// esm-variants' tiling parameters (its defaults), the one home of these defaults for every front end.
inline constexpr int64_t kDefaultTileOverlap = 512;
inline constexpr double kDefaultTileSharpness = 20;

// How a job tiles records longer than one pass: passed whole from every front end (CLI, Python, Ray).
struct Tiling {
  int64_t length{0};  // residues per tile; 0: the model's (its family's training length, at most its positions)
  int64_t min_overlap{kDefaultTileOverlap};  // residues two neighbouring tiles share at least
  double sharpness{kDefaultTileSharpness};   // s of the sigmoid edges

  void validate() const;  // UsageError naming the option; length 0 (the model's) is checked once resolved
  void validate_resolved() const;  // the same with the length known (>= 2)
  bool operator==(const Tiling&) const = default;
  std::string to_string() const;  // "tile_length=model tile_overlap=512 tile_sharpness=20", as reports name it
};

struct ModelInfo;
// A request's tiling on one model: length 0 becomes the family's training length, at most what the model's
// positions take; a length given beyond them is a UsageError naming --tile-length.
Tiling tiling_for_model(const ModelInfo& info, Tiling requested);

struct Tile {
  int64_t start{0};   // first residue (0-based)
  int64_t length{0};  // residues
};

struct TileLayout {
  std::vector<Tile> tiles;  // sorted by start; one tile covering everything when the sequence fits the window
  // weights[k][i]: the normalised weight of residue tiles[k].start + i in tile k.
  std::vector<std::vector<double>> weights;
};

// The tiles of a sequence of `length` residues (>= 1); `tiling.length` resolved (>= 2).
TileLayout tile_sequence(int64_t length, const Tiling& tiling);

}  // namespace esm_onnx
