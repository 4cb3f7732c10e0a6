// The every-missense-variant job: esm-variants' esm_score_missense_mutations.py. Proteins are read a window at a
// time, sorted by length and their passes batched together; each protein's [L, 20] matrix is written to
// MATRIX_DIR/<seq_id>.npz as soon as its passes ran (so a rerun skips it), and the CSV is assembled from those
// files in the FASTA's order at the end. Memory: the window's sequences and the proteins of the batch in flight.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/formats/fasta.h"
#include "esm_onnx/formats/writer.h"
#include "esm_onnx/jobs/score.h"
#include "formats/io/csv_table.h"
#include "formats/io/label_names.h"
#include "formats/io/npy_read.h"
#include "formats/io/output_file.h"
#include "formats/io/process_tag.h"
#include "formats/io/stored_zip.h"
#include "formats/io/writers.h"
#include "formats/torch/zip_reader.h"
#include "jobs/scoring/passes.h"

namespace esm_onnx {

std::string fasta_id(const std::string& header) {
  const auto start = header.find_first_not_of(" \t");
  if (start == std::string::npos) return header;
  return header.substr(start, header.find_first_of(" \t", start) - start);
}

void MissenseOptions::validate() const {
  if (fasta.empty() || output_csv.empty()) throw UsageError("score: --input-fasta-file and --output-csv-file are required");
  if (read_ahead < 1) throw UsageError(fmt::format("--read-ahead {}: must be at least 1", read_ahead));
  request.validate();
  runtime.validate();
  io::output_destination(output_csv, "--output-csv-file");
  io::check_output_folder(matrices(), matrix_dir.empty() ? "the matrix folder (--output-csv-file + .d)" : "--matrix-dir");
  io::refuse_input(output_csv, "--output-csv-file", fasta, "--input-fasta-file");
  io::refuse_input(output_csv, "--output-csv-file", model, "MODEL");
  if (std::filesystem::path(matrices()).lexically_normal() == std::filesystem::path(output_csv).lexically_normal()) {
    throw UsageError(fmt::format("--matrix-dir {}: the same path as --output-csv-file; give the matrices a folder of their own",
                                 matrix_dir));
  }
}

std::string MissenseOptions::matrices() const { return matrix_dir.empty() ? output_csv + ".d" : matrix_dir; }

namespace {

// What a matrix file holds: the protein's sequence and what computed it (a rerun with another model or tiling
// scores again rather than mixing results).
struct StoredMatrix {
  std::string sequence, provenance;
  FloatArray scores;
};

// A matrix file as this job writes it, every part checked: the sequence, the provenance, and scores.npy a
// little-endian float32 C-order [L, 20] array for that sequence, whole. nullopt for anything else (a file another
// program wrote or changed, a truncated one), which a rerun then scores again.
std::optional<StoredMatrix> read_matrix(const std::string& path) {
  try {
    torchfile::ZipReader zip(path);
    StoredMatrix m;
    m.sequence = io::npy_text(zip.read_all("sequence.npy"));
    m.provenance = io::npy_text(zip.read_all("provenance.npy"));
    const std::string bytes = zip.read_all("scores.npy");
    const auto e = io::parse_npy(bytes);
    const std::size_t want = m.sequence.size() * 20 * sizeof(float);
    const std::string shape = fmt::format("'shape': ({}, 20)", m.sequence.size());
    if (m.sequence.empty() || !e || e->payload.size() != want || e->header.find("'descr': '<f4'") == std::string_view::npos ||
        e->header.find("'fortran_order': False") == std::string_view::npos || e->header.find(shape) == std::string_view::npos) {
      return std::nullopt;
    }
    m.scores.shape = {static_cast<int64_t>(m.sequence.size()), 20};
    m.scores.data.resize(m.sequence.size() * 20);
    std::memcpy(m.scores.data.data(), e->payload.data(), want);
    return m;
  } catch (const Error&) {
    return std::nullopt;
  }
}

struct Job {
  const Model& model;
  const MissenseOptions& opt;
  const std::function<void(const MissenseProgress&)>& progress;
  const MessageFn& message;
  RecordFiles files;
  std::string provenance;
  MissenseSummary sum;
  MissenseProgress prog;
  std::unordered_set<std::string> dropped;  // ids in the order file whose protein was then skipped
  std::string order_path;                  // the ids of the CSV, in the FASTA's order (a pipe is read once)
  std::ofstream order;
  std::chrono::steady_clock::time_point t0{std::chrono::steady_clock::now()};

