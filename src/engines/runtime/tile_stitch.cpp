#include "engines/runtime/tile_stitch.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "engines/runtime/slicing.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::runtime {

namespace {

// The output a MeanOfRows output averages: the WeightedRows output cut from the same graph output.
const OutputSpec& rows_of(const OutputSpec& mean) {
  for (const auto& spec : output_specs()) {
    if (spec.source == mean.source && spec.tile == TileRule::WeightedRows) return spec;
  }
  throw InternalError(fmt::format("output {}: MeanOfRows, but no WeightedRows output of the same graph output", mean.name));
}

}  // namespace

TileStitch::TileStitch(std::string label, int64_t index, int64_t length, TileLayout tiling, Includes include,
                       std::vector<int64_t> layers)
    : tiling_(std::move(tiling)), include_(include), layers_(std::move(layers)), seen_(tiling_.tiles.size(), false) {
  record_.label = std::move(label);
  record_.index = index;
  record_.length = length;
}

Includes TileStitch::tile_includes(Includes include) {
  Includes out;
  for (const auto& spec : output_specs()) {
    if (!include.has(spec.id)) continue;
    switch (spec.tile) {
      case TileRule::MeanOfRows: out.add(rows_of(spec).id); break;
      case TileRule::OnePass: break;
      default: out.add(spec.id); break;
    }
  }
  return out;
}

TileStitch::Sum* TileStitch::find_sum(Output output, int64_t layer) {
  const auto it = sums_.find({static_cast<unsigned>(output), layer});
  return it == sums_.end() ? nullptr : &it->second;
}

void TileStitch::add(std::size_t k, const RecordOutput& tile) {
  if (k >= seen_.size() || seen_[k]) throw InternalError(fmt::format("{}: tile {} added twice", record_.label, k));
  seen_[k] = true;
  ++added_;
  const int64_t L = record_.length, start = tiling_.tiles[k].start, n = tiling_.tiles[k].length;
  const auto& w = tiling_.weights[k];
  auto weigh_rows = [&](const FloatArray& a, Sum& s) {  // [n, dim] rows into [L, dim], each row by its weight
    const int64_t dim = a.shape.at(1);
    if (s.values.empty()) {
      s.shape = {L, dim};
      s.values.assign(static_cast<std::size_t>(L * dim), 0.0f);
    }
    for (int64_t i = 0; i < n; ++i) {
      const auto wi = static_cast<float>(w[i]);
      const float* src = a.data.data() + i * dim;
      float* dst = s.values.data() + (start + i) * dim;
      for (int64_t e = 0; e < dim; ++e) dst[e] += wi * src[e];
    }
  };
  for (const RecordArray& a : tile.arrays) {
    Sum& s = sum_of(a.output, a.layer);
    switch (output_spec(a.output).tile) {
      case TileRule::WeightedRows: weigh_rows(a.array, s); break;
      case TileRule::HeadRows:
        if (a.array.shape.size() == 1) {  // a sequence classifier's one row per pass: summed, averaged at the end
          if (s.values.empty()) s = {a.array.shape, std::vector<float>(a.array.data.size(), 0.0f), {}};
          for (std::size_t v = 0; v < s.values.size(); ++v) s.values[v] += a.array.data[v];
        } else {
          weigh_rows(a.array, s);
        }
        break;
      case TileRule::FirstTile:
        if (start == 0) s = {a.array.shape, a.array.data, {}};
        break;
      case TileRule::WeightedPairs:
        if (s.values.empty()) s = {{L, L}, std::vector<float>(static_cast<std::size_t>(L * L), 0.0f),
                                   std::vector<float>(static_cast<std::size_t>(L * L), 0.0f)};
        for (int64_t i = 0; i < n; ++i) {
          float* sum = s.values.data() + (start + i) * L + start;
          float* weight = s.weights.data() + (start + i) * L + start;
          const float* src = a.array.data.data() + i * n;
          for (int64_t j = 0; j < n; ++j) {
            const auto wij = static_cast<float>(w[i] * w[j]);
            sum[j] += wij * src[j];
            weight[j] += wij;
          }
        }
        break;
      case TileRule::MeanOfRows:
      case TileRule::OnePass:
        throw InternalError(fmt::format("{}: tile {} holds {}, which tiles are not sliced with", record_.label, k,
                                        output_spec(a.output).name));
    }
  }
}

RecordOutput TileStitch::finish() {
  if (!complete()) throw InternalError(fmt::format("{}: {} of {} tiles stitched", record_.label, added_, tiles()));
  const int64_t L = record_.length;
  // How many requested outputs read each sum (a MeanOfRows output reads its rows' sum): the last one takes it
  // without a copy, so that a long record's [L, L] or [L, E] arrays are never held twice.
  auto source_of = [](const OutputSpec& spec) { return spec.tile == TileRule::MeanOfRows ? rows_of(spec).id : spec.id; };
  std::map<unsigned, int> readers;
  for (const auto& spec : output_specs()) {
    if (include_.has(spec.id)) ++readers[static_cast<unsigned>(source_of(spec))];
  }
  for (const auto& spec : output_specs()) {
    if (!include_.has(spec.id)) continue;
    const Output from = source_of(spec);
    const bool last = --readers[static_cast<unsigned>(from)] == 0;
    const std::vector<int64_t> each = spec.per_layer ? layers_ : std::vector<int64_t>{-1};
    for (int64_t layer : each) {
      Sum* s = find_sum(from, layer);
      if (s == nullptr) {
        if (spec.tile == TileRule::OnePass) {
          throw UsageError(fmt::format("{}: {} cannot be stitched from tiles", record_.label, spec.name));
        }
        throw InternalError(fmt::format("{}: no tile gave {} (layer {})", record_.label, spec.name, layer));
      }
      if (spec.tile == TileRule::MeanOfRows) {
        record_.arrays.push_back({spec.id, layer, mean_rows(s->values.data(), L, s->shape.at(1))});
        continue;
      }
      FloatArray out{s->shape, last ? std::move(s->values) : s->values};
      switch (spec.tile) {
        case TileRule::HeadRows:
          if (s->shape.size() == 1) {
            for (auto& v : out.data) v /= static_cast<float>(tiles());
          }
          break;
        case TileRule::WeightedPairs:
          // A pair that no tile holds has no weight: NaN, never a made-up number.
          for (std::size_t p = 0; p < out.data.size(); ++p) {
            out.data[p] = s->weights[p] > 0 ? out.data[p] / s->weights[p] : std::numeric_limits<float>::quiet_NaN();
          }
          break;
        default: break;
      }
      std::vector<float>().swap(s->weights);
      record_.arrays.push_back({spec.id, layer, std::move(out)});
    }
  }
  sums_.clear();
  return std::move(record_);
}

}  // namespace esm_onnx::runtime
