// The fold job: FASTA windows sorted by length, batches by residue budget, each record's PDB and npz committed
// through RecordFiles (complete or absent), then its summary.csv row: a record is done when its row is there.
#include "esm_onnx/jobs/fold.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_set>
#include <utility>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/structure.h"
#include "esm_onnx/formats/fasta.h"
#include "esm_onnx/formats/writer.h"
#include "formats/io/csv_table.h"
#include "formats/io/label_names.h"
#include "formats/io/output_file.h"
#include "formats/io/stored_zip.h"
#include "formats/io/writers.h"

namespace esm_onnx {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void FoldOptions::validate() const {
  if (model.empty()) throw UsageError("fold: no model given");
  if (fasta.empty()) throw UsageError("fold: no FASTA file given");
  if (outdir.empty()) throw UsageError("fold: no output folder given");
  if (read_ahead < 1) throw UsageError(fmt::format("--read-ahead {}: at least 1 record", read_ahead));
  request.validate();
  runtime.validate();
  io::refuse_input(outdir, "the output folder", fasta, "the FASTA file");
  io::refuse_input(summary_path(), "the fold summary", fasta, "the FASTA file");
  io::refuse_input(summary_path(), "the fold summary", model, "the model");
}

std::string FoldOptions::summary_path() const {
  return summary_file.empty() ? (fs::path(outdir) / kFoldSummaryFile).string() : summary_file;
}

std::string FoldOptions::to_string() const {
  return fmt::format("model={} fasta={} outdir={} summary={} {} strict={} read_ahead={} {}", model, fasta, outdir,
                     summary_path(), request.to_string(), strict, read_ahead, runtime.to_string());
}

std::string fold_npz_entries_text() {
  return "positions [L, 37, 3], atom_mask [L, 37], plddt [L], plddt_atoms [L, 37], predicted_aligned_error [L, L], "
         "distogram_logits [L, L, 64], residue_index [L], chain_index [L], aatype [L], mean_plddt, ptm, "
         "max_predicted_aligned_error, label, sequence";
}

std::string FoldSummary::to_json() const {
  nlohmann::ordered_json j;
  j["folded"] = folded;
  j["already_present"] = already_present;
  j["skipped"] = nlohmann::json::array();
  for (const auto& s : skipped) j["skipped"].push_back({{"label", s.label}, {"line", s.line}, {"reason", s.reason}});
  j["residues"] = residues;
  j["batches"] = batches;
  j["seconds"] = seconds;
  j["load_seconds"] = load_seconds;
  j["seconds_stem"] = timings.stem;
  j["seconds_trunk"] = timings.trunk;
  j["seconds_host"] = timings.host;
  j["outdir"] = outdir;
  return j.dump();
}

namespace {

std::string number(float v) { return std::isnan(v) ? "nan" : fmt::format("{:.6g}", v); }

void write_npz(const FoldedStructure& f, const std::string& sequence, const std::string& path) {
  // The zip reads each entry's bytes at close(): every one stays alive until then.
  const std::vector<int64_t> shape{f.length};
  auto scalar = [](float v) { return npy_bytes(FloatArray{{}, {v}}); };
  const std::string names[] = {"positions", "atom_mask", "plddt", "plddt_atoms", "predicted_aligned_error",
                               "distogram_logits", "residue_index", "chain_index", "aatype", "mean_plddt", "ptm",
                               "max_predicted_aligned_error", "label", "sequence"};
  const std::string bytes[] = {npy_bytes(f.positions), npy_bytes(f.atom_mask), npy_bytes(f.plddt), npy_bytes(f.plddt_atoms),
                               npy_bytes(f.predicted_aligned_error), npy_bytes(f.distogram_logits),
                               npy_int64_bytes(shape, f.residue_index), npy_int64_bytes(shape, f.chain_index),
                               npy_int64_bytes(shape, f.aatype), scalar(f.mean_plddt), scalar(f.ptm),
                               scalar(f.max_predicted_aligned_error), npy_text_bytes(f.label), npy_text_bytes(sequence)};
  StoredZipWriter zip(path);
  for (std::size_t k = 0; k < std::size(names); ++k) zip.add(names[k] + ".npy", bytes[k].data(), bytes[k].size());
  zip.close();
}

void write_text(const std::string& text, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw FileError(fmt::format("{}: writing failed: {}", path, std::strerror(errno)));
}

// summary.csv: read at the start (the labels already done), appended to as records finish.
class SummaryCsv {
 public:
  explicit SummaryCsv(std::string path) : path_(std::move(path)) {
    io::output_destination(path_, "the fold summary");
    std::error_code ec;
    if (fs::exists(path_, ec)) {
      const CsvTable t = read_csv(path_);
      const std::size_t col = t.column("label", path_);
      for (const auto& r : t.rows) done_.insert(r[col]);
    } else {
      append({"label", "length", "mean_plddt", "ptm", "seconds"});
    }
  }
  bool done(const std::string& label) const { return done_.count(label) > 0; }
  // A record's row (fields[0] its label). A label with a row already (its record changed and was folded again)
  // has that row replaced: the file is rewritten without it first, then renamed into place.
  void append(const std::vector<std::string>& fields) {
    if (done_.count(fields[0])) drop(fields[0]);
    std::ofstream out(path_, std::ios::binary | std::ios::app);
    out << csv_line(fields);
    out.close();
    if (!out) throw FileError(fmt::format("{}: appending a row failed: {}", path_, std::strerror(errno)));
    done_.insert(fields[0]);
  }

