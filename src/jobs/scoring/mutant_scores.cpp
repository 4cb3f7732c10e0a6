// score_mutants: the passes each strategy needs (scoring_strategies()'s contexts), queued once each, and the scores
// read from their log-probabilities.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/mutations.h"
#include "esm_onnx/jobs/score.h"
#include "jobs/scoring/passes.h"

namespace esm_onnx {
namespace {

using scoring::PassRunner;
using scoring::SiteQuery;

struct Parsed {
  std::size_t row;
  std::vector<Substitution> subs;
};

// A block of whole log-probability rows, one per site.
struct SiteRows {
  std::map<int64_t, std::size_t> index;  // site -> row
  std::vector<double> values;            // [sites, vocab]
};

class Scorer {
 public:
  Scorer(const Model& model, const std::string& sequence, const std::vector<Parsed>& mutants, const ScoreRequest& request)
      : model_(model), mutants_(mutants), request_(request) {
    const Alphabet& a = model.alphabet();
    wt_ = scoring::residue_ids(a, sequence, "--sequence");
    tiling_ = scoring::tiles_for(model.info(), request, static_cast<int64_t>(wt_.size()), "--sequence");
    vocab_ = model.info().vocab_size;
  }

  // Queues every pass on `runner` (counting them when it is dry), then, after the runner flushed, the scores.
  void queue(PassRunner& runner) {
    switch (strategy_spec(request_.strategy).contexts) {
      case ScoreContexts::WildType: queue_sites(runner, false); break;
      case ScoreContexts::MaskEachSite: queue_sites(runner, true); break;
      case ScoreContexts::MaskAllSites: queue_site_sets(runner); break;
      case ScoreContexts::Mutant: queue_mutants(runner); break;
      case ScoreContexts::MaskEveryResidue: queue_every_residue(runner); break;
    }
  }

  std::vector<double> scores() const {
    std::vector<double> out;
    out.reserve(mutants_.size());
    const auto contexts = strategy_spec(request_.strategy).contexts;
    for (std::size_t m = 0; m < mutants_.size(); ++m) {
      const auto& subs = mutants_[m].subs;
      double s = 0;
      switch (contexts) {
        case ScoreContexts::WildType:
        case ScoreContexts::MaskEachSite:
          for (const auto& x : subs) s += marginal(sites_, x);
          break;
        case ScoreContexts::MaskAllSites: {
          const SiteRows& rows = site_sets_.at(site_set(subs));
          for (const auto& x : subs) s += marginal(rows, x);
          break;
        }
        case ScoreContexts::Mutant: {
          const auto& v = mutant_values_.at(mutant_key(subs));
          for (std::size_t i = 0; i < subs.size(); ++i) s += v[2 * i] - v[2 * i + 1];
          break;
        }
        case ScoreContexts::MaskEveryResidue: s = sums_[m]; break;
      }
      out.push_back(s);
    }
    return out;
  }

 private:
  int32_t id(char residue) const { return static_cast<int32_t>(model_.alphabet().index(std::string_view(&residue, 1))); }

  double marginal(const SiteRows& rows, const Substitution& x) const {
    const double* row = rows.values.data() + rows.index.at(x.position) * static_cast<std::size_t>(vocab_);
    return row[id(x.mutant)] - row[id(x.wild_type)];
  }

  static std::vector<int64_t> site_set(const std::vector<Substitution>& subs) {
    std::vector<int64_t> s;
    for (const auto& x : subs) s.push_back(x.position);
    std::sort(s.begin(), s.end());
    return s;
  }
  static std::vector<std::pair<int64_t, char>> mutant_key(const std::vector<Substitution>& subs) {
    std::vector<std::pair<int64_t, char>> k;
    for (const auto& x : subs) k.emplace_back(x.position, x.mutant);
    std::sort(k.begin(), k.end());
    return k;
  }

  void allocate(SiteRows& rows, const std::set<int64_t>& sites) {
    for (int64_t p : sites) rows.index.emplace(p, rows.index.size());
    rows.values.assign(rows.index.size() * static_cast<std::size_t>(vocab_), 0.0);
  }
  double* row_of(SiteRows& rows, int64_t site) { return rows.values.data() + rows.index.at(site) * static_cast<std::size_t>(vocab_); }

  // Every site any mutant touches: one pass of the wild type (tiles), or one masked copy per site.
  void queue_sites(PassRunner& runner, bool masked) {
    std::set<int64_t> sites;
    for (const auto& m : mutants_) {
      for (const auto& x : m.subs) sites.insert(x.position);
    }
    allocate(sites_, sites);
    if (!masked) {
      std::vector<SiteQuery> q;
      for (int64_t p : sites) q.push_back({p, -1, row_of(sites_, p)});
      if (!q.empty()) scoring::add_tiled(runner, tiling_, wt_, {}, q);
      return;
    }
    for (int64_t p : sites) scoring::add_tiled(runner, tiling_, wt_, {p}, {{p, -1, row_of(sites_, p)}});
  }

  // One copy per distinct set of mutated sites, every site of the set masked.
  void queue_site_sets(PassRunner& runner) {
    for (const auto& m : mutants_) {
      auto key = site_set(m.subs);
      if (site_sets_.count(key)) continue;
      SiteRows& rows = site_sets_[key];
      allocate(rows, std::set<int64_t>(key.begin(), key.end()));
      std::vector<SiteQuery> q;
      for (int64_t p : key) q.push_back({p, -1, row_of(rows, p)});
      scoring::add_tiled(runner, tiling_, wt_, key, q);
    }
  }

