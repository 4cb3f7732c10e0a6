// `esm-onnx embed` and `esm-onnx extract` (esm-extract's command line): the embed job with a progress bar
// and a summary line.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "cli.h"
#include "command.h"
#include "esm_onnx/base/outputs.h"
#include "esm_onnx/hub/model_cache.h"
#include "esm_onnx/jobs/embed.h"
#include "options.h"
#include "progress.h"

namespace esm_onnx::cli {
namespace {

int run_embed(const esm_onnx::EmbedOptions& opt, bool no_progress, bool json) {
  const bool tty = isatty(fileno(stderr)) && !no_progress;
  ProgressBar bar(tty ? esm_onnx::cli::count_fasta_records(opt.fasta) : 0, tty);
  // The model is loaded here rather than inside embed() so that the progress header can say what runs it.
  opt.validate();
  const esm_onnx::Model model(opt.model, opt.runtime);
  if (tty) {
    fmt::print(stderr, "{}: {} (loaded in {:.2f} s)\n", opt.model, model.engine().to_string(), model.load_seconds());
  }
  auto summary = esm_onnx::embed(
      model, opt, [&](const esm_onnx::EmbedProgress& p) { bar.update(p); },
      [&](const esm_onnx::Message& m) {
        bar.finish();
        fmt::print(stderr, "{}\n", m.text);
      });
  summary.load_seconds = model.load_seconds();
  summary.seconds += model.load_seconds();
  bar.finish();
  if (json) {
    fmt::print("{}\n", summary.to_json());
    return summary.skipped.empty() ? kOk : kSkipped;
  }
  const double rate = esm_onnx::tokens_per_second(summary.tokens, summary.seconds);
  fmt::print("embedded {} records ({} tokens, {} batches) in {:.3f} s (model loaded in {:.3f} s), {:.0f} tokens/s: "
             "{} written, {} already present, {} skipped -> {} ({}); engine: {}; long records: {}\n",
             summary.written + summary.already_present + static_cast<int64_t>(summary.skipped.size()), summary.tokens,
             summary.batches, summary.seconds, summary.load_seconds, rate, summary.written, summary.already_present, summary.skipped.size(),
             summary.outdir, esm_onnx::format_name(opt.format), summary.engine.to_string(), summary.long_sequences);
  return summary.skipped.empty() ? kOk : kSkipped;
}

class EmbedCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    auto* e = app.add_subcommand("embed", "Embed the sequences of a FASTA file (the esm-extract job)");
    e->add_option("model", emb.model, "ONNX model from `esm-onnx convert`")->required();
    e->add_option("fasta", emb.fasta, "FASTA file")->required();
    e->add_option("outdir", emb.outdir, "output folder")->required();
    const auto& include = option_spec("include", esm_onnx::OptionJob::Embed);
    include_option(e, emb, include.help)->default_str(include.default_text());
    e->add_option("--repr-layers,--repr_layers", emb.repr_layers,
                  "layers to write (fair-esm numbering, all); default: every layer the model exports");
    constexpr auto job = esm_onnx::OptionJob::Embed;
    count_option(e, option_spec("toks_per_batch", job), emb.request.toks_per_batch);
    count_option(e, option_spec("truncation_seq_length", job), emb.request.truncation_seq_length);
    long_sequences_option(e, emb.request.long_sequences);
    tiling_options(e, emb.request.tiling, job);
    typed_option(e, option_spec("format", job), emb.format, esm_onnx::parse_output_format);
    runtime_options(e, emb.runtime, job);
    engine_options(e, emb.runtime, job);
    flag_option(e, option_spec("strict", job), emb.stream.strict);
    count_option(e, option_spec("read_ahead", job), emb.stream.read_ahead);
    flag_option(e, option_spec("progress", job), progress);
    e->add_flag("--json", embed_json, "print the summary as JSON (engine, compute, load time, counts, skipped records)");
    return e;
  }
  int run() override { return run_embed(emb, !progress, embed_json); }
  bool embeds() const override { return true; }

 private:
  esm_onnx::EmbedOptions emb;
  bool progress = true, embed_json = false;
};

// esm-extract's own default (scripts/extract.py), which its command line keeps; `embed` batches smaller.
constexpr int64_t kEsmExtractToksPerBatch = 4096;

// esm-extract's command line (fair-esm's scripts/extract.py): its arguments, spellings and defaults, its .pt
// files; MODEL_LOCATION may be a checkpoint or a released name (converted once into the cache) or an .onnx.
class ExtractCommand final : public Command {
 public:
  ExtractCommand() {
    ext.format = esm_onnx::OutputFormat::Pt;
    ext.request.toks_per_batch = kEsmExtractToksPerBatch;
    ext.request.truncation_seq_length = esm_onnx::kDefaultTruncation;  // esm-extract's, whatever the family
    ext.repr_layers = {"-1"};
  }
  CLI::App* add_to(CLI::App& app) override {
    auto* x = app.add_subcommand("extract", "esm-extract's command line: extract representations of a FASTA file's "
                                            "sequences into OUTPUT_DIR/<label>.pt");
    x->add_option("model_location", ext.model,
                  "a fair-esm .pt, a released name (esm2_t33_650M_UR50D), a transformers folder, or a converted .onnx")
        ->required();
    x->add_option("fasta_file", ext.fasta, "FASTA file on which to extract representations")->required();
    x->add_option("output_dir", ext.outdir, "output directory for extracted representations")->required();
    count_option(x, "--toks_per_batch,--toks-per-batch", ext.request.toks_per_batch, "maximum batch size in tokens");
    x->add_option("--repr_layers,--repr-layers", ext.repr_layers,
                  "layers indices from which to extract representations (0 to num_layers, inclusive)")
        ->capture_default_str();
    include_option(x, ext, "specify which representations to return: mean per_tok bos contacts (and logits)")->required();
    count_option(x, "--truncation_seq_length,--truncation-seq-length", ext.request.truncation_seq_length,
                 std::to_string(esm_onnx::kDefaultTruncation),
                 "truncate sequences longer than the given value");
    x->add_flag("--nogpu", nogpu, "do not use GPU even if available (esm-onnx runs on the CPU unless --device cuda)");
    runtime_options(x, ext.runtime, esm_onnx::OptionJob::Embed);
    flag_option(x, option_spec("progress", esm_onnx::OptionJob::Embed), progress);
    return x;
  }
  int run() override {
    if (nogpu) ext.runtime.device = esm_onnx::Device::Cpu;
    ext.model = esm_onnx::cached_model(ext.model, cache_request(esm_onnx::CachedGraph::Everything));
    return run_embed(ext, !progress, false);
  }
  bool embeds() const override { return true; }

 private:
  esm_onnx::EmbedOptions ext;
  bool nogpu = false, progress = true;
};

}  // namespace

std::unique_ptr<Command> embed_command() { return std::make_unique<EmbedCommand>(); }
std::unique_ptr<Command> extract_command() { return std::make_unique<ExtractCommand>(); }

}  // namespace esm_onnx::cli
