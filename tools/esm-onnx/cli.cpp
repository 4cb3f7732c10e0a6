// The CLI: a thin layer over the library. Each command registers its options in its own file (command.h);
// here they are listed, the command line parsed, and exceptions turned into messages and exit codes.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "cli.h"
#include "command.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx_version.h"

namespace esm_onnx::cli {
namespace {

}  // namespace

int main(int argc, const char* const* argv) {
  // A file-size limit (ulimit -f) would kill the process at the first write past it, with no message and its
  // scratch files left; ignored, the write fails with EFBIG and the error boundary names the file.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"esm-onnx: run Meta's ESM protein language models with ONNX Runtime"};
  app.set_version_flag("--version", std::string("esm-onnx ") + ESM_ONNX_VERSION);
  app.require_subcommand(1);
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(convert_command());
  commands.push_back(embed_command());
  commands.push_back(fold_command());
  commands.push_back(extract_command());
  commands.push_back(score_command());
  commands.push_back(download_command());
  commands.push_back(inspect_command());
  std::vector<std::pair<CLI::App*, Command*>> chosen;
  for (auto& c : commands) chosen.emplace_back(c->add_to(app), c.get());
  if (argc > 1 && argv[1][0] != '-' &&
      std::none_of(chosen.begin(), chosen.end(), [&](const auto& c) { return c.first->get_name() == argv[1]; })) {
    std::vector<std::string> names;
    for (const auto& c : chosen) names.push_back(c.first->get_name());
    fmt::print(stderr, "error: '{}' is not a command of esm-onnx: use {} (esm-onnx --help)\n", argv[1], fmt::join(names, ", "));
    return kUsage;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& err) {
    return app.exit(err) == 0 ? kOk : kUsage;
  } catch (const esm_onnx::UsageError& err) {  // a typed option refused its text
    fmt::print(stderr, "error: {}\n", err.what());
    return kUsage;
  }
  Command* command = nullptr;
  for (auto& [sub, c] : chosen) {
    if (*sub) command = c;
  }
  if (command == nullptr) return kOk;
  try {
    return command->run();
  } catch (const esm_onnx::UsageError& err) {
    fmt::print(stderr, "error: {}\n", err.what());
    return kUsage;
  } catch (const esm_onnx::InternalError& err) {
    fmt::print(stderr, "internal error: {} (a bug in esm-onnx: please report it, with the command line)\n", err.what());
    return kInternal;
  } catch (const esm_onnx::Error& err) {
    fmt::print(stderr, "error: {}\n", err.what());
    return kError;
  } catch (const std::bad_alloc&) {
    if (command->embeds()) {
      fmt::print(stderr, "error: out of memory: lower --toks-per-batch (or --window), or use a machine with more memory\n");
    } else {
      fmt::print(stderr, "error: out of memory while reading the input; a file this command reads asks for more memory "
                         "than this machine has (a damaged or crafted file, or a model too large for it)\n");
    }
    return kError;
  } catch (const std::exception& err) {
    fmt::print(stderr, "internal error: {} (a bug in esm-onnx: please report it, with the command line)\n", err.what());
    return kInternal;
  }
  return kOk;
}

}  // namespace esm_onnx::cli
