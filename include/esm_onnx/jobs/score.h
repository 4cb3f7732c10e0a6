#pragma once
// Variant-effect scores from a masked language model's log-probabilities: the deep-mutational-scan job of
// fair-esm's examples/variant-prediction/predict.py, and esm-variants' every-missense-variant job
// (esm_score_missense_mutations.py), without PyTorch. The strategies and their formulas are the table of
// scoring_strategies(); long sequences are tiled as esm-variants tiles them (tiles.h).
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "esm_onnx/base/message.h"
#include "esm_onnx/base/options.h"
#include "esm_onnx/base/record.h"
#include "esm_onnx/base/runtime_options.h"
#include "esm_onnx/base/tiles.h"
#include "esm_onnx/engines/model.h"

namespace esm_onnx {

enum class ScoringStrategy {
  WtMarginals,           // predict.py's wt-marginals
  MaskedMarginals,       // predict.py's masked-marginals: each mutated position masked on its own
  PseudoPpl,             // predict.py's pseudo-ppl, its loop as written
  JointMaskedMarginals,  // the paper's masked marginal: every mutated position masked at once
  MutantMarginals,       // the paper's mutant marginal: log-probabilities of the mutant sequence
  PseudoLl,              // the exact pseudo-log-likelihood of the mutant sequence
};

// What the passes of a strategy are: the model's job, and the rule that picks them.
enum class ScoreContexts {
  WildType,        // one pass over the wild type
  MaskEachSite,    // one pass per mutated position, that position masked (shared by every mutant there)
  MaskAllSites,    // one pass per set of mutated positions, all of them masked
  Mutant,          // one pass per mutant sequence
  MaskEveryResidue,  // one pass per residue of each mutant sequence, that residue masked
};

struct StrategySpec {
  ScoringStrategy id;
  std::string_view name;     // --scoring-strategy
  ScoreContexts contexts;
  std::string_view formula;  // for --help and the README
};

std::span<const StrategySpec> scoring_strategies();
const StrategySpec& strategy_spec(ScoringStrategy strategy);
ScoringStrategy parse_scoring_strategy(std::string_view text, std::string_view option = "--scoring-strategy");
const char* strategy_name(ScoringStrategy strategy);


// How to score, whatever the job.
struct ScoreRequest {
  ScoringStrategy strategy{ScoringStrategy::WtMarginals};
  int64_t toks_per_batch{kDefaultScoreToksPerBatch};
  // Records longer than the tile length: Tile (esm-variants' windows) or Full (one pass; rotary models only).
  LongSequences long_sequences{LongSequences::Tile};
  // length 0: the family's training length (FamilyTraits), capped by what the model's positions take.
  Tiling tiling;

  void validate() const;  // UsageError naming the option
  std::string to_string() const;
};

// The tiling a request gives for `model`: its tile length resolved. UsageError for Full on a model with learned
// positions when `length` exceeds them (naming tile), and for Truncate (scores need every residue).
Tiling resolve_tiling(const ModelInfo& info, const ScoreRequest& request);

// A row of a scan that was not scored, and why.
struct SkippedRow {
  int64_t index{0};  // 0-based row of the input
  int64_t line{0};   // its line in the input file (0 when it did not come from one)
  std::string mutant;
  std::string reason;
};

struct PassCounters {
  int64_t passes{0};   // rows run through the model (tiles and masked copies)
  int64_t tokens{0};   // their tokens, BOS/EOS included, padding not
  int64_t batches{0};
  double seconds{0};
  double tokens_per_second() const { return esm_onnx::tokens_per_second(tokens, seconds); }
};

struct MutantScores {
  std::vector<double> scores;  // one per mutant, in order; NaN for a skipped one
  std::vector<SkippedRow> skipped;
  PassCounters counters;
};

using PassProgressFn = std::function<void(const PassCounters& done, int64_t total_passes)>;

// Scores `mutants` ("A24C", "A24C:G30W") of `sequence` with `model`. `offset` is predict.py's --offset-idx.
// A mutant that cannot be scored (malformed, outside the sequence, wrong wild type, a residue outside the
// alphabet) is skipped with its reason, or throws InputError naming it when `strict`.
MutantScores score_mutants(const Model& model, const std::string& sequence, const std::vector<std::string>& mutants,
                           const ScoreRequest& request, int64_t offset = 0, bool strict = false,
                           const PassProgressFn& progress = {});

// esm-variants' amino-acid order of the [L, 20] matrices and the CSV's rows.
inline constexpr std::string_view kMissenseOrder = "KRHEDNQTSCGAVLIMPYFW";

// The log-likelihood ratio of every missense variant of one protein against its wild type: [L, 20] in
// kMissenseOrder, log p(mutant) - log p(wild type) at each position from the wild type's pass (tiled beyond the
// tile length); the wild type's own entry is 0. InputError when a residue is not one of the 20.
FloatArray score_missense(const Model& model, const std::string& sequence, const ScoreRequest& request = {},
                          PassCounters* counters = nullptr);

// The deep-mutational-scan job (`esm-onnx score MODEL... --dms-input`): predict.py's interface.
struct DmsOptions {
  std::vector<std::string> models;  // .onnx files; each adds a column, named as written here
  std::vector<std::string> column_names;  // the columns' names instead, one per model (empty: `models`)
  std::string sequence;
  std::string input;   // CSV
  std::string output;  // CSV: the input's columns and rows, a column per model, and kEnsembleColumn for several
  std::string mutation_column{"mutant"};
  int64_t offset{0};
  ScoreRequest request;
  RuntimeOptions runtime;
  bool strict{false};  // stop at the first row that cannot be scored instead of leaving its cells empty

