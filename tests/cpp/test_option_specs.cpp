// The shared options' table: every key has a row for each job, the rows' defaults are the structs' own
// initializers (so the CLI, the bindings and the library cannot disagree), and an unknown key is a bug.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/option_specs.h"
#include "esm_onnx/engines/convert.h"
#include "esm_onnx/engines/model.h"
#include "esm_onnx/jobs/score.h"

using namespace esm_onnx;

namespace {

template <typename T>
T value_of(std::string_view key, OptionJob job) {
  return std::get<T>(option_spec(key, job).value);
}

}  // namespace

TEST(OptionSpecs, DefaultsAreTheStructsOwn) {
  const EmbedRequest embed;
  const ScoreRequest score;
  const StreamOptions stream;
  const MissenseOptions missense;
  const RuntimeOptions runtime;
  EXPECT_EQ(value_of<int64_t>("toks_per_batch", OptionJob::Embed), embed.toks_per_batch);
  EXPECT_EQ(value_of<int64_t>("toks_per_batch", OptionJob::Score), score.toks_per_batch);
  EXPECT_EQ(value_of<int64_t>("read_ahead", OptionJob::Embed), stream.read_ahead);
  EXPECT_EQ(value_of<int64_t>("read_ahead", OptionJob::Score), missense.read_ahead);
  for (OptionJob job : {OptionJob::Embed, OptionJob::Score}) {
    const Tiling& t = job == OptionJob::Embed ? embed.tiling : score.tiling;
    EXPECT_EQ(value_of<int64_t>("tile_length", job), t.length);
    EXPECT_EQ(value_of<int64_t>("tile_overlap", job), t.min_overlap);
    EXPECT_EQ(value_of<double>("tile_sharpness", job), t.sharpness);
    EXPECT_EQ(value_of<int64_t>("threads", job), runtime.threads);
    EXPECT_EQ(value_of<std::string_view>("engine", job), engine_name(runtime.engine));
    EXPECT_EQ(value_of<std::string_view>("compute", job), compute_name(runtime.compute));
    EXPECT_EQ(value_of<std::string_view>("device", job), device_name(runtime.device));
    EXPECT_EQ(value_of<bool>("cache", job), runtime.cache);
  }
  EXPECT_EQ(value_of<std::string_view>("long_sequences", OptionJob::Score), long_sequences_name(score.long_sequences));
  EXPECT_EQ(Includes::parse({std::string(value_of<std::string_view>("include", OptionJob::Embed))}, "include"),
            embed.include);
  EXPECT_FALSE(embed.long_sequences.has_value());
  EXPECT_TRUE(std::holds_alternative<std::monostate>(option_spec("long_sequences", OptionJob::Embed).value));
}

TEST(OptionSpecs, EveryKeyHasOneRowPerJobAndSpellingsAreUnique) {
  std::set<std::string> flags;
  for (const auto& row : option_specs()) {
    EXPECT_FALSE(row.help.empty()) << row.key;
    EXPECT_TRUE(row.name().starts_with("--")) << row.key;
    if (!row.job) {
      for (auto spelling : row.spellings()) EXPECT_TRUE(flags.insert(std::string(spelling)).second) << row.flags;
    }
    // a shared row is read by a running job that has no row of its own (else it would be dead)
    if (!row.job) {
      int own = 0;
      for (const auto& other : option_specs()) {
        own += other.key == row.key && (other.job == OptionJob::Embed || other.job == OptionJob::Score);
      }
      EXPECT_LT(own, 2) << row.key;
    }
  }
  EXPECT_THROW(option_spec("no_such_option", OptionJob::Embed), InternalError);
  EXPECT_THROW(option_spec("toks_per_batch", OptionJob::Convert), InternalError);  // convert has its own rows only
  for (OptionJob job : {OptionJob::Embed, OptionJob::Score, OptionJob::Convert}) {
    std::set<std::string_view> keys;
    for (const OptionSpec* row : options_for(job)) {
      EXPECT_TRUE(keys.insert(row->key).second) << row->key;  // one row per key
      EXPECT_EQ(row, &option_spec(row->key, job));             // the one option_spec chooses
    }
  }
  const ConvertOptions convert;
  EXPECT_EQ(std::get<std::string_view>(option_spec("precision", OptionJob::Convert).value), precision_name(convert.precision));
  EXPECT_EQ(std::get<std::string_view>(option_spec("engine", OptionJob::Convert).value), engine_name(convert.engine));
  EXPECT_EQ(std::get<int64_t>(option_spec("int4_block", OptionJob::Convert).value), convert.int4_block);
  EXPECT_EQ(std::get<bool>(option_spec("contacts", OptionJob::Convert).value), convert.contacts);
  EXPECT_EQ(std::get<bool>(option_spec("optimize", OptionJob::Convert).value), convert.optimize);
  EXPECT_EQ(option_spec("tile_length", OptionJob::Score).default_text(), "model");
  EXPECT_EQ(option_spec("tile_overlap", OptionJob::Embed).default_text(), std::to_string(kDefaultTileOverlap));
}
