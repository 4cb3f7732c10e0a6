#include "runtime/tile_stitch.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "esm_onnx/errors.h"
#include "runtime/slicing.h"

namespace esm_onnx::runtime {

TileStitch::TileStitch(std::string label, int64_t index, int64_t length, TileLayout tiling, Includes include,
                       std::vector<int64_t> layers)
    : tiling_(std::move(tiling)), include_(include), seen_(tiling_.tiles.size(), false) {
  record_.label = std::move(label);
  record_.index = index;
  record_.length = length;
  for (auto l : layers) layers_.push_back({l, 0, {}, {}});
}

Includes TileStitch::tile_includes(Includes include) {
  Includes out;
  for (const auto& spec : output_specs()) {
    if (!include.has(spec.id)) continue;
    switch (spec.tile) {
      case TileRule::MeanOfRows: out.add(Output::PerTok); break;
      case TileRule::OnePass: break;
      default: out.add(spec.id); break;
    }
  }
  return out;
}

void TileStitch::add(std::size_t k, const RecordOutput& tile) {
  if (k >= seen_.size() || seen_[k]) throw InternalError(fmt::format("{}: tile {} added twice", record_.label, k));
  seen_[k] = true;
  ++added_;
  const int64_t L = record_.length, start = tiling_.tiles[k].start, n = tiling_.tiles[k].length;
  const auto& w = tiling_.weights[k];
  auto weigh_rows = [&](const FloatArray& a, std::vector<float>& acc, int64_t dim) {
    if (acc.empty()) acc.assign(static_cast<std::size_t>(L * dim), 0.0f);
    for (int64_t i = 0; i < n; ++i) {
      const auto wi = static_cast<float>(w[i]);
      const float* src = a.data.data() + i * dim;
      float* dst = acc.data() + (start + i) * dim;
      for (int64_t e = 0; e < dim; ++e) dst[e] += wi * src[e];
    }
  };
  for (auto& layer : layers_) {
    if (const FloatArray* rows = tile.find(Output::PerTok, layer.layer)) {
      layer.dim = rows->shape[1];
      weigh_rows(*rows, layer.rows, layer.dim);
    }
    if (const FloatArray* bos = tile.find(Output::Bos, layer.layer); bos && k == 0) layer.bos = bos->data;
  }
  if (const FloatArray* logits = tile.find(Output::Logits)) {
    logits_shape_ = logits->shape;
    if (logits->shape.size() == 1) {  // a sequence classifier: one row per pass
      if (logits_.empty()) logits_.assign(logits->data.size(), 0.0f);
      for (std::size_t v = 0; v < logits_.size(); ++v) logits_[v] += logits->data[v];
    } else {
      weigh_rows(*logits, logits_, logits->shape[1]);
    }
  }
  if (const FloatArray* c = tile.find(Output::Contacts)) {
    if (pair_sum_.empty()) {
      pair_sum_.assign(static_cast<std::size_t>(L * L), 0.0f);
      pair_weight_.assign(static_cast<std::size_t>(L * L), 0.0f);
    }
    for (int64_t i = 0; i < n; ++i) {
      float* sum = pair_sum_.data() + (start + i) * L + start;
      float* weight = pair_weight_.data() + (start + i) * L + start;
      const float* src = c->data.data() + i * n;
      for (int64_t j = 0; j < n; ++j) {
        const auto wij = static_cast<float>(w[i] * w[j]);
        sum[j] += wij * src[j];
        weight[j] += wij;
      }
    }
  }
}

RecordOutput TileStitch::finish() {
  if (!complete()) throw InternalError(fmt::format("{}: {} of {} tiles stitched", record_.label, added_, tiles()));
  const int64_t L = record_.length;
  for (const auto& spec : output_specs()) {
    if (!include_.has(spec.id)) continue;
    switch (spec.tile) {
      case TileRule::WeightedRows:
        for (auto& layer : layers_) record_.arrays.push_back({spec.id, layer.layer, {{L, layer.dim}, layer.rows}});
        break;
      case TileRule::MeanOfRows:
        for (auto& layer : layers_) record_.arrays.push_back({spec.id, layer.layer, mean_rows(layer.rows.data(), L, layer.dim)});
        break;
      case TileRule::FirstTile:
        for (auto& layer : layers_) {
          const auto dim = static_cast<int64_t>(layer.bos.size());
          record_.arrays.push_back({spec.id, layer.layer, {{dim}, std::move(layer.bos)}});
        }
        break;
      case TileRule::HeadRows:
        if (logits_shape_.size() == 1) {
          for (auto& v : logits_) v /= static_cast<float>(tiles());
          record_.arrays.push_back({spec.id, -1, {logits_shape_, std::move(logits_)}});
        } else {
          record_.arrays.push_back({spec.id, -1, {{L, logits_shape_.at(1)}, std::move(logits_)}});
        }
        break;
      case TileRule::WeightedPairs: {
        // A pair that no tile holds has no weight: NaN, never a made-up number.
        for (std::size_t p = 0; p < pair_sum_.size(); ++p) {
          pair_sum_[p] = pair_weight_[p] > 0 ? pair_sum_[p] / pair_weight_[p] : std::numeric_limits<float>::quiet_NaN();
        }
        std::vector<float>().swap(pair_weight_);
        record_.arrays.push_back({spec.id, -1, {{L, L}, std::move(pair_sum_)}});
        break;
      }
      case TileRule::OnePass:
        throw UsageError(fmt::format("{}: {} cannot be stitched from tiles", record_.label, spec.name));
    }
  }
  // WeightedRows copied the rows (MeanOfRows reads them too); released now.
  for (auto& layer : layers_) std::vector<float>().swap(layer.rows);
  return std::move(record_);
}

}  // namespace esm_onnx::runtime
