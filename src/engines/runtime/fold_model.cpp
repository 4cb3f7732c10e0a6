// ESMFold's host loop: encode (multimers joined by the linker, fair-esm's residue-index offsets), the stem's
// states, 1 + recycles runs of the folding cycle graph with the recycled CB distance bins rebuilt from each
// cycle's frames on the host, then atoms, confidences and the PDB text (base/structure.h).
#include "esm_onnx/engines/fold_model.h"

#include <fmt/format.h>
#include <onnxruntime_cxx_api.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <numeric>

#include "engines/runtime/onnx_header.h"
#include "engines/runtime/ort_session.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/structure.h"
#include "esm_onnx/engines/model.h"

namespace esm_onnx {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One record as the folding trunk sees it: chains joined by the linker.
struct Encoded {
  std::vector<int64_t> aatype, residue_index, chain_index;
  std::vector<float> linker_mask;  // 0 on linker residues
};

std::vector<std::string> chains_of(const std::string& sequence) {
  std::vector<std::string> chains;
  std::size_t start = 0;
  while (true) {
    const auto end = sequence.find(kChainSeparator, start);
    chains.push_back(sequence.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return chains;
}

Encoded encode(const std::string& sequence, const FoldRequest& request) {
  Encoded e;
  const auto chains = chains_of(sequence);
  const auto& linker = request.chain_linker;
  for (std::size_t i = 0; i < chains.size(); ++i) {
    const auto ci = static_cast<int64_t>(i);
    // Chain i and the linker after it are offset by i * offset (fair-esm's batch_encode_sequences); the linker
    // before chain i belongs to chain i - 1.
    auto add = [&](char residue, float in_chain) {
      e.residue_index.push_back(static_cast<int64_t>(e.aatype.size()) + ci * request.residue_index_offset);
      e.aatype.push_back(structure::residue_type(residue));
      e.chain_index.push_back(ci);
      e.linker_mask.push_back(in_chain);
    };
    if (i > 0) {
      for (char c : linker) add(c, 0.0f);
      // The linker before chain i counts as chain i - 1, with its offset.
      for (std::size_t k = e.aatype.size() - linker.size(); k < e.aatype.size(); ++k) {
        e.chain_index[k] = ci - 1;
        e.residue_index[k] -= request.residue_index_offset;
      }
    }
    for (char c : chains[i]) add(c, 1.0f);
  }
  return e;
}

// Batch row b of a padded [B, ...] array whose rows hold `stride` elements.
template <typename T>
const T* row(const T* data, int64_t b, int64_t stride) {
  return data + b * stride;
}

}  // namespace

std::string fold_record_problem(const std::string& sequence) {
  if (sequence.empty()) return "empty sequence";
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    const char c = sequence[i];
    if (c == kChainSeparator) continue;
    if (c >= 'A' && c <= 'Z') continue;
    if (c >= 'a' && c <= 'z') {
      return fmt::format("lower-case residue '{}' at position {}: ESMFold reads upper case (fair-esm would fold it as X)", c, i + 1);
    }
    return fmt::format("character '{}' at position {} is not a residue (A-Z, unknown ones folded as X) or the chain "
                       "separator ':'", (c >= 0x20 && c < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", static_cast<unsigned char>(c)), i + 1);
  }
  for (const auto& chain : chains_of(sequence)) {
    if (chain.empty()) return "an empty chain (':' at the start or end, or '::')";
  }
  return {};
}

void FoldRequest::validate() const {
  if (num_recycles && (*num_recycles < 0 || *num_recycles > kMaxRecycles)) {
    throw UsageError(fmt::format("--num-recycles {}: recycles are 0..{}", *num_recycles, kMaxRecycles));
  }
  if (chunk_size && *chunk_size < 1) throw UsageError(fmt::format("--chunk-size {}: rows per chunk are at least 1", *chunk_size));
  if (max_tokens_per_batch < 1) {
    throw UsageError(fmt::format("--max-tokens-per-batch {}: a batch holds at least one residue", max_tokens_per_batch));
  }
  if (residue_index_offset < 0 || residue_index_offset > (int64_t{1} << 30)) {
    throw UsageError(fmt::format("residue_index_offset {}: 0..2^30", residue_index_offset));
  }
  for (char c : chain_linker) {
    if (c < 'A' || c > 'Z') throw UsageError(fmt::format("chain_linker '{}': residues A-Z only", chain_linker));
  }
}

std::string FoldRequest::to_string() const {
  return fmt::format("num_recycles={} chunk_size={} max_tokens_per_batch={} residue_index_offset={} chain_linker={}",
                     num_recycles ? std::to_string(*num_recycles) : "model", chunk_size ? std::to_string(*chunk_size) : "auto",
                     max_tokens_per_batch, residue_index_offset, chain_linker);
}

struct FoldModel::Impl {
  std::string path;
  FoldModelInfo info;
  std::string stem_path;
  RuntimeOptions stem_options;
  Alphabet alphabet = Alphabet::for_kind(AlphabetKind::Esm1b);
  std::unique_ptr<Ort::Session> cycle;
  double load_seconds{0};

  // The stem is open only while a batch runs it: its weights (11 GB for the 3B stem) are mapped from the file
  // (packed_weights false), so a session opens in a fraction of a second, and closing it unmaps them: the trunk,
  // which takes most of the time and all of the activations' memory, runs beside the trunk's weights alone.
  // Batches running at once share one session.
  std::shared_ptr<const Model> stem() const {
    std::lock_guard<std::mutex> lock(stem_mutex);
    if (auto open = stem_open.lock()) return open;
    auto open = std::make_shared<const Model>(stem_path, stem_options);
    stem_open = open;
    return open;
  }
  mutable std::mutex stem_mutex;
  mutable std::weak_ptr<const Model> stem_open;
};

FoldModel::FoldModel(const std::string& path, const RuntimeOptions& options) : impl_(std::make_unique<Impl>()) {
  const auto t0 = Clock::now();
  options.validate();
  if (options.engine != Engine::OnnxRuntime) {
    throw UsageError("--engine openvino: ESMFold's folding graph runs on ONNX Runtime (--engine ort)");
  }
  auto& s = *impl_;
  s.path = path;
  const auto header = runtime::read_onnx_header(path);
  if (!FoldModelInfo::is_fold(header.metadata)) {
    throw UsageError(fmt::format("{}: not a folding model (convert an ESMFold checkpoint, such as facebook/esmfold_v1, "
                                 "with esm-onnx convert)", path));
  }
  s.info = FoldModelInfo::from_metadata(header.metadata, path);
  s.stem_path = (fs::path(path).parent_path() / s.info.stem_file).string();
  s.stem_options = options;
  s.stem_options.packed_weights = false;
  const auto stem = s.stem();  // its metadata checked now; the session closes when this constructor returns
  const auto& si = stem->info();
  s.alphabet = stem->alphabet();
  const auto& cfg = s.info.config;
  std::vector<int64_t> all(static_cast<std::size_t>(cfg.esm_layers + 1));
  std::iota(all.begin(), all.end(), 0);
  if (si.family != Family::Esm2 || si.num_layers != cfg.esm_layers || si.embed_dim != cfg.esm_dim || si.repr_layers != all) {
    throw FormatError(fmt::format("{}: the stem {} is not this folding model's ({} layers of width {}, every layer's "
                                  "representations): convert the ESMFold checkpoint again", path, s.stem_path,
                                  cfg.esm_layers, cfg.esm_dim));
  }
  try {
    RuntimeOptions cycle_options = options;
    cycle_options.packed_weights = false;
    s.cycle = runtime::open_ort_session(path, cycle_options);
  } catch (const Ort::Exception& e) {
    throw RuntimeFailure(fmt::format("{}: ONNX Runtime cannot load the folding graph: {}", path, e.what()));
  }
  s.load_seconds = seconds_since(t0);
}

FoldModel::FoldModel(FoldModel&&) noexcept = default;
FoldModel& FoldModel::operator=(FoldModel&&) noexcept = default;
FoldModel::~FoldModel() = default;

const std::string& FoldModel::path() const { return impl_->path; }
const FoldModelInfo& FoldModel::info() const { return impl_->info; }
const std::string& FoldModel::stem_path() const { return impl_->stem_path; }
double FoldModel::load_seconds() const { return impl_->load_seconds; }

int64_t FoldModel::folded_length(const std::string& sequence, const FoldRequest& request) const {
  const auto chains = chains_of(sequence);
  return static_cast<int64_t>(sequence.size() - (chains.size() - 1) + (chains.size() - 1) * request.chain_linker.size());
}

int64_t FoldModel::chunk_rows(int64_t batch, int64_t length, const FoldRequest& request) const {
  if (request.chunk_size) return std::min(*request.chunk_size, std::max<int64_t>(length, 1));
  const int64_t per_row = batch * impl_->info.config.pairwise_heads() * length * length * 4;
  return std::clamp<int64_t>(kDefaultFoldChunkBytes / std::max<int64_t>(per_row, 1), 1, std::max<int64_t>(length, 1));
}

int64_t FoldModel::peak_bytes(int64_t batch, int64_t length, const FoldRequest& request) const {
  const auto& c = impl_->info.config;
  const auto& m = c.structure;
  const int64_t pairs = batch * length * length;
  // The pair state's copies alive at once (input, output, the block's residual and branches, the heads' logits),
  // the structure module's point distances, and one chunk of triangle-attention logits. Measured (L = 400, the
  // released widths): 2.1 GB of activations and arena at the peak against this estimate's 2.2 GB.
  const int64_t pair_bytes = pairs * 4 * (16 * c.pairwise_state_dim + 2 * m.pairwise_dim + m.num_heads_ipa * m.num_qk_points * 4 +
                                          2 * FoldConfig::kDistogramBins + 16);
  const int64_t chunk = chunk_rows(batch, length, request);
  const int64_t logits = 2 * batch * chunk * c.pairwise_heads() * length * length * 4;
  const int64_t stem = (c.esm_layers + 2) * batch * (length + 2) * c.esm_dim * 4;
  return pair_bytes + logits + stem;
}

int64_t FoldModel::memory_limit() const {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const int64_t total = pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : (int64_t{8} << 30);
  return total / 10 * 8;
}

std::vector<FoldedStructure> FoldModel::fold_batch(const std::vector<SequenceRecord>& records, const FoldRequest& request,
                                                   FoldTimings* timings) const {
  request.validate();
  if (records.empty()) return {};
  const auto t_start = Clock::now();
  const auto& s = *impl_;
  const auto& cfg = s.info.config;
  const int64_t B = static_cast<int64_t>(records.size());
  std::vector<Encoded> enc;
  int64_t L = 0;
  for (const auto& r : records) {
    if (auto problem = fold_record_problem(r.sequence); !problem.empty()) {
      throw InputError(fmt::format("record {} ('{}'): {}", r.index + 1, r.label, problem));
    }
    enc.push_back(encode(r.sequence, request));
    L = std::max<int64_t>(L, static_cast<int64_t>(enc.back().aatype.size()));
  }
  const int64_t T = L + 2, S = cfg.sequence_state_dim, Z = cfg.pairwise_state_dim;
  // The stem's tokens: BOS, each residue's ESM token (X for unknown ones), EOS, padding.
  const Alphabet& alphabet = s.alphabet;
  std::vector<int64_t> esm_token(structure::kResidueTypes);
  for (int t = 0; t < structure::kResidueTypes; ++t) {
    const char letter = t == structure::kUnknownResidue ? 'X' : structure::kResidueOrder[t];
    esm_token[static_cast<std::size_t>(t)] = alphabet.index(std::string(1, letter));
  }
  std::vector<int64_t> tokens(static_cast<std::size_t>(B * T), alphabet.padding_idx());
  std::vector<int64_t> aatype(static_cast<std::size_t>(B * L), 0), residx(static_cast<std::size_t>(B * L), 0);
  std::vector<float> mask(static_cast<std::size_t>(B * L), 0.0f);
  for (int64_t b = 0; b < B; ++b) {
    const auto& e = enc[static_cast<std::size_t>(b)];
    const auto n = static_cast<int64_t>(e.aatype.size());
    tokens[static_cast<std::size_t>(b * T)] = alphabet.cls_idx();
    for (int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<std::size_t>(b * L + i);
      aatype[k] = e.aatype[static_cast<std::size_t>(i)];
      residx[k] = e.residue_index[static_cast<std::size_t>(i)];
      mask[k] = 1.0f;
      tokens[static_cast<std::size_t>(b * T + 1 + i)] = esm_token[static_cast<std::size_t>(aatype[k])];
    }
    tokens[static_cast<std::size_t>(b * T + n + 1)] = alphabet.eos_idx();
  }
  FoldTimings tm;
  auto t = Clock::now();
  ForwardOutputs stem_out = s.stem()->forward(tokens, B, T, Includes(Output::PerTok));
  FloatArray* hidden = nullptr;
  for (auto& [o, a] : stem_out.outputs) {
    if (o == GraphOutput::Representations) hidden = &a;
  }
  if (!hidden) throw InternalError("the stem returned no representations");
  tm.stem = seconds_since(t);

  const int64_t recycles = request.num_recycles.value_or(cfg.max_recycles > 0 ? cfg.max_recycles - 1 : 0);
  const int64_t cycles = 1 + recycles;
  const int64_t chunk = chunk_rows(B, L, request);
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const std::vector<int64_t> shape_bl{B, L}, shape_bls{B, L, S}, shape_bllz{B, L, L, Z}, shape_bll{B, L, L};
  std::vector<float> zeros_s(static_cast<std::size_t>(B * L * S), 0.0f), zeros_z(static_cast<std::size_t>(B * L * L * Z), 0.0f);
  std::vector<int64_t> bins(static_cast<std::size_t>(B * L * L), 0);
  int64_t chunk_value = chunk;
  const char* in_names[] = {fold_io::kEsmHidden, fold_io::kAatype, fold_io::kMask, fold_io::kResidueIndex, fold_io::kRecycleS,
                            fold_io::kRecycleZ, fold_io::kRecycleBins, fold_io::kChunkSize, fold_io::kWantHeads};
  const char* out_names[] = {fold_io::kSequenceState, fold_io::kPairState, fold_io::kRotations, fold_io::kTranslations,
                             fold_io::kAngles, fold_io::kPlddt, fold_io::kDistogramLogits, fold_io::kPtmLogits, fold_io::kLmLogits};
  std::vector<Ort::Value> outputs;
  Ort::Value recycle_s{nullptr}, recycle_z{nullptr};
  for (int64_t cycle = 0; cycle < cycles; ++cycle) {
    t = Clock::now();
    bool want_heads = cycle == cycles - 1;
    std::vector<Ort::Value> in;
    in.push_back(Ort::Value::CreateTensor<float>(mem, hidden->data.data(), hidden->data.size(), hidden->shape.data(), hidden->shape.size()));
    in.push_back(Ort::Value::CreateTensor<int64_t>(mem, aatype.data(), aatype.size(), shape_bl.data(), 2));
    in.push_back(Ort::Value::CreateTensor<float>(mem, mask.data(), mask.size(), shape_bl.data(), 2));
    in.push_back(Ort::Value::CreateTensor<int64_t>(mem, residx.data(), residx.size(), shape_bl.data(), 2));
    if (cycle == 0) {
      in.push_back(Ort::Value::CreateTensor<float>(mem, zeros_s.data(), zeros_s.size(), shape_bls.data(), 3));
      in.push_back(Ort::Value::CreateTensor<float>(mem, zeros_z.data(), zeros_z.size(), shape_bllz.data(), 4));
    } else {
      in.push_back(std::move(recycle_s));
      in.push_back(std::move(recycle_z));
    }
    in.push_back(Ort::Value::CreateTensor<int64_t>(mem, bins.data(), bins.size(), shape_bll.data(), 3));
    in.push_back(Ort::Value::CreateTensor<int64_t>(mem, &chunk_value, 1, nullptr, 0));
    in.push_back(Ort::Value::CreateTensor<bool>(mem, &want_heads, 1, nullptr, 0));
    try {
      outputs = s.cycle->Run(Ort::RunOptions{nullptr}, in_names, in.data(), in.size(), out_names, std::size(out_names));
    } catch (const Ort::Exception& e) {
      throw RuntimeFailure(fmt::format("{}: folding cycle {} failed on a batch of {} x {} residues: {}", s.path, cycle + 1, B, L, e.what()));
    }
    if (cycle == 0) {
      zeros_s = {};
      zeros_z = {};
    }
    tm.trunk += seconds_since(t);
    if (cycle == cycles - 1) break;
    t = Clock::now();
    recycle_s = std::move(outputs[0]);
    recycle_z = std::move(outputs[1]);
    const float* rot = outputs[2].GetTensorData<float>();
    const float* trans = outputs[3].GetTensorData<float>();
    const float* ang = outputs[4].GetTensorData<float>();
    for (int64_t b = 0; b < B; ++b) {
      const auto atom14 = structure::atom14_positions(row(rot, b, L * 9), row(trans, b, L * 3), row(ang, b, L * 14),
                                                      row(aatype.data(), b, L), L);
      const auto rb = structure::recycle_bins(atom14.data(), L);
      std::copy(rb.begin(), rb.end(), bins.begin() + b * L * L);
    }
    tm.host += seconds_since(t);
  }
  tm.cycles = cycles;

  t = Clock::now();
  const float* rot = outputs[2].GetTensorData<float>();
  const float* trans = outputs[3].GetTensorData<float>();
  const float* ang = outputs[4].GetTensorData<float>();
  const float* plddt = outputs[5].GetTensorData<float>();
  const float* disto = outputs[6].GetTensorData<float>();
  const float* ptm_logits = outputs[7].GetTensorData<float>();
  constexpr int64_t A = structure::kAtom37;
  const int64_t bins_n = FoldConfig::kDistogramBins;
  const auto& tables = structure::residue_tables();
  std::vector<FoldedStructure> out;
  for (int64_t b = 0; b < B; ++b) {
    const auto& e = enc[static_cast<std::size_t>(b)];
    const auto& r = records[static_cast<std::size_t>(b)];
    const auto n = static_cast<int64_t>(e.aatype.size());
    const int64_t* types = row(aatype.data(), b, L);
    const auto atom14 = structure::atom14_positions(row(rot, b, L * 9), row(trans, b, L * 3), row(ang, b, L * 14), types, n);
    const auto atom37 = structure::atom14_to_atom37(atom14.data(), types, n);
    std::vector<float> mask37(static_cast<std::size_t>(n * A)), b_factors(static_cast<std::size_t>(n * A));
    double sum = 0, count = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t a = 0; a < A; ++a) {
        const auto k = static_cast<std::size_t>(i * A + a);
        mask37[k] = tables.atom37_mask[static_cast<std::size_t>(types[i] * A + a)] * e.linker_mask[static_cast<std::size_t>(i)];
        b_factors[k] = plddt[(b * L + i) * A + a];
        sum += static_cast<double>(b_factors[k] * mask37[k]);
        count += static_cast<double>(mask37[k]);
      }
    }
    // The pair heads over this record's own residues (fair-esm slices [:length, :length] before pTM).
    std::vector<float> pl(static_cast<std::size_t>(n * n * bins_n)), dl(static_cast<std::size_t>(n * n * bins_n));
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(ptm_logits + ((b * L + i) * L) * bins_n, n * bins_n, pl.begin() + i * n * bins_n);
      std::copy_n(disto + ((b * L + i) * L) * bins_n, n * bins_n, dl.begin() + i * n * bins_n);
    }
    FoldedStructure f;
    f.label = r.label;
    f.index = r.index;
    f.ptm = structure::ptm(pl.data(), n, bins_n, FoldConfig::kPaeMaxBin);
    auto pae = structure::predicted_aligned_error(pl.data(), n, bins_n, FoldConfig::kPaeMaxBin);
    f.max_predicted_aligned_error = pae.max_pae;
    f.mean_plddt = count > 0 ? static_cast<float>(sum / count) : std::numeric_limits<float>::quiet_NaN();
    std::vector<int64_t> pdb_residx(e.residue_index);
    for (auto& v : pdb_residx) v += 1;
    structure::PdbInput pin{.atom37 = atom37.data(), .atom37_mask = mask37.data(), .types = types,
                            .residue_index = pdb_residx.data(), .b_factors = b_factors.data(),
                            .chain_index = e.chain_index.data(), .length = n};
    f.pdb = structure::to_pdb(pin);
    // Per-residue arrays without the linkers.
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < n; ++i) {
      if (e.linker_mask[static_cast<std::size_t>(i)] > 0) keep.push_back(i);
    }
    const auto m = static_cast<int64_t>(keep.size());
    f.length = m;
    f.positions.shape = {m, A, 3};
    f.atom_mask.shape = {m, A};
    f.plddt_atoms.shape = {m, A};
    f.plddt.shape = {m};
    f.predicted_aligned_error.shape = {m, m};
    f.distogram_logits.shape = {m, m, bins_n};
    for (const int64_t i : keep) {
      // Positions of atoms the residue does not have are 0, as fair-esm's PDB positions (atom37 times its mask).
      for (int64_t a = 0; a < A; ++a) {
        const bool has = mask37[static_cast<std::size_t>(i * A + a)] > 0;
        for (int64_t x = 0; x < 3; ++x) f.positions.data.push_back(has ? atom37[static_cast<std::size_t>((i * A + a) * 3 + x)] : 0.0f);
      }
      f.atom_mask.data.insert(f.atom_mask.data.end(), mask37.begin() + i * A, mask37.begin() + (i + 1) * A);
      f.plddt_atoms.data.insert(f.plddt_atoms.data.end(), b_factors.begin() + i * A, b_factors.begin() + (i + 1) * A);
      f.plddt.data.push_back(b_factors[static_cast<std::size_t>(i * A + 1)]);  // CA
      f.residue_index.push_back(e.residue_index[static_cast<std::size_t>(i)]);
      f.chain_index.push_back(e.chain_index[static_cast<std::size_t>(i)]);
      f.aatype.push_back(e.aatype[static_cast<std::size_t>(i)]);
      for (const int64_t j : keep) {
        f.predicted_aligned_error.data.push_back(pae.pae[static_cast<std::size_t>(i * n + j)]);
        const auto* d = dl.data() + (i * n + j) * bins_n;
        f.distogram_logits.data.insert(f.distogram_logits.data.end(), d, d + bins_n);
      }
    }
    out.push_back(std::move(f));
  }
  tm.host += seconds_since(t);
  const double total = seconds_since(t_start);
  int64_t residues = 0;
  for (const auto& e : enc) residues += static_cast<int64_t>(e.aatype.size());
  for (std::size_t k = 0; k < out.size(); ++k) {
    out[k].seconds = total * static_cast<double>(enc[k].aatype.size()) / static_cast<double>(std::max<int64_t>(residues, 1));
  }
  if (timings) *timings = tm;
  return out;
}

std::vector<FoldedStructure> FoldModel::fold(const std::vector<SequenceRecord>& records, const FoldRequest& request) const {
  request.validate();
  std::vector<std::size_t> order(records.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> lengths(records.size());
  for (std::size_t k = 0; k < records.size(); ++k) lengths[k] = folded_length(records[k].sequence, request);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
  std::vector<FoldedStructure> out(records.size());
  std::vector<SequenceRecord> batch;
  std::vector<std::size_t> slots;
  auto flush = [&] {
    if (batch.empty()) return;
    auto folded = fold_batch(batch, request);
    for (std::size_t k = 0; k < folded.size(); ++k) out[slots[k]] = std::move(folded[k]);
    batch.clear();
    slots.clear();
  };
  for (const auto k : order) {
    // Sorted ascending: this record is the batch's longest; the batch's padded size is its length x count.
    if (!batch.empty() && lengths[k] * static_cast<int64_t>(batch.size() + 1) > request.max_tokens_per_batch) flush();
    batch.push_back(records[k]);
    slots.push_back(k);
  }
  flush();
  return out;
}

}  // namespace esm_onnx
