// The deep-mutational-scan job: predict.py's interface. Each model adds a column named as the command line wrote
// it; several models add their mean too.
#include <fmt/format.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/jobs/score.h"
#include "formats/io/csv_table.h"
#include "formats/io/output_file.h"
#include "jobs/scoring/passes.h"

namespace esm_onnx {

void DmsOptions::validate() const {
  if (models.empty()) throw UsageError("score: at least one MODEL is needed");
  if (sequence.empty()) throw UsageError("score: --sequence is required with --dms-input");
  if (input.empty() || output.empty()) throw UsageError("score: --dms-input and --dms-output are required together");
  if (!column_names.empty() && column_names.size() != models.size()) {
    throw UsageError("score: one column name per model");
  }
  request.validate();
  runtime.validate();
  io::output_destination(output, "--dms-output");
  for (const auto& m : models) io::refuse_input(output, "--dms-output", m, "MODEL");
}

namespace {

// The models of an ensemble, each once: two spellings of one file (a relative and an absolute path, a link, a
// name and the cache entry it resolves to) would weigh that model twice in the mean. Files are compared by
// device and inode; the first spelling names the column.
void drop_repeated_models(std::vector<std::string>& files, std::vector<std::string>& columns, const MessageFn& message) {
  std::vector<std::string> kept_files, kept_columns;
  for (std::size_t k : distinct_models(files, columns, message)) {
    kept_files.push_back(files[k]);
    kept_columns.push_back(columns[k]);
  }
  files = std::move(kept_files);
  columns = std::move(kept_columns);
}

std::string score_text(double v) { return std::isnan(v) ? std::string() : fmt::format("{:.10g}", v); }

std::size_t column_for(CsvTable& table, const std::string& name) {
  for (std::size_t i = 0; i < table.header.size(); ++i) {
    if (table.header[i] == name) return i;  // predict.py's df[name] = ...: an existing column is replaced
  }
  table.header.push_back(name);
  for (auto& row : table.rows) row.emplace_back();
  return table.header.size() - 1;
}

}  // namespace

std::vector<std::size_t> distinct_models(const std::vector<std::string>& files, const std::vector<std::string>& columns,
                                         const MessageFn& message) {
  if (columns.size() != files.size()) throw InternalError("distinct_models: one column name per file");
  std::vector<std::pair<dev_t, ino_t>> seen;  // of the kept files, in order
  std::vector<std::size_t> kept;
  for (std::size_t k = 0; k < files.size(); ++k) {
    struct stat st {};
    if (stat(files[k].c_str(), &st) == 0) {
      const auto id = std::make_pair(st.st_dev, st.st_ino);
      const auto it = std::find(seen.begin(), seen.end(), id);
      if (it != seen.end()) {
        const std::string& first = columns[kept[static_cast<std::size_t>(it - seen.begin())]];
        if (message) {
          message({MessageKind::Notice, fmt::format("notice: MODEL {} is the model {} already names: scored once, in column {}",
                                                    columns[k], first, first)});
        }
        continue;
      }
      seen.push_back(id);
    } else {
      seen.emplace_back(~dev_t{0}, static_cast<ino_t>(k));  // no file here (its load reports it): unlike any other
    }
    kept.push_back(k);
  }
  return kept;
}

DmsSummary score_dms_file(const DmsOptions& options, const PassProgressFn& progress, const MessageFn& message) {
  options.validate();
  DmsOptions opt = options;
  if (opt.column_names.empty()) opt.column_names = opt.models;
  drop_repeated_models(opt.models, opt.column_names, message);
  CsvTable table = read_csv(opt.input);
  const std::size_t col = table.column(opt.mutation_column, "--mutation-col");
  std::vector<std::string> mutants;
  mutants.reserve(table.rows.size());
  for (const auto& row : table.rows) mutants.push_back(row[col]);
  DmsSummary sum;
  sum.columns = opt.column_names;
  sum.strategy = opt.request.strategy;
  sum.output = opt.output;
  sum.rows = static_cast<int64_t>(mutants.size());
  std::vector<double> total(mutants.size(), 0.0);
  for (std::size_t k = 0; k < opt.models.size(); ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    const Model model(opt.models[k], opt.runtime);
    sum.load_seconds += model.load_seconds();
    sum.engines.push_back(model.engine());
    if (const auto note = scoring::unused_outputs_note(model.info(), model.path()); !note.empty() && message) message({MessageKind::Notice, note});
    MutantScores s;
    try {
      s = score_mutants(model, opt.sequence, mutants, opt.request, opt.offset, opt.strict, progress);
    } catch (const InputError& e) {
      // strict: name the row as the file has it
      throw InputError(fmt::format("{}: {}", opt.input, e.what()));
    }
    for (auto& r : s.skipped) r.line = table.lines[static_cast<std::size_t>(r.index)];
    if (k == 0) {
      sum.skipped = s.skipped;
      if (message) {
        for (const auto& r : s.skipped) {
          message({MessageKind::Skipped, fmt::format("skipped {}: line {} ('{}'): {}", opt.input, r.line, r.mutant, r.reason)});
        }
      }
    }
    const std::size_t out = column_for(table, opt.column_names[k]);
    for (std::size_t i = 0; i < mutants.size(); ++i) {
      table.rows[i][out] = score_text(s.scores[i]);
      total[i] += s.scores[i];
    }
    sum.counters.passes += s.counters.passes;
    sum.counters.tokens += s.counters.tokens;
    sum.counters.batches += s.counters.batches;
    sum.counters.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  if (opt.models.size() > 1) {
    const std::size_t out = column_for(table, std::string(kEnsembleColumn));
    for (std::size_t i = 0; i < mutants.size(); ++i) {
      table.rows[i][out] = score_text(total[i] / static_cast<double>(opt.models.size()));
    }
  }
  sum.scored = sum.rows - static_cast<int64_t>(sum.skipped.size());
  write_csv(table, opt.output, "--dms-output");
  return sum;
}

}  // namespace esm_onnx
