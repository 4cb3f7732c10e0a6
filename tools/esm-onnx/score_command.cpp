// `esm-onnx score`: variant effects. Two jobs on one command, chosen by their inputs as the scripts they stand
// for choose them: a deep mutational scan (predict.py's --dms-input and --sequence) or every missense variant of
// a FASTA file's proteins (esm-variants' --input-fasta-file).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cstdio>

#include "cli.h"
#include "command.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/hub/model_cache.h"
#include "esm_onnx/jobs/score.h"
#include "options.h"
#include "progress.h"

namespace esm_onnx::cli {
namespace {

std::string strategies_help() {
  std::string out = "how a mutation is scored:";
  for (const auto& s : esm_onnx::scoring_strategies()) out += fmt::format("\n  {}: {}", s.name, s.formula);
  return out;
}

class ScoreCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    auto* s = app.add_subcommand(
        "score",
        "Score mutations: a deep mutational scan (predict.py: --sequence, --dms-input, --dms-output) or every "
        "missense variant of a FASTA file's proteins (esm-variants: --input-fasta-file, --output-csv-file)");
    s->add_option("model", models,
                  "converted .onnx files, fair-esm checkpoints, transformers folders or released names (converted once "
                  "into the cache); each adds a column named as written");
    // A vector of its own: two options bound to one vector keep only the last one's values.
    s->add_option("--model-location", location_models, "predict.py's spelling of MODEL (several for an ensemble)");
    s->add_option("--model-name", model_name,
                  "esm-variants' spelling of MODEL (its default, esm1b_t33_650M_UR50S, when no model is given with "
                  "--input-fasta-file)");
    // predict.py
    s->add_option("--sequence", dms.sequence, "base sequence to which mutations were applied");
    s->add_option("--dms-input", dms.input, "CSV file containing the deep mutational scan");
    s->add_option("--dms-output", dms.output,
                  "output CSV: the input's columns and rows, a column per model, and ensemble_mean for several models");
    s->add_option("--mutation-col", dms.mutation_column, "column labelling the mutation as 'AiB' (A24C:G30W for several)")
        ->capture_default_str();
    typed_option(s, "--offset-idx", dms.offset, "0",
                 [](const std::string& t, const std::string& o) { return parse_count<int64_t>(t, o); },
                 "offset of the mutation positions in --mutation-col (1 for 1-based positions, ProteinGym's)");
    typed_option(s, "--scoring-strategy", request.strategy, esm_onnx::strategy_name(request.strategy),
                 [](const std::string& t, const std::string& o) { return esm_onnx::parse_scoring_strategy(t, o); },
                 strategies_help());
    s->add_option("--msa-path", msa_path, "MSA Transformer's input: not supported (esm-onnx runs single-sequence models)");
    s->add_option("--msa-samples", msa_samples, "MSA Transformer only (not supported)");
    s->add_option("--lowercase-type", lowercase_type, "MSA Transformer only (not supported)");
    s->add_flag("--nogpu", nogpu, "run on the CPU (esm-onnx does unless --device cuda)");
    // esm-variants
    s->add_option("--input-fasta-file", missense.fasta, "FASTA file of the proteins to score every missense variant of");
    s->add_option("--output-csv-file", missense.output_csv, "output CSV: seq_id, mut_name, esm_score");
    s->add_option("--matrix-dir", missense.matrix_dir,
                  "a <seq_id>.npz per protein with its [L, 20] matrix (default: the CSV's path + .d); a rerun skips "
                  "the proteins found there");
    constexpr auto job = esm_onnx::OptionJob::Score;
    count_option(s, option_spec("read_ahead", job), missense.read_ahead);
    // both
    count_option(s, option_spec("toks_per_batch", job), request.toks_per_batch);
    long_sequences_option(s, request.long_sequences);
    tiling_options(s, request.tiling, job);
    runtime_options(s, runtime, job);
    engine_options(s, runtime, job);
    flag_option(s, option_spec("strict", job), strict);
    flag_option(s, option_spec("progress", job), progress);
    s->add_flag("--json", json, "print the summary as JSON");
    return s;
  }

  int run() override {
    if (nogpu) runtime.device = esm_onnx::Device::Cpu;
    if (!msa_path.empty()) {
      throw esm_onnx::UnsupportedError("--msa-path: the MSA Transformer is not supported (esm-onnx runs the "
                                       "single-sequence models: ESM-1, ESM-1b, ESM-1v, ESM-2, ESM C)");
    }
    models.insert(models.end(), location_models.begin(), location_models.end());
    if (!model_name.empty()) models.push_back(model_name);
    const bool scan = !dms.input.empty() || !dms.output.empty() || !dms.sequence.empty();
    const bool fasta = !missense.fasta.empty() || !missense.output_csv.empty();
    if (scan == fasta) {
      throw esm_onnx::UsageError(
          "score: give either a deep mutational scan (--sequence, --dms-input, --dms-output) or a FASTA file "
          "(--input-fasta-file, --output-csv-file)");
    }
    if (fasta && models.empty()) models.push_back("esm1b_t33_650M_UR50S");
    if (models.empty()) throw esm_onnx::UsageError("score: MODEL is required (or --model-location)");
    return scan ? run_scan() : run_missense();
  }
  bool embeds() const override { return true; }

