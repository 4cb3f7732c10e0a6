// Model and EmbedStream on the shipped demo checkpoint (numbers against fair-esm are checked in
// tests/python; here: threads, ordering, hooks, and that forward and embed slice the same way).
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include <unistd.h>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/engines/convert.h"
#include "esm_onnx/engines/model.h"

using namespace esm_onnx;
namespace fs = std::filesystem;

namespace {

// One folder per process (ctest may run these tests in parallel processes), removed at exit.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("esm_onnx_test_model_" + std::to_string(getpid()));
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The demo checkpoint converted for `engine` (OpenVINO runs the standard-op graph), every layer exported.
const std::string& demo_model(Engine engine = Engine::OnnxRuntime) {
  static const TempDir dir;
  auto make = [](Engine e) {
    const fs::path out = dir.path / (std::string("demo_") + engine_name(e) + ".onnx");
    ConvertOptions o;
    o.checkpoint = std::string(ESM_ONNX_SOURCE_DIR) + "/demo/esm2_t4_64_RANDOM_WEIGHTS_demo.pt";
    o.output = out.string();
    o.repr_layers = {"all"};
    o.engine = e;
    convert(o);
    return out.string();
  };
  static const std::string ort = make(Engine::OnnxRuntime);
  if (engine == Engine::OnnxRuntime) return ort;
  static const std::string openvino = make(Engine::OpenVino);
  return openvino;
}

std::vector<std::string> sequences(int n) {
  std::vector<std::string> out;
  const std::string aa = "ACDEFGHIKLMNPQRSTVWY";
  for (int i = 0; i < n; ++i) {
    std::string s;
    for (int k = 0; k < 5 + (i * 7) % 60; ++k) s += aa[static_cast<std::size_t>(k * 3 + i) % aa.size()];
    out.push_back(s);
  }
  return out;
}

}  // namespace

TEST(Model, EmbedKeepsInputOrderAndMatchesForward) {
  const Model model(demo_model(), {.threads = 1});
  EXPECT_EQ(model.info().num_layers, 4);
  EmbedRequest req;
  req.include = Output::Mean | Output::PerTok | Output::Logits;
  req.toks_per_batch = 120;
  const auto seqs = sequences(12);
  const auto out = model.embed(seqs, req);
  ASSERT_EQ(out.size(), seqs.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].label, std::to_string(i));
    EXPECT_EQ(out[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(out[i].length, static_cast<int64_t>(seqs[i].size()));
  }
  // The same record alone through forward(): BOS, ids, EOS.
  const auto ids = model.alphabet().encode(seqs[3]);
  std::vector<int64_t> tokens{model.alphabet().cls_idx()};
  tokens.insert(tokens.end(), ids.begin(), ids.end());
  tokens.push_back(model.alphabet().eos_idx());
  const auto T = static_cast<int64_t>(tokens.size());
  const auto f = model.forward(tokens, 1, T, Output::PerTok | Output::Logits, {4});
  ASSERT_EQ(f.layers, std::vector<int64_t>{4});
  const FloatArray& reps = *f.find(GraphOutput::Representations);
  ASSERT_EQ(reps.shape, (std::vector<int64_t>{1, 1, T, 64}));
  const auto& per_tok = *out[3].find(Output::PerTok, 4);
  for (int64_t t = 0; t < out[3].length; ++t) {
    for (int64_t e = 0; e < 64; ++e) {
      EXPECT_NEAR(per_tok.data[t * 64 + e], reps.data[(t + 1) * 64 + e], 1e-5);
    }
  }
  double mean0 = 0;
  for (int64_t t = 0; t < out[3].length; ++t) mean0 += per_tok.data[t * 64];
  EXPECT_NEAR(out[3].find(Output::Mean, 4)->data[0], mean0 / static_cast<double>(out[3].length), 1e-6);
}

