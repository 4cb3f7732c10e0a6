// Every missense variant of a protein: the wild type's log-probabilities at each position (tiles stitched with
// esm-variants' weights), less the wild type's own, for the 20 amino acids in esm-variants' order.
#include <fmt/format.h>

#include <array>
#include <memory>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/jobs/score.h"
#include "jobs/scoring/passes.h"

namespace esm_onnx {

namespace scoring {

void queue_missense(PassRunner& runner, const ModelInfo& info, const ScoreRequest& request, const std::string& sequence,
                    const std::string& what, std::function<void(FloatArray)> finished) {
  const Alphabet& a = runner.alphabet();
  const int64_t n = static_cast<int64_t>(sequence.size());
  if (n == 0) throw InputError(fmt::format("{}: no residues", what));
  for (int64_t i = 0; i < n; ++i) {
    const char c = sequence[static_cast<std::size_t>(i)];
    if (kMissenseOrder.find(c) == std::string_view::npos) {
      throw InputError(fmt::format("{}: '{}' at position {} is not one of the 20 amino acids (esm-variants scores only "
                                   "those; replace or remove it)",
                                   what, c, i + 1));
    }
  }
  const std::vector<uint8_t> ids = residue_ids(a, sequence, what);
  const TileLayout tiling = tiles_for(info, request, n, what);
  if (runner.dry()) {
    for (std::size_t k = 0; k < tiling.tiles.size(); ++k) runner.add({}, {});
    return;
  }
  const int64_t vocab = runner.vocab();
  auto rows = std::make_shared<std::vector<double>>(static_cast<std::size_t>(n * vocab), 0.0);
  std::vector<SiteQuery> queries;
  queries.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) queries.push_back({i, -1, rows->data() + i * vocab});
  std::array<int32_t, 20> order{};
  for (std::size_t k = 0; k < kMissenseOrder.size(); ++k) order[k] = static_cast<int32_t>(a.index(kMissenseOrder.substr(k, 1)));
  add_tiled(runner, tiling, ids, {}, queries, [rows, ids, order, n, vocab, finished = std::move(finished)] {
    FloatArray m{{n, 20}, std::vector<float>(static_cast<std::size_t>(n * 20))};
    for (int64_t i = 0; i < n; ++i) {
      const double* row = rows->data() + i * vocab;
      const double wt = row[ids[static_cast<std::size_t>(i)]];
      for (std::size_t k = 0; k < 20; ++k) m.data[static_cast<std::size_t>(i) * 20 + k] = static_cast<float>(row[order[k]] - wt);
    }
    rows->clear();
    rows->shrink_to_fit();
    finished(std::move(m));
  });
}

}  // namespace scoring

FloatArray score_missense(const Model& model, const std::string& sequence, const ScoreRequest& request,
                          PassCounters* counters) {
  request.validate();
  scoring::require_language_model(model.info(), model.path());
  scoring::PassRunner runner(model, request.toks_per_batch);
  FloatArray out;
  scoring::queue_missense(runner, model.info(), request, sequence, "sequence", [&](FloatArray m) { out = std::move(m); });
  runner.flush();
  if (counters) *counters = runner.counters;
  return out;
}

}  // namespace esm_onnx
