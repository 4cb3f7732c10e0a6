// Scoring's parts on their own: the tiles' weights, the mutation parser, the CSV table, and on the demo model
// that batching and the shared masked copies change no number (the numbers against fair-esm, predict.py and
// esm-variants are tests/python/test_score.py's).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/mutations.h"
#include "esm_onnx/base/tiles.h"
#include "esm_onnx/engines/convert.h"
#include "esm_onnx/jobs/score.h"
#include "formats/io/csv_table.h"

using namespace esm_onnx;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("esm_onnx_test_score_" + std::to_string(getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

const TempDir& temp() {
  static const TempDir dir;
  return dir;
}

const std::string& demo_model() {
  static const std::string path = [] {
    ConvertOptions o;
    o.checkpoint = std::string(ESM_ONNX_SOURCE_DIR) + "/demo/esm2_t4_64_RANDOM_WEIGHTS_demo.pt";
    o.output = (temp().path / "demo.onnx").string();
    convert(o);
    return o.output;
  }();
  return path;
}

const std::string kSequence = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRV";

}  // namespace

TEST(Tiles, EachResiduesWeightsSumToOneAndEveryResidueIsCovered) {
  const Tiling esm_variants{.length = 1022};  // esm-variants' defaults: 1,022 residues, overlap >= 512, s = 20
  for (int64_t n : {1, 1022, 1023, 1531, 1532, 1600, 2100, 5003, 20000}) {
    const TileLayout t = tile_sequence(n, esm_variants);
    std::vector<double> sum(static_cast<std::size_t>(n), 0.0);
    for (std::size_t k = 0; k < t.tiles.size(); ++k) {
      EXPECT_LE(t.tiles[k].length, 1022);
      if (k) {
        EXPECT_LE(t.tiles[k - 1].start, t.tiles[k].start);
      }
      for (int64_t i = 0; i < t.tiles[k].length; ++i) sum[static_cast<std::size_t>(t.tiles[k].start + i)] += t.weights[k][static_cast<std::size_t>(i)];
    }
    for (double s : sum) ASSERT_NEAR(s, 1.0, 1e-12) << n;
  }
  EXPECT_EQ(tile_sequence(1022, esm_variants).tiles.size(), 1u);
  EXPECT_EQ(tile_sequence(1023, esm_variants).tiles.size(), 2u);
  EXPECT_EQ(tile_sequence(1600, esm_variants).tiles.size(), 3u);  // the innermost pair overlaps by less than 512: a centred window
  EXPECT_THROW(tile_sequence(100, {10, 10, 20}), UsageError);
  EXPECT_THROW(tile_sequence(100, {10, 5, 0}), UsageError);
  EXPECT_THROW(tile_sequence(100, Tiling{}), UsageError);  // length 0 (the model's) must be resolved first
  EXPECT_NO_THROW(Tiling{}.validate());
}

TEST(Mutations, ParsesScansAsTheyAreWrittenAndNamesWhatIsWrong) {
  const Alphabet a = Alphabet::for_kind(AlphabetKind::Esm1b);
  auto subs = parse_mutant(" K2C:T3G ", kSequence, 1, a);
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0].position, 1);
  EXPECT_EQ(subs[1].mutant, 'G');
  EXPECT_EQ(apply_mutant(kSequence, subs).substr(0, 4), "MCGA");
  EXPECT_EQ(parse_mutant("M0A", kSequence, 0, a)[0].position, 0);  // predict.py's default offset: 0-based
  const std::pair<const char*, const char*> bad[] = {
      {"G1A", "does not match"}, {"M0A", "outside the sequence"}, {"M41A", "outside"}, {"M1J", "not an amino acid"},
      {"M1-", "not an amino acid"}, {"M+1A", "form A24C"}, {"M-1A", "form A24C"}, {"MA", "form A24C"},
      {"K2R:K2E", "mutated twice"}, {"K2R:", "form A24C"}, {"", "empty"}, {"M99999999999999999999A", "form A24C"}};
  for (const auto& [text, message] : bad) {
    try {
      parse_mutant(text, kSequence, 1, a);
      ADD_FAILURE() << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << text << ": " << e.what();
    }
  }
}

