// `esm-onnx convert`: checkpoint -> ONNX model, and --verify against the fp32 reference.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>
#include <vector>

#include "cli.h"
#include "command.h"
#include "esm_onnx/engines/convert.h"
#include "esm_onnx/hub/download.h"
#include "esm_onnx/jobs/verify.h"
#include "options.h"

namespace esm_onnx::cli {
namespace {

int run_convert(const esm_onnx::ConvertOptions& opt, bool quiet, bool verify, const esm_onnx::RuntimeOptions& verify_runtime) {
  // Each layer written is a Progress message: too many lines for a terminal, so only the steps and notices.
  auto log = [&](const esm_onnx::Message& m) {
    if (!quiet && m.kind != esm_onnx::MessageKind::Progress) fmt::print(stderr, "{}\n", m.text);
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

class ConvertCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    c = app.add_subcommand("convert", "Convert a checkpoint (fair-esm .pt, transformers folder, ESM C) into an ONNX model");
    c->add_option("checkpoint", conv.checkpoint,
                  "fair-esm .pt (<stem>-contact-regression.pt beside it is merged), a transformers model folder, an "
                  "ESM C .pth; or a released name / hub repository id, downloaded when not cached")->required();
    c->add_option("-o,--output", conv.output, "ONNX model to write")->required();
    c->add_option("--repr-layers", conv.repr_layers,
                  "layers the `representations` output holds: fair-esm numbering (0 = embeddings, -1 = last), or all")
        ->capture_default_str();
    constexpr auto job = esm_onnx::OptionJob::Convert;
    flag_option(c, option_spec("contacts", job), conv.contacts);
    // One flag per output built only on request (the registry's ConvertRule::OnRequest).
    for (const auto& spec : esm_onnx::graph_output_specs()) {
      if (spec.convert == esm_onnx::ConvertRule::OnRequest) on_request.emplace_back(spec.id, false);
    }
    for (auto& [id, flag] : on_request) {
      const auto& spec = esm_onnx::graph_output_spec(id);
      c->add_flag(fmt::format("--{}", spec.name), flag, fmt::format("add the {} output: {}", spec.name, spec.layout));
    }
    typed_option(c, option_spec("precision", job), conv.precision, esm_onnx::parse_precision);
    flag_option(c, option_spec("optimize", job), conv.optimize);
    typed_option(c, option_spec("engine", job), conv.engine, esm_onnx::parse_engine);
    count_option(c, option_spec("int4_block", job), conv.int4_block);
    c->add_option("--external-data", external, "weights in a .data file beside the model: auto (above 1.8 GB), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
    c->add_flag("--verify", verify,
                "run the new graph against the fp32 reference on generated sequences: max abs error, cosine of mean "
                "embeddings, logits argmax agreement; exit 1 below the precision's floor");
    count_option(c, "--threads", verify_runtime.threads, "threads for --verify (0: the engine's default)");
    typed_option(c, "--compute", verify_runtime.compute, "auto", esm_onnx::parse_compute,
                 "--engine openvino --verify: the compute to verify (auto: bf16 where the CPU has it, fp32)");
    c->add_flag("-q,--quiet", quiet, "print only the result line");
    return c;
  }

  int run() override {
    for (const auto& [id, flag] : on_request) conv.on_request.set(id, flag);
    conv.external_data = external == "always"  ? esm_onnx::ExternalData::Always
                         : external == "never" ? esm_onnx::ExternalData::Never
                                               : esm_onnx::ExternalData::Auto;
    // A name is fetched once here, so that --verify's second conversion reads the cached files.
    conv.checkpoint = esm_onnx::resolve_checkpoint(conv.checkpoint, !quiet, [&](const std::string& m) {
      if (!quiet) fmt::print(stderr, "{}\n", m);
    });
    return run_convert(conv, quiet, verify, verify_runtime);
  }

 private:
  CLI::App* c{nullptr};
  esm_onnx::ConvertOptions conv;
  bool quiet = false, verify = false;
  esm_onnx::RuntimeOptions verify_runtime;
  std::string external = "auto";
  std::vector<std::pair<esm_onnx::GraphOutput, bool>> on_request;  // the outputs built only on request
};

}  // namespace

std::unique_ptr<Command> convert_command() { return std::make_unique<ConvertCommand>(); }

}  // namespace esm_onnx::cli
