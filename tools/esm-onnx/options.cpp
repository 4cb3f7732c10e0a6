#include "options.h"

namespace esm_onnx::cli {

CLI::Option* include_option(CLI::App* app, esm_onnx::EmbedOptions& opt, const std::string& help) {
  return app->add_option_function<std::vector<std::string>>(
      "--include", [&opt](const std::vector<std::string>& v) { opt.request.include = esm_onnx::Includes::parse(v, "--include"); },
      help);
}

void runtime_options(CLI::App* app, esm_onnx::RuntimeOptions& runtime) {
  count_option(app, "--threads", runtime.threads, "the engine's threads (0: its default, one per core)");
  typed_option(app, "--device", runtime.device, "cpu", esm_onnx::parse_device,
               "cpu, or cuda (needs an ONNX Runtime with CUDA)");
}

void engine_options(CLI::App* app, esm_onnx::RuntimeOptions& runtime) {
  typed_option(app, "--engine", runtime.engine, "ort", esm_onnx::parse_engine,
               "ort (ONNX Runtime: every graph), or openvino (graphs from convert --engine openvino)");
  typed_option(app, "--compute", runtime.compute, "auto", esm_onnx::parse_compute,
               "openvino: bf16 or fp32; auto = bf16 where the CPU has AVX512_BF16 or AMX-BF16, else fp32");
  app->add_option("--cache-dir", runtime.cache_dir,
                  "openvino: compiled-model cache (default $ESM_ONNX_CACHE/openvino, else ~/.cache/esm-onnx/openvino)");
  app->add_flag("--no-cache", [&runtime](int64_t) { runtime.cache = false; }, "openvino: compile at every start, cache nothing");
}

void tiling_options(CLI::App* app, esm_onnx::TilingOptions& tiling) {
  count_option(app, "--tile-length", tiling.window,
               "residues per tile (default: 1022, ESM C 2048, at most what the model's positions take)")
      ->default_str("model");
  count_option(app, "--tile-overlap", tiling.min_overlap, "residues neighbouring tiles share at least");
  typed_option(app, "--tile-sharpness", tiling.sharpness, "20",
               [](const std::string& t, const std::string& o) {
                 const auto v = esm_onnx::text::parse_number<double>(t);
                 if (!v) throw esm_onnx::UsageError(fmt::format("{} {}: expected a number", o, t));
                 return *v;
               },
               "s of the tiles' sigmoid edge weights");
}

esm_onnx::CacheRequest cache_request(esm_onnx::CachedGraph graph) {
  auto to_stderr = [](const std::string& m) { fmt::print(stderr, "{}\n", m); };
  return {.graph = graph, .progress = true, .log = to_stderr, .notice = to_stderr};
}

}  // namespace esm_onnx::cli