void concurrent_calls_give_the_same_numbers(const RuntimeOptions& options) {
  const Model model(demo_model(options.engine), options);
  EmbedRequest req;
  req.include = Output::Mean | Output::Logits;
  req.toks_per_batch = 200;
  const auto seqs = sequences(40);
  const auto alone = model.embed(seqs, req);
  std::vector<std::vector<RecordOutput>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < results.size(); ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 3; ++round) results[k] = model.embed(seqs, req);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), alone.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
      EXPECT_EQ(r[i].find(Output::Mean, 4)->data, alone[i].find(Output::Mean, 4)->data);
      EXPECT_EQ(r[i].find(Output::Logits)->data, alone[i].find(Output::Logits)->data);
    }
  }
}

TEST(Model, ConcurrentCallsGiveTheSameNumbers) { concurrent_calls_give_the_same_numbers({.threads = 1}); }

// OpenVINO's runs on one model take turns; each result owns a copy of its outputs. A build without OpenVINO
// (the sanitizer preset: oneTBB dlopens with RTLD_DEEPBIND, which AddressSanitizer cannot run) says so instead.
TEST(Model, ConcurrentCallsGiveTheSameNumbersOnOpenVino) {
  const RuntimeOptions options{.threads = 1, .engine = Engine::OpenVino, .compute = Compute::Fp32, .cache = false};
#ifdef ESM_ONNX_HAS_OPENVINO
  concurrent_calls_give_the_same_numbers(options);
#else
  try {
    const Model model(demo_model(Engine::OpenVino), options);
    ADD_FAILURE() << "a build without OpenVINO loaded a model with it";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("built without OpenVINO"), std::string::npos) << e.what();
  }
#endif
}

TEST(Model, BadRecordsAndRequestsAreTypedErrors) {
  const Model model(demo_model(), {.threads = 1});
  EmbedRequest req;
  EXPECT_THROW(model.embed(std::vector<std::string>{"MKV", "MK*"}, req), InputError);
  EXPECT_THROW(model.embed(std::vector<std::string>{""}, req), InputError);
  req.repr_layers = {9};
  EXPECT_THROW(model.embed(std::vector<std::string>{"MKV"}, req), UsageError);
  req.repr_layers = {};
  req.toks_per_batch = 0;
  EXPECT_THROW(model.embed(std::vector<std::string>{"MKV"}, req), UsageError);
  EXPECT_THROW(Model("/nonexistent/model.onnx"), FileError);
  EXPECT_THROW(model.forward({0, 5, 2}, 2, 2, Output::Logits), UsageError);
  EXPECT_THROW(model.forward({0, 99, 2}, 1, 3, Output::Logits), UsageError);
}

TEST(EmbedStream, HooksSkipAndCountRecords) {
  const Model model(demo_model(), {.threads = 1});
  std::vector<SequenceRecord> records;
  for (const auto& [label, seq] : std::vector<std::pair<std::string, std::string>>{
           {"a", "MKTAYIAKQR"}, {"done", "MKV"}, {"bad", "MK*"}, {"refused", "MKV"}, {"b", "KALTARQQEV"}}) {
    records.push_back({label, seq, 0, 0});
  }
  auto source = vector_source(records);
  std::vector<SkippedRecord> told;
  StreamOptions so;
  so.read_ahead = 2;  // several windows
  so.check = [](const SequenceRecord& r) { return r.label == "refused" ? std::string("refused by the hook") : std::string(); };
  so.done = [](const SequenceRecord& r) { return r.label == "done"; };
  so.on_skip = [&](const SkippedRecord& s) { told.push_back(s); };
  EmbedStream stream(model, *source, EmbedRequest{}, so);
  std::vector<std::string> labels;
  std::vector<RecordOutput> batch;
  while (stream.next(batch)) {
    for (const auto& r : batch) labels.push_back(r.label);
  }
  std::sort(labels.begin(), labels.end());
  EXPECT_EQ(labels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(stream.counters().already_present, 1);
  EXPECT_EQ(stream.counters().written, 2);
  EXPECT_EQ(stream.counters().records_seen, 5);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0].label, "bad");
  EXPECT_EQ(told[1].reason, "refused by the hook");
  EXPECT_EQ(stream.layers(), (std::vector<int64_t>{0, 1, 2, 3, 4}));  // every exported layer
}

