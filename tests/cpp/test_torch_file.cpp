// Both torch.save serializations, written here byte by byte, read back lazily; corrupt files fail
// with FormatError naming the file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/checkpoint/checkpoint.h"
#include "formats/io/stored_zip.h"
#include "formats/pickle/pickler.h"
#include "formats/torch/torch_file.h"

using namespace esm_onnx;

namespace {

std::string temp(const std::string& name) { return (std::filesystem::temp_directory_path() / ("esm_onnx_tf_" + name)).string(); }

// {"w": tensor [2, 3] over storage "0" (offset 0), "t": the transpose view of the same storage}
std::string object_pickle() {
  pickle::Pickler p;
  p.empty_dict();
  p.mark();
  p.string("w");
  p.float_tensor("0", {2, 3});
  p.string("n");
  p.integer(42);
  p.set_items();
  return p.finish();
}

const float kData[6] = {1, 2, 3, 4, 5, 6};

std::string write_zip(const std::string& name, std::size_t data_bytes = sizeof kData) {
  const std::string path = temp(name);
  const std::string pkl = object_pickle();
  StoredZipWriter zip(path);
  zip.add("archive/data.pkl", pkl.data(), pkl.size());
  zip.add("archive/data/0", kData, data_bytes);
  zip.add("archive/version", "3\n", 2);
  zip.close();
  return path;
}

std::string write_legacy(const std::string& name, bool truncate = false) {
  std::string out;
  // magic number 0x1950a86a20f9469cfc6c as a LONG1, protocol 1001, sys_info {}
  out += std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  out += std::string("\x80\x02M\xe9\x03.", 6);
  out += std::string("\x80\x02}.", 4);
  out += object_pickle();
  pickle::Pickler keys;
  keys.mark();
  keys.string("0");
  keys.tuple();
  std::string k = keys.finish();
  k[2] = '(';  // a list, not a tuple: '(' X.. 'l'
  k[k.size() - 2] = 'l';
  out += k;
  const int64_t n = 6;
  out.append(reinterpret_cast<const char*>(&n), 8);
  out.append(reinterpret_cast<const char*>(kData), truncate ? 10 : sizeof kData);
  const std::string path = temp(name);
  std::ofstream(path, std::ios::binary) << out;
  return path;
}

void expect_contents(const torchfile::TorchFile& f) {
  auto w = f.root()->get("w");
  ASSERT_TRUE(w && w->tensor);
  EXPECT_EQ(w->tensor->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.read_float(*w->tensor, "w"), std::vector<float>(kData, kData + 6));
  // A strided view (the transpose) reads the same storage.
  pickle::TensorRef t = *w->tensor;
  t.shape = {3, 2};
  t.strides = {1, 3};
  EXPECT_EQ(f.read_float(t, "w.T"), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(f.root()->get("n")->i, 42);
}

}  // namespace

TEST(TorchFile, ZipSerialization) {
  auto f = torchfile::TorchFile::open(write_zip("a.pt"));
  EXPECT_EQ(f->serialization(), "zip");
  expect_contents(*f);
}

TEST(TorchFile, LegacySerialization) {
  auto f = torchfile::TorchFile::open(write_legacy("b.pt"));
  EXPECT_EQ(f->serialization(), "legacy");
  expect_contents(*f);
}

TEST(TorchFile, CorruptFilesNameTheFileAndTheProblem) {
  auto expect_format_error = [](const std::string& path, const std::string& words) {
    try {
      torchfile::TorchFile::open(path);
      FAIL() << path;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_format_error(write_legacy("trunc.pt", true), "truncated");
  const std::string text = temp("text.pt");
  std::ofstream(text) << "just some text";
  expect_format_error(text, "not a torch.save file");
  const std::string empty = temp("empty.pt");
  std::ofstream(empty).close();
  expect_format_error(empty, "empty or truncated");
  // A zip cut in half: libzip cannot find the central directory.
  std::ifstream in(write_zip("c.pt"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string cut = temp("cut.pt");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_format_error(cut, "zip");
  EXPECT_THROW(torchfile::TorchFile::open(temp("does-not-exist.pt")), FileError);
  // A storage whose record holds fewer bytes than its element count needs (torch.load refuses it too).
  expect_format_error(write_zip("short_storage.pt", 20), "declares 6 float32 elements but holds 20 bytes");
}

TEST(TorchFile, HalfAndBfloat16Widening) {
  EXPECT_EQ(torchfile::half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(torchfile::half_to_float(0xC000), -2.0f);
  EXPECT_EQ(torchfile::half_to_float(0x0001), 5.9604644775390625e-08f);  // smallest subnormal
  EXPECT_EQ(torchfile::bfloat16_to_float(0x3F80), 1.0f);
}

TEST(Checkpoint, NotAFairEsmDict) {
  // A valid torch file whose content is not a checkpoint: the message says what is missing.
  try {
    Checkpoint::load(write_zip("d.pt"));
    FAIL();
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("neither fair-esm's checkpoint"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, SharedFixturesWhenPresent) {
  const char* shared = std::getenv("ESM_ONNX_SHARED");
  const std::string path = std::string(shared ? shared : "../shared") + "/fixtures/esm1b_t3_64_tiny.pt";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  auto ck = Checkpoint::load(path);
  EXPECT_EQ(ck.config().family, Family::Esm1b);
  EXPECT_EQ(ck.config().num_layers, 3);
  EXPECT_TRUE(ck.config().has_contacts);
  // The loader's quirk: <mask> (32) zeroed, and through the tied storage in the output layer too.
  auto w = ck.read(weight_of(Role::LmOut));
  for (int64_t e = 0; e < 64; ++e) EXPECT_EQ(w.data[32 * 64 + e], 0.0f);
}

// Views whose sizes come from a hostile file: overflowing strides, offsets and shapes, and storages that
// claim more elements than the file holds, are FormatErrors before anything is allocated or read.
TEST(TorchFile, HostileViewsAreFormatErrorsNotCrashes) {
  for (const auto& path : {write_zip("hostile.pt"), write_legacy("hostile_legacy.pt")}) {
    auto f = torchfile::TorchFile::open(path);
    const pickle::TensorRef good = *f->root()->get("w")->tensor;
    auto expect_format_error = [&](const pickle::TensorRef& t, const char* what) {
      try {
        f->read_float(t, "w");
        ADD_FAILURE() << what << ": no error";
      } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("tensor w"), std::string::npos) << e.what();
      }
    };
    pickle::TensorRef t = good;
    t.strides = {595056260442243601, 1};  // wraps the bounds check around 64 bits
    expect_format_error(t, "overflowing stride");
    t = good;
    t.offset = UINT64_MAX - 2;
    expect_format_error(t, "overflowing offset");
    t = good;
    t.shape = {INT64_MAX, 4};
    expect_format_error(t, "overflowing shape");
    t = good;
    t.strides = {-3, 1};
    expect_format_error(t, "negative stride");
    t = good;
    t.strides = {3};
    expect_format_error(t, "strides of another rank");
    t = good;
    auto huge = std::make_shared<pickle::StorageRef>(*good.storage);
    huge->numel = uint64_t{1} << 62;  // the file holds 6 elements
    t.storage = huge;
    t.shape = {1 << 20, 1 << 20};
    t.strides = {1 << 20, 1};
    expect_format_error(t, "storage larger than the file");
  }
}
