#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/formats/batching.h"
#include "esm_onnx/formats/fasta.h"

using namespace esm_onnx;

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / ("esm_onnx_test_" + name);
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

TEST(Fasta, FairEsmConventions) {
  FastaReader r(write_temp("a.fasta", "\n>first protein\nMKT\n  AYI \n>\nGG\n>last\n"));
  FastaRecord rec;
  ASSERT_TRUE(r.next(rec));
  EXPECT_EQ(rec.label, "first protein");
  EXPECT_EQ(rec.sequence, "MKTAYI");
  EXPECT_EQ(rec.line, 2);
  ASSERT_TRUE(r.next(rec));
  EXPECT_EQ(rec.label, "seqnum000000004");  // fair-esm: 0-based line index of the header
  EXPECT_EQ(rec.sequence, "GG");
  ASSERT_TRUE(r.next(rec));
  EXPECT_EQ(rec.label, "last");
  EXPECT_EQ(rec.sequence, "");
  EXPECT_FALSE(r.next(rec));
}

TEST(Fasta, EmptyAndNonFastaFiles) {
  EXPECT_THROW(FastaReader(write_temp("empty.fasta", "\n\n")), InputError);
  EXPECT_THROW(FastaReader(write_temp("plain.txt", "MKTAYI\n>x\nMK\n")), InputError);
  EXPECT_THROW(FastaReader("/nonexistent/file.fasta"), FileError);
}

TEST(Batching, MatchesEsmExtract) {
  // esm-extract: sort by length, pack while max_len * count <= budget (extra 1 token per sequence).
  std::vector<int64_t> lengths = {10, 3, 50, 3, 9, 100};
  auto b = make_batches(lengths, 30, 1);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0], (std::vector<std::size_t>{1, 3, 4}));  // 4, 4, 10: 10 * 3 = 30 fits; 11 * 4 does not
  EXPECT_EQ(b[1], (std::vector<std::size_t>{0}));
  EXPECT_EQ(b[0].size() + b[1].size() + b[2].size() + b[3].size(), lengths.size());
  EXPECT_EQ(b[3], (std::vector<std::size_t>{5}));  // longer than the budget: alone
  for (const auto& batch : b) {
    int64_t mx = 0;
    for (auto i : batch) mx = std::max(mx, lengths[i] + 1);
    EXPECT_TRUE(batch.size() == 1 || mx * static_cast<int64_t>(batch.size()) <= 30);
  }
}

TEST(Batching, LongRecordsAloneWhenAsked) {
  // From 9 tokens (with the extra one) a record is a batch of its own, even where two would fit the budget;
  // the shorter ones still pack, and every index appears once.
  std::vector<int64_t> lengths = {3, 8, 2, 8, 20, 3};
  auto b = make_batches(lengths, 100, 1, 9);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0], (std::vector<std::size_t>{2, 0, 5}));
  EXPECT_EQ(b[1], (std::vector<std::size_t>{1}));
  EXPECT_EQ(b[2], (std::vector<std::size_t>{3}));
  EXPECT_EQ(b[3], (std::vector<std::size_t>{4}));
  EXPECT_EQ(make_batches(lengths, 200, 1, 0).size(), 1u);  // 0: esm-extract's packing (21 * 6 <= 200)
}
