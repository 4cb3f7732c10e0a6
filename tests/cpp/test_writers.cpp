#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "esm_onnx/formats/writer.h"
#include "formats/torch/torch_file.h"

using namespace esm_onnx;

TEST(Npy, HeaderIsNumpyFormat1) {
  FloatArray a{{2, 3}, {1, 2, 3, 4, 5, 6}};
  const std::string b = npy_bytes(a);
  ASSERT_EQ(b.substr(0, 6), "\x93NUMPY");
  const auto hlen = static_cast<std::size_t>(static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8));
  EXPECT_EQ((10 + hlen) % 64, 0u);
  const std::string header = b.substr(10, hlen);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos);
  EXPECT_NE(header.find("'shape': (2, 3)"), std::string::npos);
  EXPECT_EQ(header.back(), '\n');
  float v[6];
  std::memcpy(v, b.data() + 10 + hlen, sizeof v);
  EXPECT_EQ(v[5], 6.0f);
  EXPECT_NE(npy_bytes({{4}, {1, 2, 3, 4}}).find("'shape': (4,)"), std::string::npos);
}

TEST(Writers, PtIsReadableAsATorchFile) {
  const auto dir = std::filesystem::temp_directory_path() / "esm_onnx_writer_pt";
  std::filesystem::remove_all(dir);
  auto w = make_writer(OutputFormat::Pt, dir.string());
  RecordOutput r;
  r.label = "P1";
  r.length = 2;
  r.arrays.push_back({Output::Mean, 6, {{3}, {2.5f, 3.5f, 4.5f}}});
  r.arrays.push_back({Output::PerTok, 6, {{2, 3}, {1, 2, 3, 4, 5, 6}}});
  EXPECT_FALSE(w->exists("P1"));
  w->write(r);
  EXPECT_TRUE(w->exists("P1"));
  auto f = torchfile::TorchFile::open((dir / "P1.pt").string());
  auto root = f->root();
  EXPECT_EQ(root->get("label")->s, "P1");
  auto reps = root->get("representations");
  ASSERT_EQ(reps->dict.size(), 1u);
  EXPECT_EQ(reps->dict[0].first->i, 6);  // integer layer keys, as esm-extract writes
  EXPECT_EQ(f->read_float(*reps->dict[0].second->tensor, "r"), r.find(Output::PerTok, 6)->data);
  EXPECT_EQ(f->read_float(*root->get("mean_representations")->dict[0].second->tensor, "m"), r.find(Output::Mean, 6)->data);
}

TEST(Writers, LabelsMustStayInsideTheOutputFolder) {
  const auto dir = std::filesystem::temp_directory_path() / "esm_onnx_writer_npz";
  auto w = make_writer(OutputFormat::Npz, dir.string());
  EXPECT_EQ(w->check_label("sp|P12345|NAME"), "");
  EXPECT_NE(w->check_label("../escape"), "");
  EXPECT_NE(w->check_label("/abs"), "");
  auto h = make_writer(OutputFormat::H5, dir.string());
  EXPECT_NE(h->check_label("a/b"), "");
  EXPECT_THROW(parse_output_format("csv"), std::exception);
}
