#pragma once
// One subcommand of esm-onnx: it registers its options on the app, and runs when the command line chose it.
// cli.cpp lists them, parses, and turns errors into exit codes; each command lives in a file of its own.
#include <CLI/CLI.hpp>

#include <memory>

namespace esm_onnx::cli {

class Command {
 public:
  virtual ~Command() = default;
  virtual CLI::App* add_to(CLI::App& app) = 0;
  virtual int run() = 0;
  // Whether the command embeds: its out-of-memory advice then names the batch options.
  virtual bool embeds() const { return false; }
};

std::unique_ptr<Command> convert_command();   // convert_command.cpp
std::unique_ptr<Command> embed_command();     // embed_command.cpp
std::unique_ptr<Command> extract_command();   // embed_command.cpp: esm-extract's command line
std::unique_ptr<Command> download_command();  // download_command.cpp
std::unique_ptr<Command> inspect_command();   // download_command.cpp
std::unique_ptr<Command> score_command();     // score_command.cpp
std::unique_ptr<Command> fold_command();      // fold_command.cpp

}  // namespace esm_onnx::cli
