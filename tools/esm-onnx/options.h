#pragma once
// How the commands declare their options: CLI11 hands text over, these parse it into the library's types
// once (messages name the option by its first spelling).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <limits>
#include <optional>
#include <string>

#include "base/util/numbers.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/option_specs.h"
#include "esm_onnx/hub/model_cache.h"
#include "esm_onnx/jobs/embed.h"

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

// The shared options (esm_onnx/option_specs.h), registered from their rows: spellings, help and default text.
// (extract keeps esm-extract's own spellings and help, so it registers its options by text.)
template <typename T>
CLI::Option* count_option(CLI::App* app, const esm_onnx::OptionSpec& spec, T& value) {
  return typed_option(app, std::string(spec.flags), value, spec.default_text(), parse_count<T>, spec.help)->type_name("N");
}
template <typename T>
CLI::Option* count_option(CLI::App* app, const esm_onnx::OptionSpec& spec, std::optional<T>& value) {
  return count_option(app, std::string(spec.flags), value, spec.default_text(), spec.help);
}
template <typename T, typename Parse>
CLI::Option* typed_option(CLI::App* app, const esm_onnx::OptionSpec& spec, T& value, Parse parse) {
  return typed_option(app, std::string(spec.flags), value, spec.default_text(), parse, spec.help);
}
// A flag: --x sets `value`, a row spelled --no-x (default true) clears it.
CLI::Option* flag_option(CLI::App* app, const esm_onnx::OptionSpec& spec, bool& value);

// What `embed` and `extract` share: the outputs to write and what runs them.
CLI::Option* include_option(CLI::App* app, esm_onnx::EmbedOptions& opt, const std::string& help);
// --threads, --device.
void runtime_options(CLI::App* app, esm_onnx::RuntimeOptions& runtime, esm_onnx::OptionJob job);
// --tile-length, --tile-overlap, --tile-sharpness (score and embed).
void tiling_options(CLI::App* app, esm_onnx::Tiling& tiling, esm_onnx::OptionJob job);
// --long-sequences, as each job takes it (embed: unset means the model's).
void long_sequences_option(CLI::App* app, std::optional<esm_onnx::LongSequences>& mode);
void long_sequences_option(CLI::App* app, esm_onnx::LongSequences& mode);
// --engine, --compute, --cache-dir, --no-cache.
void engine_options(CLI::App* app, esm_onnx::RuntimeOptions& runtime, esm_onnx::OptionJob job);
// The model cache as the commands use it: downloads with a progress bar, its lines and notices on stderr.
esm_onnx::CacheRequest cache_request(esm_onnx::CachedGraph graph);

}  // namespace esm_onnx::cli
