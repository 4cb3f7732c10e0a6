// The CLI: a thin layer over the library. Exceptions become messages and exit codes here only.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

#include "esm_onnx/convert.h"
#include "esm_onnx/download.h"
#include "esm_onnx/embed.h"
#include "esm_onnx/errors.h"
#include "esm_onnx/inspect.h"
#include "esm_onnx/model_cache.h"
#include "esm_onnx/verify.h"
#include "cli.h"
#include "util/numbers.h"
#include "esm_onnx_version.h"
#include "progress.h"

namespace esm_onnx::cli {
namespace {

// CLI11 hands option text over; these turn it into the library's types once.
template <typename T, typename Parse>
CLI::Option* typed_option(CLI::App* app, const std::string& name, T& value, const std::string& text_default,
                          Parse parse, const std::string& help) {
  // Messages name the option by its first spelling ("--toks-per-batch", not "--toks-per-batch,--toks_per_batch").
  const std::string shown = name.substr(0, name.find(','));
  return app
      ->add_option_function<std::string>(name, [&value, parse, shown](const std::string& t) { value = parse(t, shown); }, help)
      ->default_str(text_default);
}

int run_convert(const esm_onnx::ConvertOptions& opt, bool quiet, bool verify, const esm_onnx::RuntimeOptions& verify_runtime) {
  auto log = [&](const std::string& m) {
    if (!quiet && m.rfind("layer ", 0) != 0) fmt::print(stderr, "{}\n", m);
  };
  auto report = esm_onnx::convert(opt, log);
  const auto& cfg = report.config;
  std::string logits = "logits, ";
  if (cfg.head == esm_onnx::OutputHead::None) logits = "no logits, ";
  if (!cfg.labels.empty()) logits = fmt::format("{} logits ({} labels), ", esm_onnx::output_head_name(cfg.head), cfg.labels.size());
  fmt::print("{}: {} {}{} with layers [{}] exported, {}{}{}{}\n", report.output, cfg.variant,
             esm_onnx::precision_name(opt.precision), report.fused ? " fused" : "", fmt::join(report.repr_layers, ", "),
             logits, report.outputs.has(esm_onnx::GraphOutput::Contacts) ? "contacts" : "no contacts",
             report.outputs.has(esm_onnx::GraphOutput::Attentions) ? ", attentions" : "",
             report.external_data ? fmt::format(", weights in {}", report.external_data_file) : "");
  if (verify) {
    esm_onnx::VerifyOptions vo;
    vo.runtime = verify_runtime;
    vo.runtime.engine = opt.engine;
    const auto v = esm_onnx::verify_conversion(opt, vo, log);
    fmt::print("{}\n", v.to_string());
    if (!v.passed) return kError;
  }
  return kOk;
}

std::string summary_json(const esm_onnx::EmbedSummary& s, const esm_onnx::EmbedOptions& opt) {
  nlohmann::ordered_json j;
  j["written"] = s.written;
  j["already_present"] = s.already_present;
  j["skipped"] = nlohmann::json::array();
  for (const auto& k : s.skipped) j["skipped"].push_back({{"label", k.label}, {"line", k.line}, {"reason", k.reason}});
  j["tokens"] = s.tokens;
  j["batches"] = s.batches;
  j["seconds"] = s.seconds;
  j["load_seconds"] = s.load_seconds;
  j["tokens_per_second"] = s.seconds > 0 ? static_cast<double>(s.tokens) / s.seconds : 0.0;
  j["layers"] = s.layers;
  j["outdir"] = s.outdir;
  j["format"] = esm_onnx::format_name(opt.format);
  j["engine"] = esm_onnx::engine_name(s.engine.engine);
  j["engine_version"] = s.engine.version;
  j["compute"] = esm_onnx::compute_name(s.engine.compute);
  j["cache_dir"] = s.engine.cache_dir.empty() ? nlohmann::json() : nlohmann::json(s.engine.cache_dir);
  j["from_cache"] = s.engine.from_cache;
  // Labels and reasons come from the input; invalid UTF-8 is replaced rather than thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

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
      [&](const std::string& m) {
        bar.finish();
        fmt::print(stderr, "{}\n", m);
      });
  summary.load_seconds = model.load_seconds();
  summary.seconds += model.load_seconds();
  bar.finish();
  if (json) {
    fmt::print("{}\n", summary_json(summary, opt));
    return summary.skipped.empty() ? kOk : kSkipped;
  }
  const double rate = summary.seconds > 0 ? static_cast<double>(summary.tokens) / summary.seconds : 0.0;
  fmt::print("embedded {} records ({} tokens, {} batches) in {:.3f} s (model loaded in {:.3f} s), {:.0f} tokens/s: "
             "{} written, {} already present, {} skipped -> {} ({}); engine: {}\n",
             summary.written + summary.already_present + static_cast<int64_t>(summary.skipped.size()), summary.tokens,
             summary.batches, summary.seconds, summary.load_seconds, rate, summary.written, summary.already_present, summary.skipped.size(),
             summary.outdir, esm_onnx::format_name(opt.format), summary.engine.to_string());
  return summary.skipped.empty() ? kOk : kSkipped;
}

// Whole numbers from the command line, refused (not wrapped or clamped) when they do not fit.
template <typename T>
T parse_count(const std::string& text, const std::string& option) {
  const auto v = esm_onnx::text::parse_number<int64_t>(text);
  if (!v || *v < 0 || *v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
    throw esm_onnx::UsageError(fmt::format("{} {}: expected a whole number from 0 to {}", option, text,
                                           std::numeric_limits<T>::max()));
  }
  return static_cast<T>(*v);
}

template <typename T>
CLI::Option* count_option(CLI::App* app, const std::string& name, T& value, const std::string& help) {
  return typed_option(app, name, value, std::to_string(value), parse_count<T>, help)->type_name("N");
}

// What `embed` and `extract` share: the outputs to write and what runs them.
CLI::Option* include_option(CLI::App* app, esm_onnx::EmbedOptions& opt, const std::string& help) {
  return app->add_option_function<std::vector<std::string>>(
      "--include", [&opt](const std::vector<std::string>& v) { opt.include = esm_onnx::Includes::parse(v, "--include"); },
      help);
}

void runtime_options(CLI::App* app, esm_onnx::EmbedOptions& opt) {
  count_option(app, "--threads", opt.runtime.threads, "the engine's threads (0: its default, one per core)");
  typed_option(app, "--device", opt.runtime.device, "cpu", esm_onnx::parse_device,
               "cpu, or cuda (needs an ONNX Runtime with CUDA)");
}

constexpr const char* kCommands[] = {"convert", "embed", "extract", "inspect", "download"};

}  // namespace

