#include "options.h"

namespace esm_onnx::cli {

CLI::Option* include_option(CLI::App* app, esm_onnx::EmbedOptions& opt, const std::string& help) {
  return app->add_option_function<std::vector<std::string>>(
      "--include", [&opt](const std::vector<std::string>& v) { opt.request.include = esm_onnx::Includes::parse(v, "--include"); },
      help);
}

void runtime_options(CLI::App* app, esm_onnx::EmbedOptions& opt) {
  count_option(app, "--threads", opt.runtime.threads, "the engine's threads (0: its default, one per core)");
  typed_option(app, "--device", opt.runtime.device, "cpu", esm_onnx::parse_device,
               "cpu, or cuda (needs an ONNX Runtime with CUDA)");
}

}  // namespace esm_onnx::cli
