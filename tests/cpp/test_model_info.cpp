// A converted model's metadata: read back as written, and refused (naming the key and the limit) when a
// value is out of range, too long, or disagrees with the rest.
#include <gtest/gtest.h>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/model_info.h"

using namespace esm_onnx;

namespace {

ModelInfo sample() {
  ModelInfo i;
  i.format_revision = kModelFormatRevision;
  i.family = Family::Esm2;
  i.variant = "ESM-2";
  i.alphabet = AlphabetKind::Esm1b;
  i.num_layers = 4;
  i.embed_dim = 64;
  i.attention_heads = 4;
  i.vocab_size = 33;
  i.repr_layers = {0, 4};
  i.head = OutputHead::SequenceClassification;
  i.labels = {"soluble", "membrane"};
  i.source_file = "x";
  i.source_sha256 = "00";
  i.converter_version = "0.1.0";
  return i;
}

void expect_refused(std::map<std::string, std::string> m, const std::string& part) {
  try {
    ModelInfo::from_metadata(m, "m.onnx");
    ADD_FAILURE() << "accepted; expected '" << part << "'";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("m.onnx"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(ModelInfo, RoundTripsHeadAndLabels) {
  const auto back = ModelInfo::from_metadata(sample().to_metadata(), "m.onnx");
  EXPECT_EQ(back.head, OutputHead::SequenceClassification);
  EXPECT_EQ(back.labels, (std::vector<std::string>{"soluble", "membrane"}));
  EXPECT_EQ(back.repr_layers, (std::vector<int64_t>{0, 4}));
}

// Flags added after format revision 1 may be absent (a model written before them lacks the output); the
// others must be there.
TEST(ModelInfo, OnlyLaterOutputFlagsMayBeAbsent) {
  auto withflag = sample();
  withflag.outputs.set(GraphOutput::Attentions);
  auto m = withflag.to_metadata();
  EXPECT_TRUE(ModelInfo::from_metadata(m, "m.onnx").has(GraphOutput::Attentions));
  m.erase("esm_onnx.has_attentions");
  EXPECT_FALSE(ModelInfo::from_metadata(m, "m.onnx").has(GraphOutput::Attentions));
  m.erase("esm_onnx.has_contacts");
  expect_refused(m, "has_contacts' missing");
}

TEST(ModelInfo, LimitsAndContradictionsAreRefused) {
  const auto good = sample().to_metadata();
  auto with = [&](const std::string& key, const std::string& value) {
    auto m = good;
    m["esm_onnx." + key] = value;
    return m;
  };
  expect_refused(with("num_layers", "100000"), "outside 1..1024");
  expect_refused(with("embed_dim", "-5"), "outside 1..65536");
  expect_refused(with("vocab_size", "70000"), "outside 1..255");
  expect_refused(with("source_file", std::string(10000, 'x')), "10000 bytes");
  expect_refused(with("labels", "{\"a\": 1}"), "not a list");
  expect_refused(with("labels", "[1, 2]"), "labels");
  expect_refused(with("head", "language-model"), "is present");
  expect_refused(with("has_logits", "0"), "disagrees");
  expect_refused(with("family", "ESM-9"), "esm_onnx.family");
  expect_refused(with("alphabet", "DNA"), "esm_onnx.alphabet");
  auto no_labels = good;
  no_labels.erase("esm_onnx.labels");
  expect_refused(no_labels, "is missing");
}
