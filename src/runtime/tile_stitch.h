#pragma once
// One record's tiles (embed --long-sequences tile) stitched back into the record's arrays, by each output's
// TileRule (outputs.h). The tiles' arrays arrive as embed slices them for a record of the tile's residues.
#include <cstdint>
#include <string>
#include <vector>

#include "esm_onnx/outputs.h"
#include "esm_onnx/record.h"
#include "esm_onnx/tiles.h"

namespace esm_onnx::runtime {

class TileStitch {
 public:
  TileStitch(std::string label, int64_t index, int64_t length, TileLayout tiling, Includes include, std::vector<int64_t> layers);

  // What each tile must be sliced with: per_tok rows stand in for mean, attentions are never tiled.
  static Includes tile_includes(Includes include);

  // Adds tile k's arrays; each tile once.
  void add(std::size_t k, const RecordOutput& tile);
  bool complete() const { return added_ == tiling_.tiles.size(); }
  std::size_t tiles() const { return tiling_.tiles.size(); }
  // The record's arrays in output_specs() order (layers ascending), as one pass would give them.
  RecordOutput finish();

 private:
  struct Layer {
    int64_t layer;
    int64_t dim{0};
    std::vector<float> rows;  // [L, E], the weighted sum
    std::vector<float> bos;   // the first tile's
  };
  RecordOutput record_;
  TileLayout tiling_;
  Includes include_;
  std::vector<Layer> layers_;
  std::vector<float> logits_;  // [L, V] weighted, or [V] summed over tiles (a sequence classifier)
  std::vector<int64_t> logits_shape_;
  std::vector<float> pair_sum_, pair_weight_;  // [L, L]
  std::size_t added_{0};
  std::vector<bool> seen_;
};

}  // namespace esm_onnx::runtime