  void validate() const;
};

// The column with the mean of the models' scores when there are several (the ESM-1v ensemble).
inline constexpr std::string_view kEnsembleColumn = "ensemble_mean";

struct DmsSummary {
  std::vector<std::string> columns;  // a column per model scored (a model named twice is scored once)
  int64_t rows{0};
  int64_t scored{0};
  std::vector<SkippedRow> skipped;  // of the first model (every model skips the same rows)
  PassCounters counters;            // all models
  double load_seconds{0};
  std::vector<EngineInfo> engines;
  ScoringStrategy strategy{ScoringStrategy::WtMarginals};
  std::string output;

  std::string to_json() const;  // `score --json`'s report of the scan
};

// An ensemble's models, each once whatever its spelling (a relative and an absolute path, a link: the same device
// and inode): the indices of `files` kept, in order; each one left out is a Notice naming the column it would
// have repeated. A file that does not exist is kept (its load reports it). score_dms_file and Python's score_dms.
std::vector<std::size_t> distinct_models(const std::vector<std::string>& files, const std::vector<std::string>& columns,
                                         const MessageFn& message = {});

DmsSummary score_dms_file(const DmsOptions& options, const PassProgressFn& progress = {},
                          const MessageFn& message = {});

// The every-missense-variant job (`esm-onnx score MODEL --input-fasta-file`): esm-variants' interface.
struct MissenseOptions {
  std::string model;       // .onnx
  std::string fasta;
  std::string output_csv;  // seq_id, mut_name, esm_score: esm-variants' CSV
  std::string matrix_dir;  // <seq_id>.npz per protein ([L, 20] `scores`); empty: the CSV's path + ".d"
  ScoreRequest request;
  RuntimeOptions runtime;
  int64_t read_ahead{kDefaultScoreReadAhead};  // proteins read, sorted by length and batched together
  bool strict{false};      // stop at the first protein that cannot be scored

  void validate() const;
  std::string matrices() const;  // matrix_dir resolved
};

struct MissenseProgress {
  int64_t proteins_done{0};  // scored + already present + skipped
  int64_t proteins_seen{0};
  int64_t tokens{0};
  double seconds{0};
};

struct MissenseSummary {
  int64_t scored{0};
  int64_t already_present{0};  // their matrices were in matrix_dir from an earlier run
  std::vector<SkippedRecord> skipped;
  int64_t csv_rows{0};
  PassCounters counters;
  double load_seconds{0};
  EngineInfo engine;
  std::string matrix_dir;
  std::string output_csv;

  std::string to_json() const;  // `score --json`'s report of the missense job
};

MissenseSummary score_missense_file(const MissenseOptions& options,
                                    const std::function<void(const MissenseProgress&)>& progress = {},
                                    const MessageFn& message = {});
// The same on a model already loaded (options.model and options.runtime unused): a worker loads it once.
MissenseSummary score_missense_file(const Model& model, const MissenseOptions& options,
                                    const std::function<void(const MissenseProgress&)>& progress = {},
                                    const MessageFn& message = {});

// esm-variants' seq_id of a FASTA record: the header's first word (Biopython's record.id).
std::string fasta_id(const std::string& header);

}  // namespace esm_onnx