 private:
  void drop(const std::string& label) {
    const CsvTable t = read_csv(path_);
    const std::size_t col = t.column("label", path_);
    const std::string tmp = io::scratch_name(path_);
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << csv_line(t.header);
      for (const auto& r : t.rows) {
        if (r[col] != label) out << csv_line(r);
      }
      out.close();
      if (!out) {
        std::remove(tmp.c_str());
        throw FileError(fmt::format("{}: rewriting the summary failed: {}", tmp, std::strerror(errno)));
      }
    }
    io::publish(tmp, path_, "the fold summary");
    done_.erase(label);
  }

  std::string path_;
  std::unordered_set<std::string> done_;
};

}  // namespace

FoldSummary fold_fasta(const FoldOptions& opt, const FoldProgressFn& progress, const MessageFn& message, const FoldedFn& folded) {
  opt.validate();
  const FoldModel model(opt.model, opt.runtime);
  auto s = fold_fasta(model, opt, progress, message, folded);
  s.load_seconds = model.load_seconds();
  s.seconds += s.load_seconds;
  return s;
}

FoldSummary fold_fasta(const FoldModel& model, const FoldOptions& opt, const FoldProgressFn& progress,
                       const MessageFn& message, const FoldedFn& folded_fn) {
  opt.validate();
  const auto t0 = Clock::now();
  FoldSummary summary;
  summary.outdir = opt.outdir;
  FastaReader reader(opt.fasta);
  RecordFiles pdbs(opt.outdir, ".pdb"), npzs(opt.outdir, ".npz");
  SummaryCsv csv(opt.summary_path());
  std::unordered_set<uint64_t> seen;  // label hashes: outputs are keyed by label
  FoldProgress p;
  auto say = [&](MessageKind kind, const std::string& text) {
    if (message) message({kind, text});
  };
  auto skip = [&](const SequenceRecord& r, const std::string& reason) {
    if (opt.strict) throw InputError(fmt::format("{}: record '{}' (line {}): {} (--strict stops at the first bad record)", opt.fasta, r.label, r.line, reason));
    summary.skipped.push_back({r.label, r.line, reason, r.index});
    say(MessageKind::Skipped, fmt::format("skipped {} (line {}): {}", r.label, r.line, reason));
    ++p.records_done;
  };
  bool more = true;
  while (more) {
    std::vector<SequenceRecord> window;
    SequenceRecord r;
    while (static_cast<int64_t>(window.size()) < opt.read_ahead && (more = reader.next(r))) {
      ++p.records_seen;
      if (auto problem = label_path_problem(r.label); !problem.empty()) {
        skip(r, problem);
        continue;
      }
      if (!seen.insert(label_hash(r.label)).second) {
        skip(r, "duplicate label: an earlier record has the same one, and outputs are keyed by label");
        continue;
      }
      if (auto problem = fold_record_problem(r.sequence); !problem.empty()) {
        skip(r, problem);
        continue;
      }
      // Done: its summary row is written last, after both files were renamed into place (the npz holds its label
      // and sequence: a record changed in the FASTA under the same label is folded again; the PDB is plain text,
      // whole once it has its name).
      if (csv.done(r.label) && npzs.exists(r.label, "sequence", r.sequence) &&
          files::path_kind(pdbs.location(r.label)) == files::PathKind::Regular) {
        ++summary.already_present;
        ++p.records_done;
        continue;
      }
      const int64_t need = model.peak_bytes(1, model.folded_length(r.sequence, opt.request), opt.request);
      if (need > model.memory_limit()) {
        skip(r, fmt::format("too long for the memory: folding {} residues needs about {} MB, over the {} MB this "
                            "machine allows (a smaller --chunk-size lowers it)", model.folded_length(r.sequence, opt.request),
                            need >> 20, model.memory_limit() >> 20));
        continue;
      }
      window.push_back(std::move(r));
    }
    // Sorted by folded length; batches by padded residues.
    std::vector<int64_t> lengths;
    for (const auto& w : window) lengths.push_back(model.folded_length(w.sequence, opt.request));
    std::vector<std::size_t> order(window.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
    std::size_t k = 0;
    while (k < order.size()) {
      std::vector<SequenceRecord> batch;
      int64_t longest = 0;
      while (k < order.size()) {
        const int64_t len = lengths[order[k]];
        if (!batch.empty() && len * static_cast<int64_t>(batch.size() + 1) > opt.request.max_tokens_per_batch) break;
        if (!batch.empty() && model.peak_bytes(static_cast<int64_t>(batch.size() + 1), len, opt.request) > model.memory_limit()) break;
        batch.push_back(window[order[k]]);
        longest = std::max(longest, len);
        ++k;
      }
      FoldTimings tm;
      auto results = model.fold_batch(batch, opt.request, &tm);
      ++summary.batches;
      summary.timings.stem += tm.stem;
      summary.timings.trunk += tm.trunk;
      summary.timings.host += tm.host;
      summary.timings.cycles += tm.cycles;
      for (std::size_t b = 0; b < results.size(); ++b) {
        const auto& f = results[b];
        const auto& rec = batch[b];
        npzs.commit(f.label, [&](const std::string& path) { write_npz(f, rec.sequence, path); });
        pdbs.commit(f.label, [&](const std::string& path) { write_text(f.pdb, path); });
        csv.append({f.label, std::to_string(f.length), number(f.mean_plddt), number(f.ptm), fmt::format("{:.3f}", f.seconds)});
        ++summary.folded;
        ++p.records_done;
        const int64_t residues = model.folded_length(rec.sequence, opt.request);
        summary.residues += residues;
        p.residues_done += residues;
        if (folded_fn) folded_fn(f);
      }
      p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      if (progress) progress(p);
    }
  }
  summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return summary;
}

}  // namespace esm_onnx