  Job(const Model& m, const MissenseOptions& o, const std::function<void(const MissenseProgress&)>& p,
      const MessageFn& msg)
      : model(m), opt(o), progress(p), message(msg), files(o.matrices(), ".npz") {
    const Tiling t = resolve_tiling(m.info(), o.request);
    provenance = fmt::format("model sha256 {} ({}, {}, {} compute); wild-type marginals; tiles of {} residues, overlap {}, s {}",
                             m.info().source_sha256, m.info().variant, precision_name(m.info().precision),
                             compute_name(m.engine().compute), o.request.long_sequences == LongSequences::Full ? 0 : t.length,
                             t.min_overlap, t.sharpness);
  }

  void report() {
    prog.tokens = sum.counters.tokens;
    prog.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress) progress(prog);
  }

  void skip(const SequenceRecord& r, const std::string& reason) {
    if (opt.strict) throw InputError(fmt::format("{}: record '{}' (line {}): {}", opt.fasta, r.label, r.line, reason));
    sum.skipped.push_back({r.label, r.line, reason, r.index});
    ++prog.proteins_done;
    if (message) message({MessageKind::Skipped, fmt::format("skipped {}: record '{}' (line {}): {}", opt.fasta, r.label, r.line, reason)});
  }

  void write(const std::string& id, const std::string& sequence, const FloatArray& scores) {
    files.commit(id, [&](const std::string& path) {
      StoredZipWriter zip(path);
      const std::string label = npy_text_bytes(id), seq = npy_text_bytes(sequence), amino_acids = npy_text_bytes(std::string(kMissenseOrder)),
                        prov = npy_text_bytes(provenance), matrix = npy_bytes(scores);
      zip.add("label.npy", label.data(), label.size());
      zip.add("sequence.npy", seq.data(), seq.size());
      zip.add("amino_acids.npy", amino_acids.data(), amino_acids.size());
      zip.add("provenance.npy", prov.data(), prov.size());
      zip.add("scores.npy", matrix.data(), matrix.size());
      zip.close();
    });
  }

  // Scores the proteins of `window` (records already checked), shortest first.
  void run_window(scoring::PassRunner& runner, std::vector<std::pair<SequenceRecord, std::string>>& window) {
    std::stable_sort(window.begin(), window.end(),
                     [](const auto& a, const auto& b) { return a.first.sequence.size() < b.first.sequence.size(); });
    for (auto& [record, id] : window) {
      try {
        scoring::queue_missense(runner, model.info(), opt.request, record.sequence,
                                fmt::format("record '{}' (line {})", record.label, record.line),
                                [this, id = id, seq = record.sequence](FloatArray m) {
                                  write(id, seq, m);
                                  ++sum.scored;
                                  ++prog.proteins_done;
                                });
      } catch (const InputError& e) {
        dropped.insert(id);
        skip(record, e.what());
      } catch (const UsageError& e) {  // --long-sequences full on a protein beyond the model's positions
        dropped.insert(id);
        skip(record, e.what());
      }
    }
    window.clear();
  }

