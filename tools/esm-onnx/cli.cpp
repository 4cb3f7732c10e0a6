// The CLI: a thin layer over the library. Each command registers its options in its own file (command.h);
// here they are listed, the command line parsed, and exceptions turned into messages and exit codes.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "cli.h"
#include "command.h"
#include "esm_onnx/errors.h"
#include "esm_onnx_version.h"

namespace esm_onnx::cli {
namespace {

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
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(convert_command());
  commands.push_back(embed_command());
  commands.push_back(extract_command());
  commands.push_back(download_command());
  commands.push_back(inspect_command());
  std::vector<std::pair<CLI::App*, Command*>> chosen;
  for (auto& c : commands) chosen.emplace_back(c->add_to(app), c.get());

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
    fmt::print(stderr, "internal error: {} (please report it, with the command line)\n", err.what());
    return kError;
  }
  return kOk;
}

}  // namespace esm_onnx::cli
