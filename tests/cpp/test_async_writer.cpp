// The output thread: every record written in order, and a write error reaches the caller.
#include <gtest/gtest.h>

#include <stdexcept>

#include "esm_onnx/base/errors.h"
#include "formats/io/async_writer.h"

namespace {

struct Recorder : esm_onnx::OutputWriter {
  std::vector<std::string>* written;
  std::string fail_on;
  bool* closed;
  Recorder(std::vector<std::string>* w, std::string f, bool* c) : written(w), fail_on(std::move(f)), closed(c) {}
  bool exists(const std::string& label) const override { return label == "old"; }
  void write(const esm_onnx::RecordOutput& r) override {
    if (r.label == fail_on) throw esm_onnx::UsageError("disk full writing " + r.label);
    written->push_back(r.label);
  }
  void close() override { *closed = true; }
  std::string location(const std::string& label) const override { return label; }
};

std::vector<esm_onnx::RecordOutput> batch(std::initializer_list<const char*> labels) {
  std::vector<esm_onnx::RecordOutput> out;
  for (auto l : labels) out.push_back({l, 0, 1, {}});
  return out;
}

}  // namespace

TEST(AsyncWriter, WritesEverythingInOrder) {
  std::vector<std::string> written;
  bool closed = false;
  esm_onnx::AsyncWriter w(std::make_unique<Recorder>(&written, "", &closed), 1);
  EXPECT_TRUE(w.exists("old"));
  for (int i = 0; i < 50; ++i) w.push(batch({"a", "b"}));
  w.push(batch({"last"}));
  w.close();
  EXPECT_TRUE(closed);
  ASSERT_EQ(written.size(), 101u);
  EXPECT_EQ(written.back(), "last");
}

TEST(AsyncWriter, ErrorReachesTheCaller) {
  std::vector<std::string> written;
  bool closed = false;
  esm_onnx::AsyncWriter w(std::make_unique<Recorder>(&written, "bad", &closed), 1);
  w.push(batch({"a", "bad", "c"}));
  EXPECT_THROW(
      {
        for (int i = 0; i < 10; ++i) w.push(batch({"x"}));
        w.close();
      },
      esm_onnx::UsageError);
  EXPECT_FALSE(closed);
  EXPECT_EQ(written.front(), "a");
}
