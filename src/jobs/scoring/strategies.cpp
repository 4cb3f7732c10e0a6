// The scoring strategies' table and the request that chooses among them.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <limits>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/traits.h"
#include "esm_onnx/jobs/score.h"

namespace esm_onnx {
namespace {

// s: the substitutions of a mutant, wt_i -> mt_i at position i; x: the wild type; x~: the mutant; x_{-S}: x with
// the positions S masked.
constexpr std::array<StrategySpec, 6> kStrategies{{
    {ScoringStrategy::WtMarginals, "wt-marginals", ScoreContexts::WildType,
     "sum over s of log p(x_i = mt_i | x) - log p(x_i = wt_i | x): one pass of the wild type (predict.py's)"},
    {ScoringStrategy::MaskedMarginals, "masked-marginals", ScoreContexts::MaskEachSite,
     "sum over s of log p(x_i = mt_i | x_{-i}) - log p(x_i = wt_i | x_{-i}): each site masked on its own (predict.py's)"},
    {ScoringStrategy::PseudoPpl, "pseudo-ppl", ScoreContexts::MaskEveryResidue,
     "predict.py's loop as written: sum over token positions t = 1 .. n-2 of log p(token t = x~[t] | x~ with token t "
     "masked); with BOS at token 0 this masks residue t-1 and reads the next residue x~[t], and skips the last two"},
    {ScoringStrategy::JointMaskedMarginals, "joint-masked-marginals", ScoreContexts::MaskAllSites,
     "sum over s of log p(x_i = mt_i | x_{-S}) - log p(x_i = wt_i | x_{-S}), S every mutated site at once "
     "(the masked marginal of Meier et al. 2021)"},
    {ScoringStrategy::MutantMarginals, "mutant-marginals", ScoreContexts::Mutant,
     "sum over s of log p(x~_i = mt_i | x~) - log p(x~_i = wt_i | x~): one pass of the mutant sequence "
     "(the mutant marginal of Meier et al. 2021)"},
    {ScoringStrategy::PseudoLl, "pseudo-ll", ScoreContexts::MaskEveryResidue,
     "sum over every residue i of log p(x~_i | x~_{-i}): the exact pseudo-log-likelihood of the mutant sequence"},
}};

}  // namespace

std::span<const StrategySpec> scoring_strategies() { return kStrategies; }

const StrategySpec& strategy_spec(ScoringStrategy strategy) {
  for (const auto& s : kStrategies) {
    if (s.id == strategy) return s;
  }
  throw InternalError("a scoring strategy outside the table");
}

ScoringStrategy parse_scoring_strategy(std::string_view text, std::string_view option) {
  std::vector<std::string_view> names;
  for (const auto& s : kStrategies) {
    if (s.name == text) return s.id;
    names.push_back(s.name);
  }
  throw UsageError(fmt::format("{} {}: unknown scoring strategy (use {})", option, text, fmt::join(names, ", ")));
}

const char* strategy_name(ScoringStrategy strategy) { return strategy_spec(strategy).name.data(); }

void ScoreRequest::validate() const {
  if (toks_per_batch < 1) throw UsageError(fmt::format("--toks-per-batch {}: must be at least 1", toks_per_batch));
  if (long_sequences == LongSequences::Truncate) {
    throw UsageError("--long-sequences truncate: scores need every residue; use tile (esm-variants' windows) or full");
  }
  tiling.validate();
}

std::string ScoreRequest::to_string() const {
  return fmt::format("strategy={} toks_per_batch={} long_sequences={} {}", strategy_name(strategy), toks_per_batch,
                     long_sequences_name(long_sequences), tiling.to_string());
}

Tiling resolve_tiling(const ModelInfo& info, const ScoreRequest& request) {
  request.validate();
  const int64_t limit = info.max_residues();  // 0: positions without a limit
  Tiling t = request.tiling;
  if (request.long_sequences == LongSequences::Full) {
    t.length = limit > 0 ? limit : std::numeric_limits<int32_t>::max();
    return t;
  }
  return tiling_for_model(info, t);
}

}  // namespace esm_onnx