  // One pass per distinct mutant sequence: log p of the mutant's and the wild type's residue at each of its sites.
  void queue_mutants(PassRunner& runner) {
    for (const auto& m : mutants_) {
      auto key = mutant_key(m.subs);
      if (mutant_values_.count(key)) continue;
      auto& v = mutant_values_[key];
      v.assign(2 * m.subs.size(), 0.0);
      std::vector<uint8_t> ids = wt_;
      for (const auto& x : m.subs) ids[static_cast<std::size_t>(x.position)] = static_cast<uint8_t>(id(x.mutant));
      std::vector<SiteQuery> q;
      for (std::size_t i = 0; i < m.subs.size(); ++i) {
        q.push_back({m.subs[i].position, id(m.subs[i].mutant), &v[2 * i]});
        q.push_back({m.subs[i].position, id(m.subs[i].wild_type), &v[2 * i + 1]});
      }
      scoring::add_tiled(runner, tiling_, ids, {}, q);
    }
  }

  // Each residue of each mutant masked in turn, site-major so that the copies mutants share (a single mutant masked
  // at its own site is the wild type masked there) are queued together and run once.
  void queue_every_residue(PassRunner& runner) {
    const bool as_predict_py = request_.strategy == ScoringStrategy::PseudoPpl;
    const int64_t n = static_cast<int64_t>(wt_.size());
    const int64_t bos = model_.alphabet().prepend_bos() ? 1 : 0;
    sums_.assign(mutants_.size(), 0.0);
    // predict.py: for t in range(1, len(sequence) - 1): mask token t (residue t - BOS), read sequence[t].
    const int64_t first = as_predict_py ? 1 : 0, last = as_predict_py ? n - 1 : n;
    std::vector<uint8_t> ids;  // the mutant, rebuilt per pass: memory stays one sequence whatever the scan's size
    for (int64_t t = first; t < last; ++t) {
      const int64_t masked = as_predict_py ? t - bos : t;
      if (masked < 0 || masked >= n) continue;
      for (std::size_t m = 0; m < mutants_.size(); ++m) {
        ids = wt_;
        for (const auto& x : mutants_[m].subs) ids[static_cast<std::size_t>(x.position)] = static_cast<uint8_t>(id(x.mutant));
        const int32_t token = ids[static_cast<std::size_t>(t)];
        scoring::add_tiled(runner, tiling_, ids, {masked}, {{masked, token, &sums_[m]}});
      }
    }
  }

  const Model& model_;
  const std::vector<Parsed>& mutants_;
  ScoreRequest request_;
  std::vector<uint8_t> wt_;
  TileLayout tiling_;
  int64_t vocab_{0};
  SiteRows sites_;
  std::map<std::vector<int64_t>, SiteRows> site_sets_;
  std::map<std::vector<std::pair<int64_t, char>>, std::vector<double>> mutant_values_;
  std::vector<double> sums_;
};

}  // namespace

namespace scoring {
std::string unused_outputs_note(const ModelInfo& info, const std::string& path) {
  std::vector<std::string> extra;
  for (const auto& g : graph_output_specs()) {
    // The fused layers compute their side-branch outputs (contacts) only on runs that fetch them.
    const bool gated = g.fused_side_branch && info.attention == Attention::Fused;
    if (g.convert != ConvertRule::Always && g.id != GraphOutput::Logits && info.has(g.id) && !gated) extra.emplace_back(g.name);
  }
  if (extra.empty()) return {};
  return fmt::format("note: {} computes {} on every pass, which scoring does not read; a conversion with only the "
                     "logits (convert --no-contacts, without --attentions or --no-optimize) runs faster",
                     path, fmt::join(extra, " and "));
}

void require_language_model(const ModelInfo& info, const std::string& path) {
  if (!info.has(GraphOutput::Logits) || info.head != OutputHead::LanguageModel) {
    throw UsageError(fmt::format("{}: scoring needs a masked language-model head (logits over the alphabet); this "
                                 "model has {}: convert the checkpoint with its LM head",
                                 path, info.has(GraphOutput::Logits) ? output_head_name(info.head) : "no logits"));
  }
}
}  // namespace scoring

MutantScores score_mutants(const Model& model, const std::string& sequence, const std::vector<std::string>& mutants,
                           const ScoreRequest& request, int64_t offset, bool strict, const PassProgressFn& progress) {
  request.validate();
  scoring::require_language_model(model.info(), model.path());
  if (sequence.empty()) throw UsageError("--sequence: empty");
  MutantScores result;
  std::vector<Parsed> parsed;
  for (std::size_t i = 0; i < mutants.size(); ++i) {
    try {
      parsed.push_back({i, parse_mutant(mutants[i], sequence, offset, model.alphabet())});
    } catch (const InputError& e) {
      if (strict) throw InputError(fmt::format("mutant {} ('{}'): {}", i, mutants[i], e.what()));
      result.skipped.push_back({static_cast<int64_t>(i), 0, mutants[i], e.what()});
    }
  }
  {
    // A dry run counts the passes for the progress total; the scorer that runs starts afresh.
    PassRunner dry(model, request.toks_per_batch, true);
    Scorer(model, sequence, parsed, request).queue(dry);
    PassRunner runner(model, request.toks_per_batch);
    runner.total_passes = dry.total_passes;
    runner.progress = progress;
    Scorer real(model, sequence, parsed, request);
    real.queue(runner);
    runner.flush();
    result.counters = runner.counters;
    result.scores.assign(mutants.size(), std::numeric_limits<double>::quiet_NaN());
    const auto s = real.scores();
    for (std::size_t k = 0; k < parsed.size(); ++k) result.scores[parsed[k].row] = s[k];
  }
  return result;
}

}  // namespace esm_onnx
