// `esm-onnx fold`: the fold job with esm-fold's command line as well (-i/--fasta, -o/--pdb, -m/--model-dir,
// --num-recycles, --max-tokens-per-batch, --chunk-size, --cpu-only, --cpu-offload): a log line per record as
// esm-fold prints it, a summary line (or --json), exit 3 when records were skipped.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli.h"
#include "command.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/hub/model_cache.h"
#include "esm_onnx/jobs/fold.h"
#include "options.h"

namespace esm_onnx::cli {
namespace {

// The released model esm-fold folds with when none is named.
constexpr const char* kDefaultFoldModel = "esmfold_v1";
// fair-esm's file of it, in torch hub's checkpoints folder.
constexpr const char* kFairEsmFoldFile = "esmfold_3B_v1.pt";

class FoldCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    auto* f = app.add_subcommand("fold", "Predict structures of the sequences of a FASTA file (esm-fold's job): PDB, npz "
                                         "and summary.csv per record");
    f->add_option("args", positional,
                  "MODEL FASTA OUTDIR, or FASTA OUTDIR with the default model, or none with -i and -o (esm-fold's)")
        ->expected(0, 3);
    f->add_option("-i,--fasta", fasta_flag, "FASTA file (esm-fold's -i)");
    f->add_option("-o,--pdb", outdir_flag, "output folder (esm-fold's -o)");
    f->add_option("-m,--model-dir", model_dir,
                  "where the released model's files are (esm-fold's: torch hub's folder); default: download it");
    f->add_option("--model", model_flag, fmt::format("the model: a converted folding .onnx, an ESMFold checkpoint "
                                                     "(transformers folder) or a released name (default {})", kDefaultFoldModel));
    constexpr auto job = esm_onnx::OptionJob::Fold;
    count_option(f, option_spec("num_recycles", job), opt.request.num_recycles);
    count_option(f, option_spec("chunk_size", job), opt.request.chunk_size);
    count_option(f, option_spec("max_tokens_per_batch", job), opt.request.max_tokens_per_batch);
    count_option(f, option_spec("read_ahead", job), opt.read_ahead);
    flag_option(f, option_spec("strict", job), opt.strict);
    runtime_options(f, opt.runtime, job);
    f->add_flag("--cpu-only", cpu_only, "run on the CPU (esm-fold's flag; the CPU is the default here)");
    f->add_flag("--cpu-offload", cpu_offload, "accepted for esm-fold's command line; weights stay where the engine keeps them");
    flag_option(f, option_spec("progress", job), progress);
    f->add_flag("--json", json, "print the summary as JSON");
    return f;
  }

  int run() override {
    std::string model = model_flag;
    std::vector<std::string> pos = positional;
    if (pos.size() == 3) {
      if (!model.empty()) throw esm_onnx::UsageError("fold: the model is given twice (--model and the first argument)");
      model = pos.front();
      pos.erase(pos.begin());
    }
    if (pos.size() == 2) {
      if (!fasta_flag.empty() || !outdir_flag.empty()) {
        throw esm_onnx::UsageError("fold: FASTA and OUTDIR are given both as arguments and as -i/-o");
      }
      opt.fasta = pos[0];
      opt.outdir = pos[1];
    } else if (pos.empty()) {
      opt.fasta = fasta_flag;
      opt.outdir = outdir_flag;
    } else {
      throw esm_onnx::UsageError("fold: give MODEL FASTA OUTDIR, FASTA OUTDIR, or -i FASTA -o OUTDIR");
    }
    if (opt.fasta.empty()) throw esm_onnx::UsageError("fold: no FASTA file (-i/--fasta)");
    if (opt.outdir.empty()) throw esm_onnx::UsageError("fold: no output folder (-o/--pdb)");
    if (cpu_only && opt.runtime.device == esm_onnx::Device::Cuda) throw esm_onnx::UsageError("fold: --cpu-only and --device cuda");
    if (!model_dir.empty()) {
      // esm-fold's -m: torch hub's folder, where fair-esm keeps checkpoints/esmfold_3B_v1.pt and its stem.
      if (!model.empty()) throw esm_onnx::UsageError("fold: -m/--model-dir and a MODEL; give one of them");
      model = (std::filesystem::path(model_dir) / "checkpoints" / kFairEsmFoldFile).string();
    }
    if (model.empty()) model = kDefaultFoldModel;
    if (cpu_offload) fmt::print(stderr, "notice: --cpu-offload is esm-fold's GPU memory option; it changes nothing here\n");
    opt.model = esm_onnx::cached_model(model, cache_request(esm_onnx::CachedGraph::Everything));
    opt.validate();
    const bool tty = isatty(fileno(stderr)) && progress;
    const esm_onnx::FoldModel fm(opt.model, opt.runtime);
    if (tty) fmt::print(stderr, "{}: loaded in {:.2f} s (stem {})\n", opt.model, fm.load_seconds(), fm.stem_path());
    auto summary = esm_onnx::fold_fasta(
        fm, opt, {}, [&](const esm_onnx::Message& m) { fmt::print(stderr, "{}\n", m.text); },
        [&](const esm_onnx::FoldedStructure& s) {
          if (!json) {
            fmt::print(stderr, "Predicted structure for {} with length {}, pLDDT {:.1f}, pTM {:.3f} in {:.1f}s\n", s.label,
                       s.length, s.mean_plddt, s.ptm, s.seconds);
          }
        });
    summary.load_seconds = fm.load_seconds();
    summary.seconds += summary.load_seconds;
    if (json) {
      fmt::print("{}\n", summary.to_json());
    } else {
      fmt::print("folded {} records ({} residues, {} batches) in {:.3f} s (model loaded in {:.3f} s; stem {:.3f} s, trunk "
                 "{:.3f} s, host {:.3f} s): {} written, {} already present, {} skipped -> {}\n",
                 summary.folded + summary.already_present + static_cast<int64_t>(summary.skipped.size()), summary.residues,
                 summary.batches, summary.seconds, summary.load_seconds, summary.timings.stem, summary.timings.trunk,
                 summary.timings.host, summary.folded, summary.already_present, summary.skipped.size(), summary.outdir);
    }
    return summary.skipped.empty() ? kOk : kSkipped;
  }

 private:
  esm_onnx::FoldOptions opt;
  std::vector<std::string> positional;
  std::string fasta_flag, outdir_flag, model_dir, model_flag;
  bool cpu_only = false, cpu_offload = false, progress = true, json = false;
};

}  // namespace

std::unique_ptr<Command> fold_command() { return std::make_unique<FoldCommand>(); }

}  // namespace esm_onnx::cli
