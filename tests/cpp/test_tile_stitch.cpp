// Tile stitching (embed --long-sequences tile): values every tile agrees on come back unchanged, whatever the
// weights; a pair that no tile holds is NaN; each tile counts once.
#include <gtest/gtest.h>

#include <cmath>

#include "engines/runtime/record_memory.h"
#include "engines/runtime/tile_stitch.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::runtime {
namespace {

constexpr int64_t kLength = 30, kDim = 3;

// What embed slices for tile k: rows and contacts that are functions of the record's residue positions.
RecordOutput tile_output(const Tile& t, std::size_t k) {
  RecordOutput r;
  r.length = t.length;
  FloatArray rows{{t.length, kDim}, {}}, contacts{{t.length, t.length}, {}};
  for (int64_t i = 0; i < t.length; ++i) {
    for (int64_t e = 0; e < kDim; ++e) rows.data.push_back(static_cast<float>((t.start + i) * 10 + e));
    for (int64_t j = 0; j < t.length; ++j) contacts.data.push_back(static_cast<float>((t.start + i) * 100 + t.start + j));
  }
  r.arrays.push_back({Output::PerTok, 4, rows});
  r.arrays.push_back({Output::Bos, 4, {{kDim}, std::vector<float>(kDim, static_cast<float>(k))}});
  r.arrays.push_back({Output::Contacts, -1, contacts});
  return r;
}

TEST(TileStitch, AgreedValuesSurviveAndUnheldPairsAreNan) {
  const Tiling opt{12, 6, 20};
  TileLayout tiling = tile_sequence(kLength, opt);
  ASSERT_GE(tiling.tiles.size(), 3u);
  const auto tiles = tiling.tiles;
  const Includes include = Output::Mean | Output::PerTok | Output::Bos | Output::Contacts;
  EXPECT_EQ(TileStitch::tile_includes(include), Output::PerTok | Output::Bos | Output::Contacts);
  TileStitch stitch("r", 7, kLength, std::move(tiling), include, {4});
  for (std::size_t k = tiles.size(); k-- > 0;) {  // any order
    EXPECT_FALSE(stitch.complete());
    stitch.add(k, tile_output(tiles[k], k));
  }
  EXPECT_THROW(stitch.add(0, tile_output(tiles[0], 0)), InternalError);
  const RecordOutput r = stitch.finish();
  EXPECT_EQ(r.index, 7);
  const FloatArray* rows = r.find(Output::PerTok, 4);
  ASSERT_NE(rows, nullptr);
  for (int64_t i = 0; i < kLength; ++i) EXPECT_NEAR(rows->data[i * kDim + 1], static_cast<float>(i * 10 + 1), 1e-3);
  EXPECT_NEAR(r.find(Output::Mean, 4)->data[0], 145.0f, 1e-3);  // mean of 10 i over 0..29
  EXPECT_EQ(r.find(Output::Bos, 4)->data[0], 0.0f);              // the first tile's
  const FloatArray* c = r.find(Output::Contacts);
  ASSERT_NE(c, nullptr);
  EXPECT_NEAR(c->data[3 * kLength + 5], 305.0f, 1e-2);
  EXPECT_TRUE(std::isnan(c->data[0 * kLength + kLength - 1]));  // 0 and 29 share no tile of 12
  EXPECT_TRUE(std::isnan(c->data[(kLength - 1) * kLength]));
  // The output order is the registry's: mean, per_tok, bos, contacts.
  ASSERT_EQ(r.arrays.size(), 4u);
  EXPECT_EQ(r.arrays[0].output, Output::Mean);
  EXPECT_EQ(r.arrays[3].output, Output::Contacts);
}

TEST(TileStitch, AnUnfinishedRecordIsAnError) {
  TileStitch stitch("r", 0, kLength, tile_sequence(kLength, {12, 6, 20}), Output::PerTok, {4});
  EXPECT_THROW(stitch.finish(), InternalError);
}

// Contacts need [L, L] arrays (and a pass one layer's [heads, T, T] maps): a record beyond the machine is named.
TEST(RecordMemory, PairOutputsBeyondTheMachineAreRefusedWithTheReason) {
  ModelInfo info;
  info.attention_heads = 20;
  info.num_layers = 12;
  const uint64_t gb24 = uint64_t{24} << 30;
  EXPECT_EQ(pair_memory_problem(info, Output::Mean, 1'000'000, true, 1022, gb24), "");
  EXPECT_EQ(pair_memory_problem(info, Output::Contacts, 4000, true, 1022, gb24), "");
  EXPECT_EQ(pair_memory_problem(info, Output::Contacts, 30000, false, 1022, gb24), "");  // tiles: [L, L] only
  const auto full = pair_memory_problem(info, Output::Contacts, 30000, true, 1022, gb24);
  EXPECT_NE(full.find("contacts would need about"), std::string::npos) << full;
  EXPECT_NE(full.find("--long-sequences tile"), std::string::npos) << full;
  EXPECT_NE(pair_memory_problem(info, Output::Contacts, 60000, false, 1022, gb24), "");  // 3 x 14 GB of [L, L]
  EXPECT_NE(pair_memory_problem(info, Output::Attentions, 4000, true, 1022, gb24).find("attentions"), std::string::npos);
  EXPECT_EQ(pair_memory_problem(info, Output::Contacts, 60000, false, 1022, 0), "");  // unknown memory: no check
}

}  // namespace
}  // namespace esm_onnx::runtime
