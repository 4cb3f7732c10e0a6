#include "esm_onnx/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "esm_onnx/errors.h"
#include "runtime/session.h"

namespace esm_onnx {

namespace fs = std::filesystem;

namespace {

// UniProt amino acid frequencies (percent), so that generated sequences look like proteins to the model.
constexpr std::pair<char, double> kAminoAcids[] = {
    {'L', 9.9}, {'A', 8.3}, {'G', 7.1}, {'V', 6.9}, {'E', 6.8}, {'S', 6.6}, {'I', 5.9}, {'K', 5.8}, {'R', 5.5}, {'D', 5.5},
    {'T', 5.3}, {'P', 4.7}, {'N', 4.1}, {'Q', 3.9}, {'F', 3.9}, {'Y', 2.9}, {'M', 2.4}, {'H', 2.3}, {'C', 1.4}, {'W', 1.1}};

std::vector<std::string> generate(int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> weights;
  for (const auto& [aa, w] : kAminoAcids) weights.push_back(w);
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  std::uniform_int_distribution<int> length(30, 400);
  std::vector<std::string> out;
  for (int64_t i = 0; i < count; ++i) {
    std::string s(static_cast<std::size_t>(length(rng)), 'A');
    for (auto& c : s) c = kAminoAcids[pick(rng)].first;
    out.push_back(std::move(s));
  }
  return out;
}

double cosine(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

}  // namespace

std::string VerifyReport::to_string() const {
  return fmt::format("verify ({} vs fp32 reference, {} generated sequences, {} tokens): max abs error {:.3g}, "
                     "min cosine of mean embeddings {:.6f}, logits argmax agreement {:.2f}% -> {} ({})",
                     precision, sequences, tokens, max_abs_error, min_mean_cosine, 100.0 * argmax_agreement,
                     passed ? "within the floor" : "BELOW the floor", floor);
}

VerifyReport verify_against(const std::string& candidate, const std::string& reference, const VerifyOptions& opt) {
  runtime::Session cand(candidate, opt.threads), ref(reference, opt.threads);
  const ModelInfo& ci = cand.info();
  const ModelInfo& ri = ref.info();
  if (ci.source_sha256 != ri.source_sha256 || ci.repr_layers != ri.repr_layers) {
    throw UsageError(fmt::format("verify: {} and {} do not come from the same checkpoint with the same layers",
                                 candidate, reference));
  }
  VerifyReport rep;
  rep.precision = ci.precision + (ci.attention == "fused" ? " (fused)" : "");
  const Alphabet alphabet = ci.make_alphabet();
  const auto seqs = generate(opt.sequences, opt.seed);
  const int64_t E = ci.embed_dim, V = ci.vocab_size, n_layers = static_cast<int64_t>(ci.repr_layers.size());
  const int64_t bos = alphabet.prepend_bos() ? 1 : 0;
  int64_t agree = 0;
  // A few records per batch, so that padding is part of what is verified.
  for (std::size_t start = 0; start < seqs.size(); start += 4) {
    const std::size_t end = std::min(seqs.size(), start + 4);
    const auto B = static_cast<int64_t>(end - start);
    std::vector<std::vector<int64_t>> ids;
    for (std::size_t i = start; i < end; ++i) ids.push_back(alphabet.encode(seqs[i]));
    std::vector<const std::vector<int64_t>*> rows;
    for (const auto& r : ids) rows.push_back(&r);
    int64_t T = 0;
    auto tokens = alphabet.pad_batch(rows, T);
    auto tokens_ref = tokens;
    const std::vector<std::string> outs{"representations", "logits"};
    auto rc = cand.run(tokens, B, T, outs);
    auto rr = ref.run(tokens_ref, B, T, outs);
    const float* c_rep = rc.data("representations");
    const float* r_rep = rr.data("representations");
    const float* c_log = rc.data("logits");
    const float* r_log = rr.data("logits");
    for (int64_t b = 0; b < B; ++b) {
      const int64_t L = static_cast<int64_t>(seqs[start + b].size());
      rep.tokens += L;
      for (int64_t l = 0; l < n_layers; ++l) {
        const int64_t off = ((l * B + b) * T + bos) * E;
        for (int64_t i = 0; i < L * E; ++i) rep.max_abs_error = std::max(rep.max_abs_error, static_cast<double>(std::fabs(c_rep[off + i] - r_rep[off + i])));
      }
      std::vector<float> cm(static_cast<std::size_t>(E), 0.0f), rm(static_cast<std::size_t>(E), 0.0f);
      const int64_t last = ((n_layers - 1) * B + b) * T + bos;
      for (int64_t t = 0; t < L; ++t) {
        for (int64_t e = 0; e < E; ++e) {
          cm[e] += c_rep[(last + t) * E + e] / static_cast<float>(L);
          rm[e] += r_rep[(last + t) * E + e] / static_cast<float>(L);
        }
      }
      rep.min_mean_cosine = std::min(rep.min_mean_cosine, cosine(cm.data(), rm.data(), E));
      for (int64_t t = 0; t < L; ++t) {
        const float* cl = c_log + ((b * T) + bos + t) * V;
        const float* rl = r_log + ((b * T) + bos + t) * V;
        for (int64_t v = 0; v < V; ++v) rep.max_abs_error = std::max(rep.max_abs_error, static_cast<double>(std::fabs(cl[v] - rl[v])));
        agree += (std::max_element(cl, cl + V) - cl) == (std::max_element(rl, rl + V) - rl);
      }
    }
    rep.sequences += B;
  }
  rep.argmax_agreement = rep.tokens > 0 ? static_cast<double>(agree) / static_cast<double>(rep.tokens) : 1.0;
  if (ci.precision == "fp32") {
    rep.floor = "fp32: max abs error <= 1e-4";
    rep.passed = rep.max_abs_error <= 1e-4;
  } else if (ci.precision == "fp16") {
    rep.floor = "fp16: cosine >= 0.999";
    rep.passed = rep.min_mean_cosine >= 0.999;
  } else {
    rep.floor = ci.precision + ": cosine >= 0.99 and argmax agreement >= 95%";
    rep.passed = rep.min_mean_cosine >= 0.99 && rep.argmax_agreement >= 0.95;
  }
  return rep;
}

VerifyReport verify_conversion(const ConvertOptions& converted, const VerifyOptions& options, const LogFn& log) {
  const fs::path out(converted.output);
  const fs::path dir = out.parent_path() / (out.filename().string() + ".verify");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw UsageError(fmt::format("--verify: cannot create {}: {}", dir.string(), ec.message()));
  ConvertOptions ref = converted;
  ref.output = (dir / "reference.onnx").string();
  ref.precision = "fp32";
  ref.optimize = false;
  ref.contacts = false;
  try {
    if (log) log("verify: writing the fp32 reference graph");
    convert(ref);
    auto report = verify_against(converted.output, ref.output, options);
    fs::remove_all(dir, ec);
    return report;
  } catch (...) {
    fs::remove_all(dir, ec);
    throw;
  }
}

}  // namespace esm_onnx
