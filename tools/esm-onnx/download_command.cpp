// `esm-onnx download` and `esm-onnx inspect`.
#include <fmt/format.h>

#include <cstdio>

#include "cli.h"
#include "command.h"
#include "esm_onnx/hub/download.h"
#include "esm_onnx/jobs/inspect.h"

namespace esm_onnx::cli {
namespace {

class DownloadCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    auto* d = app.add_subcommand("download", "Fetch released weights into the cache fair-esm or transformers uses");
    d->add_option("name", dl.name, "a fair-esm name (esm2_t33_650M_UR50D, ...), esmc_300m / esmc_600m, or a hub "
                                   "repository id (facebook/esm2_t33_650M_UR50D)")->required();
    d->add_option("--dir", dl.dir, "cache folder instead of torch hub's checkpoints folder or the hub cache");
    d->add_option("--revision", dl.revision, "hub repositories: branch, tag or commit")->capture_default_str();
    d->add_flag("-q,--quiet", quiet, "print only the path");
    return d;
  }
  int run() override {
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

 private:
  esm_onnx::DownloadOptions dl;
  bool quiet = false;
};

class InspectCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    auto* i = app.add_subcommand("inspect", "Describe a fair-esm checkpoint or a converted model");
    i->add_option("file", inspect_path, ".pt or .onnx")->required();
    i->add_flag("--json", json, "print JSON");
    return i;
  }
  int run() override {
    fmt::print("{}", json ? esm_onnx::inspect_json(inspect_path) + "\n" : esm_onnx::inspect_text(inspect_path));
    return kOk;
  }

 private:
  std::string inspect_path;
  bool json = false;
};

}  // namespace

std::unique_ptr<Command> download_command() { return std::make_unique<DownloadCommand>(); }
std::unique_ptr<Command> inspect_command() { return std::make_unique<InspectCommand>(); }

}  // namespace esm_onnx::cli
