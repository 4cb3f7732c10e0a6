#include <gtest/gtest.h>

#include "esm_onnx/base/alphabet.h"
#include "esm_onnx/base/errors.h"

using namespace esm_onnx;

TEST(Alphabet, Esm1bIdsMatchFairEsm) {
  auto a = Alphabet::for_kind(AlphabetKind::Esm1b);
  EXPECT_EQ(a.size(), 33u);
  EXPECT_EQ(a.cls_idx(), 0);
  EXPECT_EQ(a.padding_idx(), 1);
  EXPECT_EQ(a.eos_idx(), 2);
  EXPECT_EQ(a.index("L"), 4);
  EXPECT_EQ(a.index("-"), 30);
  EXPECT_EQ(a.index("<null_1>"), 31);
  EXPECT_EQ(a.mask_idx(), 32);
  EXPECT_TRUE(a.append_eos());
}

TEST(Alphabet, Esm1IdsMatchFairEsm) {
  auto a = Alphabet::for_kind(AlphabetKind::Esm1);
  EXPECT_EQ(a.size(), 35u);
  EXPECT_EQ(a.index("<null_0>"), 0);
  EXPECT_EQ(a.cls_idx(), 32);
  EXPECT_EQ(a.mask_idx(), 33);
  EXPECT_EQ(a.index("<sep>"), 34);
  EXPECT_FALSE(a.append_eos());
}

TEST(Alphabet, EncodesInlineSpecialTokensAndDropsWhitespace) {
  auto a = Alphabet::for_kind(AlphabetKind::Esm1b);
  EXPECT_EQ(a.encode("MK <mask>A\tG"), (std::vector<int64_t>{20, 15, 32, 5, 6}));
  EXPECT_EQ(a.encode("<cls><unk>X"), (std::vector<int64_t>{0, 3, 24}));
}

TEST(Alphabet, RejectsCharactersOutsideTheAlphabet) {
  auto a = Alphabet::for_kind(AlphabetKind::Esm1b);
  try {
    a.encode("MKta");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'t' at position 3"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("upper case"), std::string::npos);
  }
  EXPECT_THROW(a.encode("MK<foo>A"), InputError);
  EXPECT_THROW(a.encode("MK*"), InputError);
  EXPECT_THROW(Alphabet::for_kind(AlphabetKind::Esm1b).encode("<sep>"), InputError);  // ESM-1 only
}

TEST(Alphabet, PadBatchIsBatchConverterLayout) {
  const auto esm1b = esm_onnx::Alphabet::for_kind(esm_onnx::AlphabetKind::Esm1b);
  const std::vector<uint8_t> a = {5, 6, 7}, b = {8};
  int64_t T = 0;
  auto t = esm1b.pad_batch({&a, &b}, T);
  EXPECT_EQ(T, 5);  // BOS + 3 + EOS
  EXPECT_EQ(t, (std::vector<int64_t>{0, 5, 6, 7, 2, 0, 8, 2, 1, 1}));
  const auto esm1 = esm_onnx::Alphabet::for_kind(esm_onnx::AlphabetKind::Esm1);
  auto u = esm1.pad_batch({&a, &b}, T);
  EXPECT_EQ(T, 4);  // BOS only
  EXPECT_EQ(u, (std::vector<int64_t>{esm1.cls_idx(), 5, 6, 7, esm1.cls_idx(), 8, 1, 1}));
}