int main(int argc, const char* const* argv) {
  if (argc > 1 && argv[1][0] != '-' &&
      std::find_if(std::begin(kCommands), std::end(kCommands), [&](const char* c) { return std::strcmp(c, argv[1]) == 0; }) ==
          std::end(kCommands)) {
    fmt::print(stderr, "error: '{}' is not a command of esm-onnx: use convert, embed, extract, inspect or download (esm-onnx --help)\n", argv[1]);
    return kUsage;
  }
  CLI::App app{"esm-onnx: run Meta's ESM protein language models with ONNX Runtime"};
  app.set_version_flag("--version", std::string("esm-onnx ") + ESM_ONNX_VERSION);
  app.require_subcommand(1);

  esm_onnx::ConvertOptions conv;
  bool no_contacts = false, quiet = false, no_optimize = false, verify = false;
  esm_onnx::RuntimeOptions verify_runtime;
  std::string external = "auto";
  auto* c = app.add_subcommand("convert", "Convert a checkpoint (fair-esm .pt, transformers folder, ESM C) into an ONNX model");
  c->add_option("checkpoint", conv.checkpoint,
                "fair-esm .pt (<stem>-contact-regression.pt beside it is merged), a transformers model folder, an "
                "ESM C .pth; or a released name / hub repository id, downloaded when not cached")->required();
  c->add_option("-o,--output", conv.output, "ONNX model to write")->required();
  c->add_option("--repr-layers", conv.repr_layers,
                "layers the `representations` output holds: fair-esm numbering (0 = embeddings, -1 = last), or all")
      ->capture_default_str();
  c->add_flag("--no-contacts", no_contacts, "leave the contacts output out");
  // One flag per output built only on request (the registry's ConvertRule::OnRequest).
  std::vector<std::pair<esm_onnx::GraphOutput, bool>> on_request;
  for (const auto& spec : esm_onnx::graph_output_specs()) {
    if (spec.convert == esm_onnx::ConvertRule::OnRequest) on_request.emplace_back(spec.id, false);
  }
  for (auto& [id, flag] : on_request) {
    const auto& spec = esm_onnx::graph_output_spec(id);
    c->add_flag(fmt::format("--{}", spec.name), flag, fmt::format("add the {} output: {}", spec.name, spec.layout));
  }
  typed_option(c, "--precision", conv.precision, "fp32", esm_onnx::parse_precision,
               "fp32; fp16 (GPU); int8 (per-channel weights, dynamic activations); int4 (block-quantized weights)");
  c->add_flag("--no-optimize", no_optimize,
              "standard ONNX ops only (no ONNX Runtime fused attention, rotary, skip-layer-norm, bias-gelu)");
  typed_option(c, "--engine", conv.engine, "ort", esm_onnx::parse_engine,
               "the engine the graph is for: ort (ONNX Runtime: every precision, fused ops), or openvino (standard "
               "ops, fp32 weights; --verify runs it on OpenVINO)");
  count_option(c, "--block-size", conv.int4_block, "int4 block size (32 or 128)");
  c->add_option("--external-data", external, "weights in a .data file beside the model: auto (above 1.8 GB), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  c->add_flag("--verify", verify,
              "run the new graph against the fp32 reference on generated sequences: max abs error, cosine of mean "
              "embeddings, logits argmax agreement; exit 1 below the precision's floor");
  count_option(c, "--threads", verify_runtime.threads, "threads for --verify (0: the engine's default)");
  typed_option(c, "--compute", verify_runtime.compute, "auto", esm_onnx::parse_compute,
               "--engine openvino --verify: the compute to verify (auto: bf16 where the CPU has it, fp32)");
  c->add_flag("-q,--quiet", quiet, "print only the result line");

  esm_onnx::EmbedOptions emb;
  bool no_progress = false, embed_json = false;
  auto* e = app.add_subcommand("embed", "Embed the sequences of a FASTA file (the esm-extract job)");
  e->add_option("model", emb.model, "ONNX model from `esm-onnx convert`")->required();
  e->add_option("fasta", emb.fasta, "FASTA file")->required();
  e->add_option("outdir", emb.outdir, "output folder")->required();
  include_option(e, emb, "outputs: any of " + esm_onnx::output_names_text())->default_str("mean");
  e->add_option("--repr-layers,--repr_layers", emb.repr_layers,
                "layers to write (fair-esm numbering, all); default: every layer the model exports");
  count_option(e, "--toks-per-batch,--toks_per_batch", emb.toks_per_batch, "token budget of a batch");
  count_option(e, "--truncation-seq-length,--truncation_seq_length", emb.truncation_seq_length,
                "residues kept per record (0: no truncation)")->capture_default_str();
  typed_option(e, "--format", emb.format, "npz", esm_onnx::parse_output_format,
               "npz (one file per record), pt (esm-extract's), h5 (one file)");
  runtime_options(e, emb);
  typed_option(e, "--engine", emb.runtime.engine, "ort", esm_onnx::parse_engine,
               "ort (ONNX Runtime: every graph), or openvino (graphs from convert --engine openvino)");
  typed_option(e, "--compute", emb.runtime.compute, "auto", esm_onnx::parse_compute,
               "openvino: bf16 or fp32; auto = bf16 where the CPU has AVX512_BF16 or AMX-BF16, else fp32");
  e->add_option("--cache-dir", emb.runtime.cache_dir,
                "openvino: compiled-model cache (default $ESM_ONNX_CACHE/openvino, else ~/.cache/esm-onnx/openvino)");
  e->add_flag("--no-cache", [&](int64_t) { emb.runtime.cache = false; }, "openvino: compile at every start, cache nothing");
  e->add_flag("--strict", emb.strict, "stop at the first bad record instead of skipping it");
  count_option(e, "--window", emb.window, "records read, sorted by length and batched together");
  e->add_flag("--no-progress", no_progress, "no progress bar even on a terminal");
  e->add_flag("--json", embed_json, "print the summary as JSON (engine, compute, load time, counts, skipped records)");

  // esm-extract's command line (fair-esm's scripts/extract.py): its arguments, spellings and defaults, its .pt
  // files; MODEL_LOCATION may be a checkpoint or a released name (converted once into the cache) or an .onnx.
  esm_onnx::EmbedOptions ext;
  ext.format = esm_onnx::OutputFormat::Pt;
  ext.toks_per_batch = 4096;
  ext.repr_layers = {"-1"};
  bool nogpu = false;
  auto* x = app.add_subcommand("extract", "esm-extract's command line: extract representations of a FASTA file's "
                                          "sequences into OUTPUT_DIR/<label>.pt");
  x->add_option("model_location", ext.model,
                "a fair-esm .pt, a released name (esm2_t33_650M_UR50D), a transformers folder, or a converted .onnx")
      ->required();
  x->add_option("fasta_file", ext.fasta, "FASTA file on which to extract representations")->required();
  x->add_option("output_dir", ext.outdir, "output directory for extracted representations")->required();
  count_option(x, "--toks_per_batch,--toks-per-batch", ext.toks_per_batch, "maximum batch size in tokens");
  x->add_option("--repr_layers,--repr-layers", ext.repr_layers,
                "layers indices from which to extract representations (0 to num_layers, inclusive)")
      ->capture_default_str();
  include_option(x, ext, "specify which representations to return: mean per_tok bos contacts (and logits)")->required();
  count_option(x, "--truncation_seq_length,--truncation-seq-length", ext.truncation_seq_length,
               "truncate sequences longer than the given value");
  x->add_flag("--nogpu", nogpu, "do not use GPU even if available (esm-onnx runs on the CPU unless --device cuda)");
  runtime_options(x, ext);
  x->add_flag("--no-progress", no_progress, "no progress bar even on a terminal");

  esm_onnx::DownloadOptions dl;
  auto* d = app.add_subcommand("download", "Fetch released weights into the cache fair-esm or transformers uses");
  d->add_option("name", dl.name, "a fair-esm name (esm2_t33_650M_UR50D, ...), esmc_300m / esmc_600m, or a hub "
                                 "repository id (facebook/esm2_t33_650M_UR50D)")->required();
  d->add_option("--dir", dl.dir, "cache folder instead of torch hub's checkpoints folder or the hub cache");
  d->add_option("--revision", dl.revision, "hub repositories: branch, tag or commit")->capture_default_str();
  d->add_flag("-q,--quiet", quiet, "print only the path");

  std::string inspect_path;
  bool json = false;
  auto* i = app.add_subcommand("inspect", "Describe a fair-esm checkpoint or a converted model");
  i->add_option("file", inspect_path, ".pt or .onnx")->required();
  i->add_flag("--json", json, "print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& err) {
    return app.exit(err) == 0 ? kOk : kUsage;
  } catch (const esm_onnx::UsageError& err) {  // a typed option refused its text
    fmt::print(stderr, "error: {}\n", err.what());
    return kUsage;
  }
  try {
    if (*c) {
      conv.contacts = !no_contacts;
      for (const auto& [id, flag] : on_request) conv.on_request.set(id, flag);
      conv.optimize = !no_optimize;
      conv.external_data = external == "always"  ? esm_onnx::ExternalData::Always
                           : external == "never" ? esm_onnx::ExternalData::Never
                                                 : esm_onnx::ExternalData::Auto;
      // A name is fetched once here, so that --verify's second conversion reads the cached files.
      conv.checkpoint = esm_onnx::resolve_checkpoint(conv.checkpoint, !quiet, [&](const std::string& m) {
        if (!quiet) fmt::print(stderr, "{}\n", m);
      });
      return run_convert(conv, quiet, verify, verify_runtime);
    }
    if (*e) return run_embed(emb, no_progress, embed_json);
    if (*x) {
      if (nogpu) ext.runtime.device = esm_onnx::Device::Cpu;
      ext.model = esm_onnx::cached_model(ext.model, true, [](const std::string& m) { fmt::print(stderr, "{}\n", m); });
      return run_embed(ext, no_progress, false);
    }
    if (*d) {
      dl.progress = !quiet;
      const auto r = esm_onnx::download(dl, [&](const std::string& m) {
        if (!quiet) fmt::print(stderr, "{}\n", m);
      });
      if (!quiet) {
        fmt::print(stderr, "{}: {} file(s), {:.1f} MB fetched{}\n", dl.name, r.files.size(),
                   static_cast<double>(r.bytes_fetched) / 1e6, r.bytes_fetched == 0 ? " (all cached)" : "");
      }
      fmt::print("{}\n", r.path);
      return kOk;
    }
    if (*i) {
      fmt::print("{}", json ? esm_onnx::inspect_json(inspect_path) + "\n" : esm_onnx::inspect_text(inspect_path));
      return kOk;
    }
  } catch (const esm_onnx::UsageError& err) {
    fmt::print(stderr, "error: {}\n", err.what());
    return kUsage;
  } catch (const esm_onnx::Error& err) {
    fmt::print(stderr, "error: {}\n", err.what());
    return kError;
  } catch (const std::bad_alloc&) {
    if (*e || *x) {
      fmt::print(stderr, "error: out of memory: lower --toks-per-batch (or --window), or use a machine with more memory\n");
    } else {
      fmt::print(stderr, "error: out of memory while reading the input; a file this command reads asks for more memory "
                         "than this machine has (a damaged or crafted file, or a model too large for it)\n");
    }
    return kError;
  } catch (const std::exception& err) {
    fmt::print(stderr, "internal error: {} (please report it, with the command line)\n", err.what());
    return kError;
  }
  return kOk;
}

}  // namespace esm_onnx::cli
