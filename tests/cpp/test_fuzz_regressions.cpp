// Every input the fuzzers found a problem with (tests/fuzz/regressions/<target>/) is replayed here, in the
// normal and the sanitizer builds: each must end in a typed error or in success.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "targets.h"

namespace fs = std::filesystem;

TEST(FuzzRegressions, EverySavedInputIsHandled) {
  const fs::path root = fs::path(ESM_ONNX_SOURCE_DIR) / "tests" / "fuzz" / "regressions";
  int replayed = 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    if (!dir.is_directory()) continue;
    const auto target = esm_onnx::fuzz::find_target(dir.path().filename().string());
    ASSERT_NE(target, nullptr) << dir.path() << " names no fuzz target";
    for (const auto& f : fs::directory_iterator(dir.path())) {
      std::ifstream in(f.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      SCOPED_TRACE(f.path().string());
      EXPECT_EQ(target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
      ++replayed;
    }
  }
  RecordProperty("replayed", replayed);
}
