// The embed job: an EmbedStream over a FASTA file, its batches handed to a writer on its own thread.
#include "esm_onnx/jobs/embed.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <unordered_set>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/layers.h"
#include "esm_onnx/formats/writer.h"
#include "formats/io/async_writer.h"
#include "formats/io/output_file.h"

namespace esm_onnx {

void EmbedOptions::validate() const {
  if (fasta.empty() || outdir.empty()) throw UsageError("embed: FASTA and OUTDIR are required");
  request.validate();
  stream.validate();
  runtime.validate();
  io::check_output_folder(outdir, "OUTDIR");
}

std::string EmbedOptions::to_string() const {
  return fmt::format("model={} fasta={} outdir={} layers={} {} format={} threads={} device={} engine={} compute={} strict={} "
                     "window={}",
                     model, fasta, outdir, repr_layers.empty() ? "exported" : fmt::format("{}", fmt::join(repr_layers, ",")),
                     request.to_string(), format_name(format), runtime.threads, device_name(runtime.device),
                     engine_name(runtime.engine), compute_name(runtime.compute), stream.strict, stream.read_ahead);
}

namespace {

// The job on a loaded model; `load_seconds` is counted into its time (0 when the caller's model was loaded
// for other jobs too).
EmbedSummary run_job(const Model& model, const EmbedOptions& opt, const ProgressFn& progress, const MessageFn& message,
                     double load_seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() + load_seconds; };

  const ModelInfo& info = model.info();
  EmbedSummary sum;
  sum.load_seconds = load_seconds;
  sum.engine = model.engine();
  sum.outdir = opt.outdir;
  sum.format = opt.format;
  sum.long_sequences = plan_long_sequences(model.info(), opt.request).to_string();
  if (info.precision == Precision::Fp16 && model.options().device == Device::Cpu && message) {
    message({MessageKind::Notice, fmt::format("note: {} is an fp16 graph, meant for GPUs (--device cuda); ONNX Runtime runs it on the CPU too, "
                                              "at about fp32 speed and fp16 fidelity", model.path())});
  }
  EmbedRequest request = opt.request;
  if (opt.request.include.representations() && !opt.repr_layers.empty()) {
    request.repr_layers = resolve_layers(opt.repr_layers, info.num_layers, "--repr-layers");
  }
  model.resolve(request);  // refuse layers and outputs the model lacks before any file is touched

  auto source = fasta_source(opt.fasta);  // a missing FASTA fails before the output folder is made
  AsyncWriter writer(make_writer(opt.format, opt.outdir));
  std::unordered_set<std::string> labels_seen;
  StreamOptions so;
  static_cast<StreamSettings&>(so) = opt.stream;
  so.check = [&](const SequenceRecord& r) -> std::string {
    if (!labels_seen.insert(r.label).second) {
      return "duplicate label: an earlier record has the same one, and outputs are keyed by label";
    }
    return writer.check_label(r.label);
  };
  so.done = [&](const SequenceRecord& r) { return writer.exists(r.label); };
  so.on_skip = [&](const SkippedRecord& s) {
    if (message) message({MessageKind::Skipped, fmt::format("skipped {}: record '{}' (line {}): {}", opt.fasta, s.label, s.line, s.reason)});
  };
  EmbedStream stream(model, *source, request, std::move(so));
  sum.layers = stream.layers();

  EmbedProgress prog;
  auto report = [&] {
    const auto& c = stream.counters();
    prog.records_seen = c.records_seen;
    prog.skipped = static_cast<int64_t>(stream.skipped().size());
    prog.records_done = c.written + c.already_present + prog.skipped;
    prog.tokens_done = c.tokens;
    prog.input_finished = c.input_finished;
    prog.seconds = elapsed();
    if (progress) progress(prog);
  };
  std::vector<RecordOutput> batch;
  while (stream.next(batch)) {
    writer.push(std::move(batch));
    batch = {};
    report();
  }
  writer.close();
  const auto& c = stream.counters();
  sum.written = c.written;
  sum.already_present = c.already_present;
  sum.skipped = stream.skipped();
  sum.tokens = c.tokens;
  sum.batches = c.batches;
  sum.seconds = elapsed();
  report();
  return sum;
}

}  // namespace

EmbedSummary embed(const EmbedOptions& opt, const ProgressFn& progress, const MessageFn& message) {
  if (opt.model.empty()) throw UsageError("embed: MODEL, FASTA and OUTDIR are required");
  opt.validate();
  const Model model(opt.model, opt.runtime);
  return run_job(model, opt, progress, message, model.load_seconds());
}

EmbedSummary embed(const Model& model, const EmbedOptions& opt, const ProgressFn& progress, const MessageFn& message) {
  opt.validate();
  return run_job(model, opt, progress, message, 0.0);
}

std::string EmbedSummary::to_json() const {
  nlohmann::ordered_json j;
  j["written"] = written;
  j["already_present"] = already_present;
  j["skipped"] = nlohmann::json::array();
  for (const auto& k : skipped) j["skipped"].push_back({{"label", k.label}, {"line", k.line}, {"reason", k.reason}});
  j["tokens"] = tokens;
  j["batches"] = batches;
  j["seconds"] = seconds;
  j["load_seconds"] = load_seconds;
  j["tokens_per_second"] = tokens_per_second(tokens, seconds);
  j["layers"] = layers;
  j["outdir"] = outdir;
  j["format"] = format_name(format);
  j["engine"] = engine_name(engine.engine);
  j["engine_version"] = engine.version;
  j["compute"] = compute_name(engine.compute);
  j["cache_dir"] = engine.cache_dir.empty() ? nlohmann::json() : nlohmann::json(engine.cache_dir);
  j["from_cache"] = engine.from_cache;
  j["long_sequences"] = long_sequences;
  // Labels and reasons come from the input; invalid UTF-8 is replaced rather than thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace esm_onnx
