#pragma once
// How the commands declare their options: CLI11 hands text over, these parse it into the library's types
// once (messages name the option by its first spelling).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <limits>
#include <optional>
#include <string>

#include "esm_onnx/embed.h"
#include "esm_onnx/errors.h"
#include "esm_onnx/model_cache.h"
#include "util/numbers.h"

namespace esm_onnx::cli {

template <typename T, typename Parse>
CLI::Option* typed_option(CLI::App* app, const std::string& name, T& value, const std::string& text_default,
                          Parse parse, const std::string& help) {
  // Messages name the option by its first spelling ("--toks-per-batch", not "--toks-per-batch,--toks_per_batch").
  const std::string shown = name.substr(0, name.find(','));
  return app
      ->add_option_function<std::string>(name, [&value, parse, shown](const std::string& t) { value = parse(t, shown); }, help)
      ->default_str(text_default);
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

// A count whose default depends on other options (unset until given).
template <typename T>
CLI::Option* count_option(CLI::App* app, const std::string& name, std::optional<T>& value, const std::string& text_default,
                          const std::string& help) {
  return typed_option(app, name, value, text_default,
                      [](const std::string& t, const std::string& o) { return std::optional<T>(parse_count<T>(t, o)); }, help)
      ->type_name("N");
}

// What `embed` and `extract` share: the outputs to write and what runs them.
CLI::Option* include_option(CLI::App* app, esm_onnx::EmbedOptions& opt, const std::string& help);
void runtime_options(CLI::App* app, esm_onnx::RuntimeOptions& runtime);
// --tile-length, --tile-overlap, --tile-sharpness (score and embed).
void tiling_options(CLI::App* app, esm_onnx::TilingOptions& tiling);
// --engine, --compute, --cache-dir, --no-cache.
void engine_options(CLI::App* app, esm_onnx::RuntimeOptions& runtime);
// The model cache as the commands use it: downloads with a progress bar, its lines and notices on stderr.
esm_onnx::CacheRequest cache_request(esm_onnx::CachedGraph graph);

}  // namespace esm_onnx::cli
