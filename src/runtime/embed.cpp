// The esm-extract loop: read a window of records, tokenize, sort and batch, run, slice, write.
#include "esm_onnx/embed.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <unordered_set>

#include "esm_onnx/batching.h"
#include "esm_onnx/errors.h"
#include "esm_onnx/fasta.h"
#include "esm_onnx/layers.h"
#include "esm_onnx/writer.h"
#include "io/async_writer.h"
#include "runtime/session.h"

namespace esm_onnx {

namespace {
const std::set<std::string> kIncludes = {"mean", "per_tok", "bos", "contacts", "logits"};

struct Pending {
  std::string label;
  int64_t line{0};
  std::vector<int64_t> ids;  // residue tokens after truncation
};
}  // namespace

void EmbedOptions::validate() const {
  if (model.empty() || fasta.empty() || outdir.empty()) throw UsageError("embed: MODEL, FASTA and OUTDIR are required");
  if (include.empty()) throw UsageError("--include: name at least one of mean per_tok bos contacts logits");
  for (const auto& i : include) {
    if (!kIncludes.count(i)) {
      throw UsageError(fmt::format("--include {}: unknown output (use any of mean per_tok bos contacts logits)", i));
    }
  }
  if (toks_per_batch <= 0) throw UsageError(fmt::format("--toks-per-batch {}: must be positive", toks_per_batch));
  if (truncation_seq_length < 0) {
    throw UsageError(fmt::format("--truncation-seq-length {}: must be 0 (no truncation) or positive", truncation_seq_length));
  }
  if (threads < 0) throw UsageError(fmt::format("--threads {}: must be 0 (default) or positive", threads));
  if (window <= 0) throw UsageError(fmt::format("--window {}: must be positive", window));
  parse_output_format(format);
}

std::string EmbedOptions::to_string() const {
  return fmt::format("model={} fasta={} outdir={} include={} repr_layers={} toks_per_batch={} "
                     "truncation_seq_length={} format={} threads={} device={} strict={} window={}",
                     model, fasta, outdir, fmt::join(include, ","), repr_layers.empty() ? "exported" : fmt::format("{}", fmt::join(repr_layers, ",")),
                     toks_per_batch, truncation_seq_length, format, threads, device, strict, window);
}

EmbedSummary embed(const EmbedOptions& opt, const ProgressFn& progress, const MessageFn& message) {
  opt.validate();
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  auto has = [&](const char* what) { return std::find(opt.include.begin(), opt.include.end(), what) != opt.include.end(); };

  runtime::Session session(opt.model, opt.threads, opt.device);
  const ModelInfo& info = session.info();
  const Alphabet alphabet = info.make_alphabet();

  EmbedSummary sum;
  sum.load_seconds = elapsed();
  if (info.precision == "fp16" && opt.device == "cpu" && message) {
    message(fmt::format("note: {} is an fp16 graph, meant for GPUs (--device cuda); ONNX Runtime runs it on the CPU too, "
                        "at about fp32 speed and fp16 fidelity", opt.model));
  }
  sum.outdir = opt.outdir;
  // Resolved once: the per-record loop below is the hot path.
  const bool want_mean = has("mean"), want_per_tok = has("per_tok"), want_bos = has("bos");
  const bool want_logits = has("logits"), want_contacts = has("contacts");
  const bool want_repr = want_mean || want_per_tok || want_bos;
  if (want_repr) {
    sum.layers = opt.repr_layers.empty() ? info.repr_layers : resolve_layers(opt.repr_layers, info.num_layers, "--repr-layers");
    for (auto l : sum.layers) {
      if (std::find(info.repr_layers.begin(), info.repr_layers.end(), l) == info.repr_layers.end()) {
        throw UsageError(fmt::format("--repr-layers: layer {} was not exported into {} (it holds layers {}); convert "
                                     "again with --repr-layers including it", l, opt.model, join_layers(info.repr_layers)));
      }
    }
  }
  if (want_contacts && !info.has_contacts) {
    throw UsageError(fmt::format("--include contacts: {} has no contacts output (converted without a contact-regression "
                                 "file, or with --no-contacts)", opt.model));
  }
  std::vector<std::string> outputs;
  if (want_repr) outputs.emplace_back("representations");
  if (want_logits) outputs.emplace_back("logits");
  if (want_contacts) outputs.emplace_back("contacts");

  AsyncWriter writer(make_writer(parse_output_format(opt.format), opt.outdir));
  FastaReader reader(opt.fasta);
  std::unordered_set<std::string> labels_seen;
  EmbedProgress prog;
  auto report = [&] {
    prog.seconds = elapsed();
    if (progress) progress(prog);
  };
  auto skip = [&](const std::string& label, int64_t line, const std::string& reason) {
    const std::string msg = fmt::format("{}: record '{}' (line {}): {}", opt.fasta, label, line, reason);
    if (opt.strict) throw InputError(msg + " (--strict stops at the first bad record)");
    if (message) message("skipped " + msg);
    sum.skipped.push_back({label, line, reason});
    ++prog.skipped;
    ++prog.records_done;
  };

  const int64_t max_res = info.max_residues();
  const int64_t n_bos = alphabet.prepend_bos() ? 1 : 0;
  const int64_t n_eos = alphabet.append_eos() ? 1 : 0;
  std::vector<int64_t> layer_index;  // position of each wanted layer inside `representations`
  for (auto l : sum.layers) {
    layer_index.push_back(std::find(info.repr_layers.begin(), info.repr_layers.end(), l) - info.repr_layers.begin());
  }

  FastaRecord rec;
  bool more = true;
  while (more) {
    std::vector<Pending> window;
    while (static_cast<int64_t>(window.size()) < opt.window && (more = reader.next(rec))) {
      ++prog.records_seen;
      if (!labels_seen.insert(rec.label).second) {
        skip(rec.label, rec.line, "duplicate label: an earlier record has the same one, and outputs are keyed by label");
        continue;
      }
      if (auto why = writer.check_label(rec.label); !why.empty()) {
        skip(rec.label, rec.line, why);
        continue;
      }
      std::vector<int64_t> ids;
      try {
        ids = alphabet.encode(rec.sequence);
      } catch (const InputError& e) {
        skip(rec.label, rec.line, e.what());
        continue;
      }
      if (ids.empty()) {
        skip(rec.label, rec.line, "no residues");
        continue;
      }
      if (opt.truncation_seq_length > 0 && static_cast<int64_t>(ids.size()) > opt.truncation_seq_length) {
        ids.resize(static_cast<std::size_t>(opt.truncation_seq_length));
      }
      if (max_res > 0 && static_cast<int64_t>(ids.size()) > max_res) {
        skip(rec.label, rec.line, fmt::format("{} residues, more than {} allows ({}); lower --truncation-seq-length "
                                              "to at most {} to embed its first {} residues",
                                              ids.size(), info.variant, max_res, max_res, max_res));
        continue;
      }
      if (writer.exists(rec.label)) {
        ++sum.already_present;
        ++prog.records_done;
        continue;
      }
      window.push_back({rec.label, rec.line, std::move(ids)});
    }
    prog.input_finished = !more;
    report();

    std::vector<int64_t> lengths;
    for (const auto& p : window) lengths.push_back(static_cast<int64_t>(p.ids.size()));
    for (const auto& batch : make_batches(lengths, opt.toks_per_batch, 1)) {
      const int64_t B = static_cast<int64_t>(batch.size());
      std::vector<const std::vector<int64_t>*> rows;
      for (auto i : batch) rows.push_back(&window[i].ids);
      int64_t T = 0;
      auto tokens = alphabet.pad_batch(rows, T);
      auto result = session.run(tokens, B, T, outputs);
      std::vector<int64_t> rshape, lshape, cshape;
      const float* reps = want_repr ? result.data("representations", &rshape) : nullptr;
      const float* logits = want_logits ? result.data("logits", &lshape) : nullptr;
      const float* contacts = want_contacts ? result.data("contacts", &cshape) : nullptr;
      ++sum.batches;
      std::vector<RecordOutput> done;
      for (int64_t b = 0; b < B; ++b) {
        const Pending& p = window[batch[b]];
        const int64_t L = static_cast<int64_t>(p.ids.size());
        RecordOutput out;
        out.label = p.label;
        out.length = L;
        if (reps) {
          const int64_t E = rshape[3];
          for (std::size_t k = 0; k < sum.layers.size(); ++k) {
            const float* base = reps + ((layer_index[k] * B + b) * T) * E;
            if (want_per_tok) {
              out.representations[sum.layers[k]] = {{L, E}, std::vector<float>(base + n_bos * E, base + (n_bos + L) * E)};
            }
            if (want_mean) {
              std::vector<double> acc(static_cast<std::size_t>(E), 0.0);
              for (int64_t t = 0; t < L; ++t) {
                for (int64_t e = 0; e < E; ++e) acc[e] += base[(n_bos + t) * E + e];
              }
              FloatArray m{{E}, std::vector<float>(static_cast<std::size_t>(E))};
              for (int64_t e = 0; e < E; ++e) m.data[e] = static_cast<float>(acc[e] / static_cast<double>(L));
              out.mean_representations[sum.layers[k]] = std::move(m);
            }
            if (want_bos) out.bos_representations[sum.layers[k]] = {{E}, std::vector<float>(base, base + E)};
          }
        }
        if (logits) {
          const int64_t V = lshape[2];
          const float* base = logits + (b * T + n_bos) * V;
          out.logits = FloatArray{{L, V}, std::vector<float>(base, base + L * V)};
        }
        if (contacts) {
          const int64_t C = cshape[1];
          FloatArray c{{L, L}, std::vector<float>(static_cast<std::size_t>(L * L))};
          for (int64_t i = 0; i < L; ++i) {
            std::copy(contacts + (b * C + i) * C, contacts + (b * C + i) * C + L, c.data.begin() + i * L);
          }
          out.contacts = std::move(c);
        }
        done.push_back(std::move(out));
        ++sum.written;
        ++prog.records_done;
        prog.tokens_done += L + n_bos + n_eos;
        sum.tokens += L + n_bos + n_eos;
      }
      writer.push(std::move(done));
      report();
    }
  }
  writer.close();
  sum.seconds = elapsed();
  prog.input_finished = true;
  report();
  return sum;
}

}  // namespace esm_onnx
