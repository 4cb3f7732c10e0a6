#pragma once
// The passes a scoring job runs: token rows (a tile of a sequence, some residues masked) and the
// log-probabilities wanted from each, batched under a token budget. Identical rows queued together run once
// (several mutants at one site share their masked copy).
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "esm_onnx/base/tiles.h"
#include "esm_onnx/engines/model.h"
#include "esm_onnx/jobs/score.h"

namespace esm_onnx::scoring {

// Accumulates weight * log_softmax(logits)[position] into `out`: the token's entry, or with token -1 the whole row
// (out[0 .. vocab)).
struct Target {
  int32_t position;  // in the token row, BOS counted
  int32_t token;
  double weight;
  double* out;
};

class PassRunner {
 public:
  // `dry`: count passes only (for a progress total), run nothing.
  PassRunner(const Model& model, int64_t toks_per_batch, bool dry = false);

  bool dry() const { return dry_; }
  int64_t vocab() const { return vocab_; }
  const Alphabet& alphabet() const { return alphabet_; }
  // Queues a row; runs the queue first when the row would take it past the budget. `done`, when given, is called
  // once the row's targets have been accumulated.
  void add(std::vector<uint8_t> tokens, std::vector<Target> targets, std::function<void()> done = {});
  void flush();

  PassCounters counters;
  PassProgressFn progress;
  int64_t total_passes{0};

 private:
  struct Pending {
    std::vector<uint8_t> tokens;
    std::vector<Target> targets;
    std::vector<std::function<void()>> done;
  };
  void run();

  const Model& model_;
  Alphabet alphabet_;
  int64_t vocab_;
  int64_t budget_;
  bool dry_;
  std::vector<Pending> pending_;
  std::unordered_map<std::string, std::size_t> queued_;  // a row's bytes -> its place in pending_
  std::size_t longest_{0};
};

// A log-probability a job wants at one residue of a sequence: `token`'s, or the whole row with token -1.
struct SiteQuery {
  int64_t residue;
  int32_t token;
  double* out;
};

// Queues the passes that answer `queries` on the residues `ids` (alphabet ids, no BOS/EOS) with the residues
// `masked` replaced by <mask>: one per tile holding a queried residue, each answer the tiles' weighted sum.
// `done` runs once every pass has been accumulated.
void add_tiled(PassRunner& runner, const TileLayout& tiling, const std::vector<uint8_t>& ids,
               const std::vector<int64_t>& masked, const std::vector<SiteQuery>& queries,
               const std::function<void()>& done = {});

// The ids of a sequence of one-letter residues; UsageError naming `what` for a character the alphabet has no
// one-letter token for.
std::vector<uint8_t> residue_ids(const Alphabet& alphabet, const std::string& sequence, const std::string& what);

}  // namespace esm_onnx::scoring

namespace esm_onnx::scoring {
// The tiles of a sequence of `length` residues under `request` for `info`'s model; UsageError for Full when the
// model's positions stop before `length` (naming tile).
// A note for a model that computes what scoring does not read on every pass (contacts or attention maps, and
// so the explicit layers); empty when there is nothing to say.
std::string unused_outputs_note(const ModelInfo& info, const std::string& path);
// UsageError unless `info`'s model has a masked language-model head.
void require_language_model(const ModelInfo& info, const std::string& path);
TileLayout tiles_for(const ModelInfo& info, const ScoreRequest& request, int64_t length, const std::string& what);
}  // namespace esm_onnx::scoring

namespace esm_onnx::scoring {
// Queues the wild-type passes of one protein for its every-missense-variant matrix; `finished` receives the
// [L, 20] matrix (score.h's score_missense) once they ran. InputError for a residue outside the 20.
void queue_missense(PassRunner& runner, const ModelInfo& info, const ScoreRequest& request, const std::string& sequence,
                    const std::string& what, std::function<void(FloatArray)> finished);
}  // namespace esm_onnx::scoring
