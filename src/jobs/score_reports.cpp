// The reports of the two scoring jobs, as `score --json` prints them: one builder each, for the CLI and the
// bindings alike.
#include <nlohmann/json.hpp>

#include "esm_onnx/jobs/score.h"

namespace esm_onnx {
namespace {

using Json = nlohmann::ordered_json;

void add_counters(Json& j, const PassCounters& c) {
  j["passes"] = c.passes;
  j["tokens"] = c.tokens;
  j["batches"] = c.batches;
  j["seconds"] = c.seconds;
  j["tokens_per_second"] = c.tokens_per_second();
}

// Labels, mutants and reasons come from the input: invalid UTF-8 is replaced rather than thrown on.
std::string text(const Json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

std::string DmsSummary::to_json() const {
  Json j;
  j["rows"] = rows;
  j["scored"] = scored;
  j["skipped"] = Json::array();
  for (const auto& k : skipped) j["skipped"].push_back({{"row", k.index}, {"line", k.line}, {"mutant", k.mutant}, {"reason", k.reason}});
  j["strategy"] = strategy_name(strategy);
  j["models"] = columns;
  j["load_seconds"] = load_seconds;
  add_counters(j, counters);
  j["output"] = output;
  return text(j);
}

std::string MissenseSummary::to_json() const {
  Json j;
  j["scored"] = scored;
  j["already_present"] = already_present;
  j["skipped"] = Json::array();
  for (const auto& k : skipped) j["skipped"].push_back({{"label", k.label}, {"line", k.line}, {"reason", k.reason}});
  j["csv_rows"] = csv_rows;
  j["load_seconds"] = load_seconds;
  add_counters(j, counters);
  j["output_csv"] = output_csv;
  j["matrix_dir"] = matrix_dir;
  j["engine"] = engine.to_string();
  return text(j);
}

}  // namespace esm_onnx
