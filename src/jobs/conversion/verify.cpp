#include "esm_onnx/jobs/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/traits.h"
#include "esm_onnx/base/structure.h"
#include "esm_onnx/engines/fold_model.h"
#include "esm_onnx/engines/model.h"
#include "esm_onnx/jobs/score.h"
#include "engines/runtime/onnx_header.h"

namespace esm_onnx {

namespace fs = std::filesystem;

namespace {

// UniProt amino acid frequencies (percent), so that generated sequences look like proteins to the model.
constexpr std::pair<char, double> kAminoAcids[] = {
    {'L', 9.9}, {'A', 8.3}, {'G', 7.1}, {'V', 6.9}, {'E', 6.8}, {'S', 6.6}, {'I', 5.9}, {'K', 5.8}, {'R', 5.5}, {'D', 5.5},
    {'T', 5.3}, {'P', 4.7}, {'N', 4.1}, {'Q', 3.9}, {'F', 3.9}, {'Y', 2.9}, {'M', 2.4}, {'H', 2.3}, {'C', 1.4}, {'W', 1.1}};

std::vector<std::string> generate(int64_t count, uint64_t seed, int shortest = 30, int longest = 400) {
  std::mt19937_64 rng(seed);
  std::vector<double> weights;
  for (const auto& [aa, w] : kAminoAcids) weights.push_back(w);
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  std::uniform_int_distribution<int> length(shortest, longest);
  std::vector<std::string> out;
  for (int64_t i = 0; i < count; ++i) {
    std::string s(static_cast<std::size_t>(length(rng)), 'A');
    for (auto& c : s) c = kAminoAcids[pick(rng)].first;
    out.push_back(std::move(s));
  }
  return out;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

double max_abs_diff(const FloatArray& a, const FloatArray& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a.data[i] - b.data[i])));
  return m;
}

// Ranks with ties averaged, for Spearman's correlation.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = (static_cast<double>(i + j) / 2.0) + 1.0;
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const auto ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(ra.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) ma += ra[i] / n, mb += rb[i] / n;
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    ab += (ra[i] - ma) * (rb[i] - mb);
    aa += (ra[i] - ma) * (ra[i] - ma);
    bb += (rb[i] - mb) * (rb[i] - mb);
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 1.0;
}

// Variant scores of both models on a generated scan: every substitution at every position of the first 60
// residues of a generated protein, masked marginals (the strategy that runs the most passes).
void compare_scores(const Model& cand, const Model& ref, const std::string& protein, VerifyReport& rep) {
  const std::string seq = protein.substr(0, 60);
  std::vector<std::string> mutants;
  for (std::size_t i = 0; i < seq.size(); ++i) {
    for (const auto& [aa, w] : kAminoAcids) {
      if (aa != seq[i]) mutants.push_back(fmt::format("{}{}{}", seq[i], i, aa));
    }
  }
  ScoreRequest request;
  request.strategy = ScoringStrategy::MaskedMarginals;
  const auto c = score_mutants(cand, seq, mutants, request).scores;
  const auto w = score_mutants(ref, seq, mutants, request).scores;
  rep.scored_mutants = static_cast<int64_t>(mutants.size());
  rep.score_spearman = spearman(c, w);
  for (std::size_t i = 0; i < c.size(); ++i) rep.score_max_abs_error = std::max(rep.score_max_abs_error, std::fabs(c[i] - w[i]));
}

// The fidelity floor each precision is held to.
void apply_floor(VerifyReport& rep, Precision precision, Compute compute) {
  // bf16 compute on an fp32 graph has its own floor; an int8 graph keeps int8's.
  const FidelityFloor& f = compute == Compute::Bf16 && precision == Precision::Fp32 ? bf16_compute_floor()
                                                                                     : precision_traits(precision).floor;
  rep.floor = std::string(f.text);
  rep.passed = (f.max_abs_error <= 0 || rep.max_abs_error <= f.max_abs_error) &&
               (f.min_mean_cosine <= 0 || rep.min_mean_cosine >= f.min_mean_cosine) &&
               (f.min_argmax <= 0 || rep.argmax_agreement >= f.min_argmax);
}

// A folding model against its fp32 reference: the structures of generated proteins folded by both.
VerifyReport verify_folding(const std::string& candidate, const std::string& reference, const VerifyOptions& opt) {
  const FoldModel cand(candidate, opt.runtime), ref(reference, RuntimeOptions{.threads = opt.runtime.threads});
  if (cand.info().source_sha256 != ref.info().source_sha256) {
    throw UsageError(fmt::format("verify: {} and {} do not come from the same checkpoint", candidate, reference));
  }
  const ModelInfo stem = read_model_info(cand.stem_path());
  VerifyReport rep;
  rep.folding = true;
  rep.precision = fmt::format("{} stem", precision_name(stem.precision));
  std::vector<SequenceRecord> records;
  for (const auto& s : generate(opt.fold_sequences, opt.seed, 30, 120)) {
    SequenceRecord r;
    r.label = std::to_string(records.size());
    r.index = static_cast<int64_t>(records.size());
    r.sequence = s;
    records.push_back(std::move(r));
  }
  const FoldRequest request;
  const auto got = cand.fold(records, request);
  const auto want = ref.fold(records, request);
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto& c = got[i];
    const auto& w = want[i];
    rep.tokens += c.length;
    rep.max_ca_rmsd = std::max(rep.max_ca_rmsd, structure::ca_rmsd(c.positions.data.data(), w.positions.data.data(), c.length));
    rep.max_plddt_diff = std::max(rep.max_plddt_diff, max_abs_diff(c.plddt, w.plddt));
    rep.max_ptm_diff = std::max(rep.max_ptm_diff, static_cast<double>(std::fabs(c.ptm - w.ptm)));
  }
  rep.sequences = static_cast<int64_t>(records.size());
  const FoldFloor& f = precision_traits(stem.precision).fold_floor;
  rep.floor = std::string(f.text);
  rep.passed = rep.max_ca_rmsd <= f.max_ca_rmsd && rep.max_plddt_diff <= f.max_plddt_diff;
  return rep;
}

}  // namespace

