#include "options.h"

namespace esm_onnx::cli {

using esm_onnx::option_spec;
using esm_onnx::OptionJob;

CLI::Option* flag_option(CLI::App* app, const esm_onnx::OptionSpec& spec, bool& value) {
  const bool clears = spec.name().starts_with("--no-");
  return app->add_flag_callback(std::string(spec.flags), [&value, clears] { value = !clears; }, spec.help);
}

CLI::Option* include_option(CLI::App* app, esm_onnx::EmbedOptions& opt, const std::string& help) {
  const auto& row = option_spec("include", OptionJob::Embed);
  return app->add_option_function<std::vector<std::string>>(
      std::string(row.flags),
      [&opt, name = std::string(row.name())](const std::vector<std::string>& v) {
        opt.request.include = esm_onnx::Includes::parse(v, name);
      },
      help);
}

void runtime_options(CLI::App* app, esm_onnx::RuntimeOptions& runtime, OptionJob job) {
  count_option(app, option_spec("threads", job), runtime.threads);
  typed_option(app, option_spec("device", job), runtime.device, esm_onnx::parse_device);
}

void engine_options(CLI::App* app, esm_onnx::RuntimeOptions& runtime, OptionJob job) {
  typed_option(app, option_spec("engine", job), runtime.engine, esm_onnx::parse_engine);
  typed_option(app, option_spec("compute", job), runtime.compute, esm_onnx::parse_compute);
  const auto& dir = option_spec("cache_dir", job);
  app->add_option(std::string(dir.flags), runtime.cache_dir, dir.help);
  flag_option(app, option_spec("cache", job), runtime.cache);
}

void tiling_options(CLI::App* app, esm_onnx::Tiling& tiling, OptionJob job) {
  count_option(app, option_spec("tile_length", job), tiling.length);
  count_option(app, option_spec("tile_overlap", job), tiling.min_overlap);
  typed_option(app, option_spec("tile_sharpness", job), tiling.sharpness, [](const std::string& t, const std::string& o) {
    const auto v = esm_onnx::text::parse_number<double>(t);
    if (!v) throw esm_onnx::UsageError(fmt::format("{} {}: expected a number", o, t));
    return *v;
  });
}

void long_sequences_option(CLI::App* app, std::optional<esm_onnx::LongSequences>& mode) {
  typed_option(app, option_spec("long_sequences", OptionJob::Embed), mode, [](const std::string& t, const std::string& o) {
    return std::optional<esm_onnx::LongSequences>(esm_onnx::parse_long_sequences(t, o));
  });
}

void long_sequences_option(CLI::App* app, esm_onnx::LongSequences& mode) {
  typed_option(app, option_spec("long_sequences", OptionJob::Score), mode, esm_onnx::parse_long_sequences);
}

esm_onnx::CacheRequest cache_request(esm_onnx::CachedGraph graph) {
  auto to_stderr = [](const std::string& m) { fmt::print(stderr, "{}\n", m); };
  return {.graph = graph, .progress = true, .log = to_stderr, .notice = to_stderr};
}

}  // namespace esm_onnx::cli
