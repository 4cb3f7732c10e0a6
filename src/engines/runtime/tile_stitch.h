#pragma once
// One record's tiles (embed --long-sequences tile) stitched back into the record's arrays, by each output's
// TileRule (outputs.h) alone: an output whose rule exists needs nothing here. The tiles' arrays arrive as embed
// slices them for a record of the tile's residues.
#include <cstdint>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "esm_onnx/base/outputs.h"
#include "esm_onnx/base/record.h"
#include "esm_onnx/base/tiles.h"

namespace esm_onnx::runtime {

class TileStitch {
 public:
  TileStitch(std::string label, int64_t index, int64_t length, TileLayout tiling, Includes include, std::vector<int64_t> layers);

  // What each tile must be sliced with: a MeanOfRows output is computed from its source's WeightedRows output
  // (per_tok's rows stand in for mean), a OnePass output is never tiled.
  static Includes tile_includes(Includes include);

  // Adds tile k's arrays; each tile once.
  void add(std::size_t k, const RecordOutput& tile);
  bool complete() const { return added_ == tiling_.tiles.size(); }
  std::size_t tiles() const { return tiling_.tiles.size(); }
  // The record's arrays in output_specs() order (layers ascending), as one pass would give them.
  RecordOutput finish();

 private:
  // One output's (at one layer's) running sum over the tiles, by its TileRule.
  struct Sum {
    std::vector<int64_t> shape;  // the record's: [L, dim], [dim] (FirstTile, a classifier's row), [L, L]
    std::vector<float> values;   // weighted sums (rows, pairs), the first tile's array, or a plain sum
    std::vector<float> weights;  // WeightedPairs: the pairs' weight sums
  };
  Sum& sum_of(Output output, int64_t layer) { return sums_[{static_cast<unsigned>(output), layer}]; }
  Sum* find_sum(Output output, int64_t layer);

  RecordOutput record_;
  TileLayout tiling_;
  Includes include_;
  std::vector<int64_t> layers_;
  std::map<std::pair<unsigned, int64_t>, Sum> sums_;
  std::size_t added_{0};
  std::vector<bool> seen_;
};

}  // namespace esm_onnx::runtime
