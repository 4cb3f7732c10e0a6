#include <gtest/gtest.h>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/layers.h"

using namespace esm_onnx;

TEST(Layers, FairEsmNumbering) {
  EXPECT_EQ(resolve_layers({"-1"}, 33, "--repr-layers"), (std::vector<int64_t>{33}));
  EXPECT_EQ(resolve_layers({"0", "-34", "5", "5"}, 33, "x"), (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(resolve_layers({"0,-1"}, 6, "x"), (std::vector<int64_t>{0, 6}));
  EXPECT_EQ(resolve_layers({"all"}, 3, "x"), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(parse_layer_list(join_layers({0, 6, 33})).value(), (std::vector<int64_t>{0, 6, 33}));
  EXPECT_FALSE(parse_layer_list("0,x").has_value());
  EXPECT_FALSE(parse_layer_list("1e3").has_value());
}

TEST(Layers, OutOfRangeNamesTheOption) {
  try {
    resolve_layers({"34"}, 33, "--repr-layers");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--repr-layers: layer 34 does not exist"), std::string::npos);
  }
  EXPECT_THROW(resolve_layers({"-35"}, 33, "x"), UsageError);
  EXPECT_THROW(resolve_layers({"two"}, 33, "x"), UsageError);
  EXPECT_THROW(resolve_layers({}, 33, "x"), UsageError);
}
