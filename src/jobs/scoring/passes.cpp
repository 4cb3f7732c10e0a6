#include "jobs/scoring/passes.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "esm_onnx/base/errors.h"

namespace esm_onnx::scoring {

PassRunner::PassRunner(const Model& model, int64_t toks_per_batch, bool dry)
    : model_(model), alphabet_(model.alphabet()), vocab_(model.info().vocab_size), budget_(toks_per_batch), dry_(dry) {}

void PassRunner::add(std::vector<uint8_t> tokens, std::vector<Target> targets, std::function<void()> done) {
  if (dry_) {
    ++total_passes;
    return;
  }
  std::string key(tokens.begin(), tokens.end());
  if (auto it = queued_.find(key); it != queued_.end()) {
    Pending& p = pending_[it->second];
    p.targets.insert(p.targets.end(), targets.begin(), targets.end());
    if (done) p.done.push_back(std::move(done));
    return;
  }
  const std::size_t longest = std::max(longest_, tokens.size());
  if (!pending_.empty() && static_cast<int64_t>(longest * (pending_.size() + 1)) > budget_) run();
  longest_ = std::max(longest_, tokens.size());
  queued_.emplace(std::move(key), pending_.size());
  Pending p{std::move(tokens), std::move(targets), {}};
  if (done) p.done.push_back(std::move(done));
  pending_.push_back(std::move(p));
}

void PassRunner::flush() {
  if (!pending_.empty()) run();
}

void PassRunner::run() {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t batch = static_cast<int64_t>(pending_.size());
  const int64_t length = static_cast<int64_t>(longest_);
  std::vector<int64_t> tokens(static_cast<std::size_t>(batch * length), alphabet_.padding_idx());
  int64_t real = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const auto& row = pending_[static_cast<std::size_t>(b)].tokens;
    std::copy(row.begin(), row.end(), tokens.begin() + b * length);
    real += static_cast<int64_t>(row.size());
  }
  const ForwardOutputs out = model_.forward(tokens, batch, length, Includes(Output::Logits));
  const FloatArray* logits = out.find(GraphOutput::Logits);
  if (!logits || logits->shape.size() != 3 || logits->shape[2] != vocab_) {
    throw RuntimeFailure(fmt::format("{}: the logits output is not [batch, length, {}]", model_.path(), vocab_));
  }
  for (int64_t b = 0; b < batch; ++b) {
    Pending& p = pending_[static_cast<std::size_t>(b)];
    for (const Target& t : p.targets) {
      const float* row = logits->data.data() + (b * length + t.position) * vocab_;
      // log_softmax in double: the answer is a difference of two of these, and sums of hundreds (pseudo-ppl).
      double peak = row[0];
      for (int64_t v = 1; v < vocab_; ++v) peak = std::max(peak, static_cast<double>(row[v]));
      double sum = 0;
      for (int64_t v = 0; v < vocab_; ++v) sum += std::exp(static_cast<double>(row[v]) - peak);
      const double lse = peak + std::log(sum);
      if (t.token >= 0) {
        *t.out += t.weight * (static_cast<double>(row[t.token]) - lse);
      } else {
        for (int64_t v = 0; v < vocab_; ++v) t.out[v] += t.weight * (static_cast<double>(row[v]) - lse);
      }
    }
  }
  std::vector<Pending> finished = std::move(pending_);
  pending_.clear();
  queued_.clear();
  longest_ = 0;
  counters.passes += batch;
  counters.tokens += real;
  counters.batches += 1;
  counters.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& p : finished) {
    for (auto& d : p.done) d();
  }
  if (progress) progress(counters, total_passes);
}

void add_tiled(PassRunner& runner, const TileLayout& tiling, const std::vector<uint8_t>& ids,
               const std::vector<int64_t>& masked, const std::vector<SiteQuery>& queries,
               const std::function<void()>& done) {
  const Alphabet& a = runner.alphabet();
  const int32_t bos = a.prepend_bos() ? 1 : 0;
  // Each tile's pass reports back; the last one to do so runs `done`.
  std::shared_ptr<int64_t> left;
  std::vector<std::size_t> tiles;
  for (std::size_t k = 0; k < tiling.tiles.size(); ++k) {
    const Tile& tile = tiling.tiles[k];
    if (std::any_of(queries.begin(), queries.end(), [&](const SiteQuery& q) {
          return q.residue >= tile.start && q.residue < tile.start + tile.length;
        })) {
      tiles.push_back(k);
    }
  }
  if (done) left = std::make_shared<int64_t>(static_cast<int64_t>(tiles.size()));
  for (std::size_t k : tiles) {
    const Tile& tile = tiling.tiles[k];
    if (runner.dry()) {
      runner.add({}, {});
      continue;
    }
    std::vector<uint8_t> row;
    row.reserve(static_cast<std::size_t>(tile.length) + 2);
    if (bos) row.push_back(static_cast<uint8_t>(a.cls_idx()));
    row.insert(row.end(), ids.begin() + tile.start, ids.begin() + tile.start + tile.length);
    if (a.append_eos()) row.push_back(static_cast<uint8_t>(a.eos_idx()));
    for (int64_t m : masked) {
      if (m >= tile.start && m < tile.start + tile.length) row[static_cast<std::size_t>(bos + m - tile.start)] = static_cast<uint8_t>(a.mask_idx());
    }
    std::vector<Target> targets;
    for (const SiteQuery& q : queries) {
      if (q.residue < tile.start || q.residue >= tile.start + tile.length) continue;
      const auto i = static_cast<std::size_t>(q.residue - tile.start);
      targets.push_back({static_cast<int32_t>(bos + static_cast<int32_t>(i)), q.token, tiling.weights[k][i], q.out});
    }
    std::function<void()> report;
    if (left) {
      report = [left, done] {
        if (--*left == 0) done();
      };
    }
    runner.add(std::move(row), std::move(targets), std::move(report));
  }
  if (left && tiles.empty() && !runner.dry()) done();
}

std::vector<uint8_t> residue_ids(const Alphabet& alphabet, const std::string& sequence, const std::string& what) {
  std::vector<uint8_t> ids;
  ids.reserve(sequence.size());
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    const char c = sequence[i];
    const int64_t id = (c >= 'A' && c <= 'Z') ? alphabet.index(std::string_view(&c, 1)) : -1;
    if (id < 0) {
      throw InputError(fmt::format("{}: '{}' at index {} is not an amino acid of the {} alphabet (one upper-case "
                                   "letter per residue)",
                                   what, c, i, alphabet.name()));
    }
    ids.push_back(static_cast<uint8_t>(id));
  }
  return ids;
}

}  // namespace esm_onnx::scoring

namespace esm_onnx::scoring {
TileLayout tiles_for(const ModelInfo& info, const ScoreRequest& request, int64_t length, const std::string& what) {
  const Tiling t = resolve_tiling(info, request);
  if (request.long_sequences == LongSequences::Full && length > t.length) {
    throw UsageError(fmt::format("{}: {} residues, more than the {} that {}'s learned positions take in one pass; "
                                 "use --long-sequences tile (esm-variants' overlapping windows)",
                                 what, length, t.length, info.variant));
  }
  return tile_sequence(length, t);
}
}  // namespace esm_onnx::scoring
