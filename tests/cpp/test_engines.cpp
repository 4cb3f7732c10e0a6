// The pieces of the engine choice that need no model: the ONNX header scan both engines read the model's
// description from, and the compute an engine runs with on CPUs with and without bf16.
#include <gtest/gtest.h>

#include <sstream>

#include "engines/runtime/cpu_features.h"
#include "engines/runtime/onnx_header.h"
#include "esm_onnx/base/errors.h"

using namespace esm_onnx;
using namespace esm_onnx::runtime;

namespace {

std::string varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  return s + static_cast<char>(v);
}

std::string bytes_field(uint64_t field, const std::string& payload) { return varint(field << 3 | 2) + varint(payload.size()) + payload; }

std::string metadata(const std::string& k, const std::string& v) { return bytes_field(14, bytes_field(1, k) + bytes_field(2, v)); }

std::string opset(const std::string& domain, uint64_t version) {
  return bytes_field(8, bytes_field(1, domain) + varint(2 << 3) + varint(version));
}

OnnxHeader parse(const std::string& bytes) {
  std::istringstream in(bytes);
  return parse_onnx_header(in, bytes.size(), "m.onnx");
}

}  // namespace

TEST(OnnxHeader, ReadsMetadataAndDomainsAndSkipsTheRest) {
  const std::string graph = bytes_field(7, std::string(5000, 'x'));
  const std::string model = varint(1 << 3) + varint(8) + bytes_field(2, "esm-onnx") + opset("", 17) + graph +
                            opset("com.microsoft", 1) + metadata("esm_onnx.family", "ESM-2") + metadata("k", "") +
                            varint(5 << 3 | 1) + std::string(8, '\0') + varint(6 << 3 | 5) + std::string(4, '\0');
  const auto h = parse(model);
  EXPECT_EQ(h.metadata.at("esm_onnx.family"), "ESM-2");
  EXPECT_EQ(h.metadata.at("k"), "");
  ASSERT_EQ(h.domains.size(), 2u);
  EXPECT_TRUE(h.imports(""));
  EXPECT_TRUE(h.imports("com.microsoft"));
  EXPECT_TRUE(parse(opset("ai.onnx", 17)).imports(""));  // the default domain's other spelling
}

TEST(OnnxHeader, RefusesMalformedBytesNamingTheFile) {
  const std::string good = metadata("a", "b");
  for (const std::string& bad : {good.substr(0, good.size() - 1),           // cut short
                                 varint(7 << 3 | 2) + varint(100) + "xy",   // length past the end
                                 varint(7 << 3 | 3),                        // a group
                                 std::string(11, '\xff'),                   // an endless varint
                                 varint(0 << 3 | 2) + varint(0),            // field 0
                                 good + good}) {                            // a key twice
    try {
      parse(bad);
      ADD_FAILURE() << "accepted " << bad.size() << " bad bytes";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("m.onnx"), std::string::npos) << e.what();
    }
  }
}

TEST(OnnxHeader, MissingFileIsAFileError) { EXPECT_THROW(read_onnx_header("/nonexistent/m.onnx"), FileError); }

TEST(Compute, AutoFollowsTheCpuAndBf16IsNeverSilent) {
  const CpuFeatures none, avx512{.avx512_bf16 = true}, amx{.amx_bf16 = true};
  EXPECT_EQ(resolve_compute(Engine::OpenVino, Compute::Auto, avx512), Compute::Bf16);
  EXPECT_EQ(resolve_compute(Engine::OpenVino, Compute::Auto, amx), Compute::Bf16);
  EXPECT_EQ(resolve_compute(Engine::OpenVino, Compute::Auto, none), Compute::Fp32);
  EXPECT_EQ(resolve_compute(Engine::OpenVino, Compute::Fp32, avx512), Compute::Fp32);
  EXPECT_EQ(resolve_compute(Engine::OnnxRuntime, Compute::Auto, avx512), Compute::Fp32);
  try {
    resolve_compute(Engine::OpenVino, Compute::Bf16, none);
    ADD_FAILURE() << "bf16 accepted on a CPU without it";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("AVX512_BF16"), std::string::npos) << m;
    EXPECT_NE(m.find("AMX-BF16"), std::string::npos) << m;
  }
  EXPECT_THROW(resolve_compute(Engine::OnnxRuntime, Compute::Bf16, avx512), UsageError);
}

TEST(Compute, NamesParseBothWays) {
  EXPECT_EQ(parse_engine("openvino"), Engine::OpenVino);
  EXPECT_STREQ(engine_name(Engine::OnnxRuntime), "ort");
  EXPECT_EQ(parse_compute("bf16"), Compute::Bf16);
  EXPECT_THROW(parse_compute("fp8"), UsageError);
}