  void run() {
    scoring::PassRunner runner(model, opt.request.toks_per_batch);
    runner.progress = [this](const PassCounters& c, int64_t) {
      sum.counters = c;
      report();
    };
    FastaReader reader(opt.fasta);
    std::error_code ec;
    std::filesystem::create_directories(opt.matrices(), ec);
    for (const auto& e : std::filesystem::directory_iterator(opt.matrices(), ec)) {  // what killed runs left
      const std::string name = e.path().filename().string();
      if (name.rfind(".order-", 0) == 0 && io::is_stale_tag(name.substr(7))) std::filesystem::remove(e.path(), ec);
    }
    order_path = (std::filesystem::path(opt.matrices()) / fmt::format(".order-{}", io::process_tag())).string();
    order.open(order_path, std::ios::trunc);
    if (!order) throw FileError(fmt::format("{}: cannot write in the matrix folder", order_path));
    std::unordered_set<std::string> ids;
    std::vector<std::pair<SequenceRecord, std::string>> window;
    SequenceRecord r;
    while (reader.next(r)) {
      ++prog.proteins_seen;
      std::string id = fasta_id(r.label);
      if (!ids.insert(id).second) {
        skip(r, fmt::format("duplicate seq_id '{}': an earlier record has the same first word, and matrices are keyed by it", id));
        continue;
      }
      if (auto problem = label_path_problem(id); !problem.empty()) {
        skip(r, problem);
        continue;
      }
      if (esm_onnx::files::path_kind(files.location(id)) != esm_onnx::files::PathKind::Missing) {  // damaged ones too, to say so
        auto stored = read_matrix(files.location(id));
        if (stored && stored->sequence == r.sequence && stored->provenance == provenance) {
          ++sum.already_present;
          ++prog.proteins_done;
          order << id << '\n';
          continue;
        }
        if (message) {
          message({MessageKind::Notice, fmt::format("{}: made for {}; scoring record '{}' again", files.location(id),
                              !stored ? "an unreadable or damaged file" : stored->sequence != r.sequence ? "another sequence" : "another model or tiling",
                              r.label)});
        }
      }
      order << id << '\n';
      window.emplace_back(std::move(r), std::move(id));
      r = {};
      if (static_cast<int64_t>(window.size()) >= opt.read_ahead) run_window(runner, window);
    }
    run_window(runner, window);
    runner.flush();
    sum.counters = runner.counters;
    report();
    order.close();
    if (!order) throw FileError(fmt::format("{}: write failed (disk full?)", order_path));
    try {
      write_csv_file();
    } catch (...) {
      std::filesystem::remove(order_path, ec);
      throw;
    }
    std::filesystem::remove(order_path, ec);
  }

  // The CSV, in the FASTA's order, from the matrix files: seq_id, mut_name (wild type, 1-based position, mutant),
  // esm_score; 20 rows per position in esm-variants' order.
  void write_csv_file() {
    io::ScratchFile tmp(opt.output_csv, "--output-csv-file");  // removed on every exit path, and stale ones of this name first
    std::ofstream out(tmp.path(), std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(fmt::format("--output-csv-file {}: cannot create the CSV file: {}", opt.output_csv, std::strerror(errno)));
    out << "seq_id,mut_name,esm_score\n";
    std::ifstream ids(order_path);
    std::string id, line;
    while (std::getline(ids, id)) {
      if (dropped.count(id)) continue;
      auto m = read_matrix(files.location(id));
      if (!m) {
        throw FileError(fmt::format("{}: the matrix of '{}' is missing or was changed while the job ran; run again",
                                    files.location(id), id));
      }
      const std::string quoted = csv_line({id});
      const std::string_view field(quoted.data(), quoted.size() - 1);
      for (std::size_t i = 0; i < m->sequence.size(); ++i) {
        for (std::size_t k = 0; k < kMissenseOrder.size(); ++k) {
          line.clear();
          fmt::format_to(std::back_inserter(line), "{},{}{}{},{}\n", field, m->sequence[i], i + 1, kMissenseOrder[k],
                         m->scores.data[i * 20 + k]);
          out << line;
          ++sum.csv_rows;
        }
      }
    }
    out.flush();
    if (!out) throw FileError(fmt::format("{}: write failed: {}", tmp.path(), std::strerror(errno)));
    out.close();
    tmp.publish("--output-csv-file");
  }
};

MissenseSummary run_job(const Model& model, const MissenseOptions& opt,
                        const std::function<void(const MissenseProgress&)>& progress, const MessageFn& message,
                        double load_seconds) {
  opt.validate();
  scoring::require_language_model(model.info(), model.path());
  if (const auto note = scoring::unused_outputs_note(model.info(), model.path()); !note.empty() && message) message({MessageKind::Notice, note});
  Job job(model, opt, progress, message);
  job.run();
  job.sum.load_seconds = load_seconds;
  job.sum.engine = model.engine();
  job.sum.matrix_dir = opt.matrices();
  job.sum.output_csv = opt.output_csv;
  return job.sum;
}

}  // namespace

MissenseSummary score_missense_file(const MissenseOptions& opt, const std::function<void(const MissenseProgress&)>& progress,
                                    const MessageFn& message) {
  if (opt.model.empty()) throw UsageError("score: MODEL is required");
  opt.validate();
  const Model model(opt.model, opt.runtime);
  return run_job(model, opt, progress, message, model.load_seconds());
}

MissenseSummary score_missense_file(const Model& model, const MissenseOptions& opt,
                                    const std::function<void(const MissenseProgress&)>& progress,
                                    const MessageFn& message) {
  return run_job(model, opt, progress, message, 0.0);
}

}  // namespace esm_onnx