std::string VerifyReport::to_string() const {
  if (folding) {
    return fmt::format("verify ({} vs fp32 reference, {} generated proteins, {} residues, recycles as the model's): "
                       "CA RMSD {:.3g} A, max pLDDT difference {:.3g}, max pTM difference {:.3g} -> {} ({})",
                       precision, sequences, tokens, max_ca_rmsd, max_plddt_diff, max_ptm_diff,
                       passed ? "within the floor" : "BELOW the floor", floor);
  }
  const std::string scores =
      scored_mutants > 0 ? fmt::format("; variant scores ({} masked-marginal mutants): Spearman {:.5f}, max abs "
                                       "difference {:.3g}",
                                       scored_mutants, score_spearman, score_max_abs_error)
                         : std::string();
  return fmt::format("verify ({} vs fp32 reference, {} generated sequences, {} tokens): max abs error {:.3g}, "
                     "min cosine of mean embeddings {:.6f}, logits argmax agreement {:.2f}%{} -> {} ({})",
                     precision, sequences, tokens, max_abs_error, min_mean_cosine, 100.0 * argmax_agreement, scores,
                     passed ? "within the floor" : "BELOW the floor", floor);
}

VerifyReport verify_against(const std::string& candidate, const std::string& reference, const VerifyOptions& opt) {
  if (FoldModelInfo::is_fold(runtime::read_onnx_header(candidate).metadata)) return verify_folding(candidate, reference, opt);
  const Model cand(candidate, opt.runtime), ref(reference, RuntimeOptions{.threads = opt.runtime.threads});
  const ModelInfo& ci = cand.info();
  if (ci.source_sha256 != ref.info().source_sha256 || ci.repr_layers != ref.info().repr_layers) {
    throw UsageError(fmt::format("verify: {} and {} do not come from the same checkpoint with the same layers",
                                 candidate, reference));
  }
  VerifyReport rep;
  rep.precision = std::string(precision_name(ci.precision)) + (ci.attention == Attention::Fused ? " (fused)" : "");
  if (engine_traits(cand.engine().engine).bf16_compute) {
    rep.precision += fmt::format(" on {}, {} compute", engine_name(cand.engine().engine), compute_name(cand.engine().compute));
  }
  // The same path as embed: its batching (several records per padded batch), slicing and mean pooling.
  EmbedRequest request;
  request.include = Output::Mean | Output::PerTok;
  if (ci.has(GraphOutput::Logits)) request.include = request.include | Output::Logits;
  request.toks_per_batch = 1600;
  request.truncation_seq_length = 0;
  const auto seqs = generate(opt.sequences, opt.seed);
  const auto got = cand.embed(seqs, request);
  const auto want = ref.embed(seqs, request);
  const int64_t last = ci.repr_layers.back();
  int64_t agree = 0, rows_compared = 0;
  for (std::size_t r = 0; r < seqs.size(); ++r) {
    const RecordOutput& c = got[r];
    const RecordOutput& w = want[r];
    rep.tokens += c.length;
    for (const auto& [layer, a] : c.layers(Output::PerTok)) {
      rep.max_abs_error = std::max(rep.max_abs_error, max_abs_diff(*a, *w.find(Output::PerTok, layer)));
    }
    rep.min_mean_cosine = std::min(rep.min_mean_cosine, cosine(c.find(Output::Mean, last)->data, w.find(Output::Mean, last)->data));
    const FloatArray* cl_all = c.find(Output::Logits);
    const FloatArray* wl_all = w.find(Output::Logits);
    if (!cl_all) continue;
    rep.max_abs_error = std::max(rep.max_abs_error, max_abs_diff(*cl_all, *wl_all));
    // Rows of logits: one per residue, or one per record for a sequence classifier.
    const int64_t V = cl_all->shape.back();
    const auto rows = static_cast<int64_t>(cl_all->data.size()) / V;
    for (int64_t t = 0; t < rows; ++t) {
      const float* cl = cl_all->data.data() + t * V;
      const float* wl = wl_all->data.data() + t * V;
      agree += (std::max_element(cl, cl + V) - cl) == (std::max_element(wl, wl + V) - wl);
    }
    rows_compared += rows;
  }
  rep.sequences = static_cast<int64_t>(seqs.size());
  if (ci.has(GraphOutput::Logits) && ci.head == OutputHead::LanguageModel) compare_scores(cand, ref, seqs.front(), rep);
  rep.argmax_agreement = rows_compared > 0 ? static_cast<double>(agree) / static_cast<double>(rows_compared) : 1.0;
  apply_floor(rep, ci.precision, cand.engine().compute);
  return rep;
}

VerifyReport verify_conversion(const ConvertOptions& converted, const VerifyOptions& options, const MessageFn& message) {
  const fs::path out(converted.output);
  const fs::path dir = out.parent_path() / (out.filename().string() + ".verify");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FileError(fmt::format("--verify: cannot create {}: {}", dir.string(), ec.message()));
  ConvertOptions ref = converted;
  ref.output = (dir / "reference.onnx").string();
  ref.precision = Precision::Fp32;
  ref.optimize = false;
  ref.contacts = false;
  ref.on_request = {};
  try {
    if (message) message({MessageKind::Step, "verify: writing the fp32 reference graph"});
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