 private:
  std::vector<std::string> resolved() const {
    std::vector<std::string> out;
    for (const auto& m : models) {
      // Scoring reads only the logits: the cache's conversion for it leaves contacts out (the fused layers).
      out.push_back(esm_onnx::cached_model(m, cache_request(esm_onnx::CachedGraph::Logits)));
    }
    return out;
  }

  int run_scan() {
    const bool tty = isatty(fileno(stderr)) && progress;
    dms.request = request;
    dms.runtime = runtime;
    dms.strict = strict;
    dms.models = models;
    dms.validate();
    // Columns are named by MODEL as written; the files behind them may be conversions in the cache.
    const std::vector<std::string> files = resolved();
    esm_onnx::DmsOptions opt = dms;
    opt.models = files;
    ProgressBar bar(0, tty, "passes");
    EmbedProgress p;
    auto summary = run_models(opt, bar, p);
    bar.finish();
    if (json) {
      fmt::print("{}\n", summary.to_json());
    } else {
      const auto& c = summary.counters;
      fmt::print("scored {} of {} rows with {} model{} ({}): {} passes ({} tokens, {} batches) in {:.3f} s, {:.0f} "
                 "tokens/s; {} skipped -> {}\n",
                 summary.scored, summary.rows, summary.columns.size(), summary.columns.size() > 1 ? "s" : "",
                 esm_onnx::strategy_name(request.strategy), c.passes, c.tokens, c.batches, c.seconds,
                 c.tokens_per_second(), summary.skipped.size(), dms.output);
    }
    return summary.skipped.empty() ? kOk : kSkipped;
  }

  // The columns keep the names the user wrote (predict.py's), whatever file in the cache stands behind them.
  esm_onnx::DmsSummary run_models(esm_onnx::DmsOptions& opt, ProgressBar& bar, EmbedProgress& p) {
    opt.column_names = models;
    return esm_onnx::score_dms_file(
        opt,
        [&](const esm_onnx::PassCounters& c, int64_t total) {
          bar.set_total(total);
          p.records_done = c.passes;
          p.tokens_done = c.tokens;
          p.seconds = c.seconds;
          bar.update(p);
        },
        [&](const esm_onnx::Message& m) {
          bar.finish();
          fmt::print(stderr, "{}\n", m.text);
        });
  }

  int run_missense() {
    if (models.size() != 1) {
      throw esm_onnx::UsageError(fmt::format("score --input-fasta-file: one MODEL at a time (given: {})", fmt::join(models, ", ")));
    }
    const bool tty = isatty(fileno(stderr)) && progress;
    missense.model = resolved().front();
    missense.request = request;
    missense.runtime = runtime;
    missense.strict = strict;
    missense.validate();
    ProgressBar bar(tty ? count_fasta_records(missense.fasta) : 0, tty, "proteins");
    EmbedProgress p;
    auto summary = esm_onnx::score_missense_file(
        missense,
        [&](const esm_onnx::MissenseProgress& m) {
          p.records_done = m.proteins_done;
          p.records_seen = m.proteins_seen;
          p.tokens_done = m.tokens;
          p.seconds = m.seconds;
          bar.update(p);
        },
        [&](const esm_onnx::Message& m) {
          bar.finish();
          fmt::print(stderr, "{}\n", m.text);
        });
    bar.finish();
    if (json) {
      fmt::print("{}\n", summary.to_json());
    } else {
      const auto& c = summary.counters;
      fmt::print("scored {} proteins ({} passes, {} tokens, {} batches) in {:.3f} s (model loaded in {:.3f} s), {:.0f} "
                 "tokens/s: {} already present, {} skipped -> {} ({} rows), {}\n",
                 summary.scored, c.passes, c.tokens, c.batches, c.seconds, summary.load_seconds,
                 c.tokens_per_second(), summary.already_present,
                 summary.skipped.size(), missense.output_csv, summary.csv_rows, summary.matrix_dir);
    }
    return summary.skipped.empty() ? kOk : kSkipped;
  }

  std::vector<std::string> models, location_models;
  std::string model_name, msa_path, lowercase_type;
  int64_t msa_samples{0};
  esm_onnx::ScoreRequest request;
  esm_onnx::RuntimeOptions runtime;
  esm_onnx::DmsOptions dms;
  esm_onnx::MissenseOptions missense;
  bool nogpu = false, strict = false, progress = true, json = false;
};

}  // namespace

std::unique_ptr<Command> score_command() { return std::make_unique<ScoreCommand>(); }

}  // namespace esm_onnx::cli
