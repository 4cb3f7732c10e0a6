// The safetensors reader and its header JSON: valid files read back exactly (fp32, fp16, bf16, rows of a
// packed tensor); every hostile header is a FormatError naming the file before any tensor is read.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "esm_onnx/base/errors.h"
#include "formats/source/header_json.h"
#include "formats/source/safetensors.h"
#include "tensors/layout.h"

using namespace esm_onnx;

namespace {

std::string temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("esm_onnx_st_" + name)).string();
}

std::string write(const std::string& name, const std::string& header, const std::string& data,
                  uint64_t declared = UINT64_MAX) {
  const std::string path = temp(name);
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = declared == UINT64_MAX ? header.size() : declared;
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xFF));
  out << header << data;
  return path;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

void expect_format_error(const std::string& path, const std::string& part) {
  try {
    source::SafetensorsSource::open(path);
    ADD_FAILURE() << path << ": no error (expected '" << part << "')";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Safetensors, ReadsTensorsRowsAndWidths) {
  // a: fp32 [2, 3]; h: fp16 [2] = {1, -2}; b: bf16 [1] = {1}
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[28,30]}})";
  std::string data = floats({1, 2, 3, 4, 5, 6});
  data += std::string("\x00\x3c\x00\xc0", 4) + std::string("\x80\x3f", 2);
  auto f = source::SafetensorsSource::open(write("ok.safetensors", header, data));
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->read_float("a", 0, -1), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(f->read_float("a", 1, 2), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(f->read_float("h", 0, -1), (std::vector<float>{1, -2}));
  EXPECT_EQ(f->read_float("b", 0, -1), (std::vector<float>{1}));
  EXPECT_THROW(f->read_float("a", 1, 3), FormatError);
  EXPECT_THROW(f->read_float("missing", 0, -1), FormatError);
}

TEST(Safetensors, HostileHeadersAreFormatErrors) {
  const std::string d8 = floats({1, 2});
  auto t = [](const std::string& body) { return "{\"t\":" + body + "}"; };
  expect_format_error(write("len.safetensors", "{}", "", 1ull << 40), "header claims");
  expect_format_error(write("past.safetensors", t(R"({"dtype":"F32","shape":[2],"data_offsets":[0,16]})"), d8), "outside");
  expect_format_error(write("size.safetensors", t(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), d8), "need 12 bytes");
  expect_format_error(write("dtype.safetensors", t(R"({"dtype":"Q7","shape":[2],"data_offsets":[0,8]})"), d8), "unknown dtype");
  expect_format_error(write("overflow.safetensors",
                            t(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})"), d8),
                      "impossibly large");
  expect_format_error(write("neg.safetensors", t(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), d8),
                      "non-negative");
  expect_format_error(write("gap.safetensors",
                            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", d8),
                      "a gap");
  expect_format_error(write("overlap.safetensors",
                            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            d8),
                      "overlaps");
  expect_format_error(write("tail.safetensors", t(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), d8),
                      "cover 4 bytes");
  expect_format_error(write("json.safetensors", "{\"t\":", d8), "invalid JSON");
  expect_format_error(write("deep.safetensors", std::string(100, '[') + std::string(100, ']'), ""), "nested deeper");
  expect_format_error(write("notobj.safetensors", "[1]", ""), "not a JSON object");
  expect_format_error(write("twice.safetensors",
                            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            d8),
                      "named twice");
  expect_format_error(write("empty_header.safetensors", "", "", 0), "invalid JSON");
  {
    std::ofstream(temp("four_bytes.safetensors"), std::ios::binary) << "abcd";
    expect_format_error(temp("four_bytes.safetensors"), "truncated");
  }
}

TEST(HeaderJson, StringsNumbersAndErrors) {
  const auto v = source::json::parse(R"({"k":"a\"\\\/\n\u00e9\ud83d\ude00","n":[0,12,1.5e3,-1],"t":true,"z":null})", "x");
  EXPECT_EQ(v.get("k")->text, "a\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
  uint64_t i = 0;
  EXPECT_TRUE(v.get("n")->items[1].as_index(i));
  EXPECT_EQ(i, 12u);
  EXPECT_FALSE(v.get("n")->items[2].as_index(i));
  EXPECT_FALSE(v.get("n")->items[3].as_index(i));
  for (const char* bad : {"{\"a\":1,}", "\"\\ud800\"", "\"\x01\"", "01x", "{\"a\" 1}", "[1 2]", "\"\\q\"", "tru"}) {
    EXPECT_THROW(source::json::parse(bad, "x"), FormatError) << bad;
  }
}

TEST(Layout, LayerTemplatesAndSuffixPatterns) {
  EXPECT_TRUE(model::matches("layers.{i}.fc1.weight", "layers.12.fc1.weight"));
  EXPECT_FALSE(model::matches("layers.{i}.fc1.weight", "layers..fc1.weight"));
  EXPECT_FALSE(model::matches("layers.{i}.fc1.weight", "layers.1a.fc1.weight"));
  EXPECT_TRUE(model::matches("*._extra_state", "transformer.blocks.3.ffn._extra_state"));
  EXPECT_FALSE(model::matches("*._extra_state", "transformer.blocks.3.ffn.weight"));
  EXPECT_EQ(model::with_layer("layers.{i}.q", 7), "layers.7.q");
}