TEST(Options, ParseOnceAndNameTheOption) {
  EXPECT_EQ(parse_precision("int8"), Precision::Int8);
  EXPECT_STREQ(precision_name(Precision::Int4), "int4");
  EXPECT_EQ(parse_output_format("hdf5"), OutputFormat::H5);
  const auto in = Includes::parse({"mean", "contacts"});
  EXPECT_TRUE(in.has(Output::Mean) && in.has(Output::Contacts) && !in.has(Output::Logits));
  EXPECT_EQ(in.to_string(), "mean,contacts");
  try {
    parse_precision("fp8", "--precision");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--precision fp8"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("int4"), std::string::npos);
  }
  EXPECT_THROW(Includes::parse({}), UsageError);
  EXPECT_THROW(parse_device("tpu"), UsageError);
}

// The attentions output end to end through the registry: convert builds it on request, embed cuts each
// record's [layers, heads, t, t] out of padded batches, and forward() gives the same maps for a record alone.
TEST(Model, AttentionsAreCutPerRecordAsForwardGivesThem) {
  static const TempDir dir;
  ConvertOptions o;
  o.checkpoint = std::string(ESM_ONNX_SOURCE_DIR) + "/demo/esm2_t4_64_RANDOM_WEIGHTS_demo.pt";
  o.output = (dir.path / "attentions.onnx").string();
  o.on_request.set(GraphOutput::Attentions);
  const auto report = convert(o);
  ASSERT_TRUE(report.outputs.has(GraphOutput::Attentions));
  EXPECT_FALSE(report.fused);  // fused attention computes no maps
  const Model model(o.output, {.threads = 1});
  ASSERT_TRUE(model.info().has(GraphOutput::Attentions));
  const int64_t layers = model.info().num_layers, heads = model.info().attention_heads;
  EmbedRequest req;
  req.include = Output::Attentions | Output::Mean;
  req.toks_per_batch = 150;  // several records, and padding, per batch
  const auto seqs = sequences(6);
  const auto out = model.embed(seqs, req);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const FloatArray* a = out[i].find(Output::Attentions);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(out[i].find(Output::Mean, layers), nullptr);
    const int64_t t = out[i].length + 2;  // BOS and EOS
    ASSERT_EQ(a->shape, (std::vector<int64_t>{layers, heads, t, t}));
    // Alone, through forward(): the same maps, and each row a distribution over the record's own tokens.
    std::vector<int64_t> tokens{model.alphabet().cls_idx()};
    for (auto id : model.alphabet().encode(seqs[i])) tokens.push_back(id);
    tokens.push_back(model.alphabet().eos_idx());
    const auto f = model.forward(tokens, 1, t, Output::Attentions);
    const FloatArray& alone = *f.find(GraphOutput::Attentions);
    ASSERT_EQ(alone.shape, (std::vector<int64_t>{1, layers, heads, t, t}));
    for (std::size_t k = 0; k < a->data.size(); ++k) EXPECT_NEAR(a->data[k], alone.data[k], 1e-5) << "record " << i;
    for (int64_t row = 0; row < layers * heads * t; ++row) {
      double sum = 0;
      for (int64_t col = 0; col < t; ++col) sum += a->data[static_cast<std::size_t>(row * t + col)];
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  }
  // A model converted without it says how to get it.
  EmbedRequest want;
  want.include = Output::Attentions;
  try {
    const Model plain(demo_model(), {.threads = 1});
    plain.embed(seqs, want);
    ADD_FAILURE() << "a model without attentions embedded them";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--attentions"), std::string::npos) << e.what();
  }
}
