#pragma once
// The options more than one front end takes (the CLI, the Python package, the Ray driver, and next the server),
// each declared once here: its Python keyword (also its name in JSON and in a Ray run's options), its
// command-line spellings, its default, its bounds and its help. The CLI registers its options from these rows,
// the bindings export them (`_core.OPTIONS`, the keyword defaults of the generated .pyi), and the Python
// wrappers and the Ray argparse read them from there. The defaults themselves are the constants of the headers
// that own them (options.h, tiles.h, runtime_options.h), so that a struct's initializer and its row agree.
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace esm_onnx {

// The jobs whose defaults differ (the read-ahead, the token budget, the long-sequence mode, --strict's help). The
// shared rows (no job) are the embedding jobs' (embed and score), and fold's where `folds` says so; convert has
// only its own.
enum class OptionJob { Embed, Score, Convert, Fold };
const char* option_job_name(OptionJob job);  // "embed", "score", "convert", "fold"

// A default: none (decided by the model or the job, `shown` says how), a flag, a count, a number or a name.
using OptionValue = std::variant<std::monostate, bool, int64_t, double, std::string_view>;

struct OptionSpec {
  std::string_view key;    // Python keyword: "tile_overlap"
  std::string_view flags;  // CLI spellings, comma-separated, the first naming the option in messages
  OptionValue value;       // the default; a flag spelled --no-x defaults to true and the flag turns it off
  std::string help;
  std::string shown{};     // the default as --help and the docs show it, when `value` does not say it
  int64_t minimum{std::numeric_limits<int64_t>::min()};  // counts and numbers: the least accepted
  int64_t maximum{std::numeric_limits<int64_t>::max()};
  std::optional<OptionJob> job{};  // this job's row; none: the running jobs' (embed and score)
  bool folds{false};               // a shared row that fold takes too (threads, device, the progress bar)

  std::string_view name() const;  // the first spelling: "--tile-overlap"
  std::vector<std::string_view> spellings() const;  // every spelling, the first one first
  std::string default_text() const;  // `shown`, else the value as the command line would spell it
  bool applies_to(OptionJob j) const;  // its own job's row, or a shared row and j embed or score (or fold, `folds`)
};

// Every row, in the table's order.
std::span<const OptionSpec> option_specs();
// The row of `key` for `job` (its own row, else the shared one). An unknown key is an InternalError.
const OptionSpec& option_spec(std::string_view key, OptionJob job);
// The rows `job` takes, one per key (its own where it has one), in the table's order: what the bindings export.
std::vector<const OptionSpec*> options_for(OptionJob job);

}  // namespace esm_onnx