TEST(Csv, QuotedFieldsSurviveARoundTrip) {
  const std::string path = (temp().path / "t.csv").string();
  CsvTable t;
  t.header = {"", "mutant", "note"};
  t.rows = {{"0", "A1C", "plain"}, {"1", "K2R:T3W", "a, \"b\"\nc"}, {"2", "", ""}};
  write_csv(t, path, "the test CSV");
  const CsvTable back = read_csv(path);
  EXPECT_EQ(back.header, t.header);
  EXPECT_EQ(back.rows, t.rows);
  EXPECT_EQ(back.lines, (std::vector<int64_t>{2, 3, 5}));  // the quoted line break makes row 3 two lines long
  EXPECT_EQ(back.column("mutant", "--mutation-col"), 1u);
  EXPECT_THROW(back.column("variant", "--mutation-col"), UsageError);
  EXPECT_THROW(read_csv((temp().path / "missing.csv").string()), FileError);
}

TEST(Score, BatchingAndSharedMaskedCopiesChangeNoNumber) {
  const Model model(demo_model(), {.threads = 1});
  const std::vector<std::string> mutants = {"K2R", "K2E", "K2C:T3G", "T3W", "A4A", "Q9K:R10A"};
  for (const auto& spec : scoring_strategies()) {
    ScoreRequest wide, narrow;
    wide.strategy = narrow.strategy = spec.id;
    narrow.toks_per_batch = 1;  // every pass alone
    const auto a = score_mutants(model, kSequence, mutants, wide, 1);
    const auto b = score_mutants(model, kSequence, mutants, narrow, 1);
    ASSERT_TRUE(a.skipped.empty());
    for (std::size_t i = 0; i < mutants.size(); ++i) EXPECT_NEAR(a.scores[i], b.scores[i], 2e-5) << spec.name << " " << mutants[i];
    // identical copies queued together run once; a batch of one row cannot share
    EXPECT_LE(a.counters.passes, b.counters.passes) << spec.name;
    if (spec.id != ScoringStrategy::PseudoPpl && spec.id != ScoringStrategy::PseudoLl) {
      EXPECT_EQ(a.scores[4], 0.0) << spec.name;  // A4A: synonymous
    }
  }
  ScoreRequest masked;
  masked.strategy = ScoringStrategy::MaskedMarginals;
  // one masked copy per site (2, 3, 4, 9, 10), whichever mutants share it
  EXPECT_EQ(score_mutants(model, kSequence, mutants, masked, 1).counters.passes, 5);
}

TEST(Score, TheMissenseMatrixIsTheWildTypesMarginals) {
  const Model model(demo_model(), {.threads = 1});
  const FloatArray m = score_missense(model, kSequence);
  ASSERT_EQ(m.shape, (std::vector<int64_t>{static_cast<int64_t>(kSequence.size()), 20}));
  std::vector<std::string> mutants;
  for (std::size_t i = 0; i < kSequence.size(); ++i) {
    EXPECT_EQ(m.data[i * 20 + kMissenseOrder.find(kSequence[i])], 0.0f);
    mutants.push_back(fmt::format("{}{}{}", kSequence[i], i, kMissenseOrder[i % 20]));
  }
  const auto s = score_mutants(model, kSequence, mutants, {});
  for (std::size_t i = 0; i < kSequence.size(); ++i) EXPECT_NEAR(s.scores[i], m.data[i * 20 + i % 20], 1e-5);
  // tiles of 16 with an overlap of 8 over 40 residues: still one number per cell, and a different one
  ScoreRequest tiled;
  tiled.tiling = {16, 8, 2};
  const FloatArray t = score_missense(model, kSequence, tiled);
  double diff = 0;
  for (std::size_t i = 0; i < t.data.size(); ++i) diff = std::max(diff, static_cast<double>(std::fabs(t.data[i] - m.data[i])));
  EXPECT_GT(diff, 1e-3);
  EXPECT_THROW(score_missense(model, "MKTXA"), InputError);
}
