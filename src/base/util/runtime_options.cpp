// RuntimeOptions' checks and report (include/esm_onnx/base/runtime_options.h), in the layer its header is in.
#include "esm_onnx/base/runtime_options.h"

#include <fmt/format.h>

#include "esm_onnx/base/errors.h"

namespace esm_onnx {

void RuntimeOptions::validate() const {
  if (threads < 0) throw UsageError(fmt::format("--threads {}: must be 0 (the engine's default) or positive", threads));
  // Far above any machine's cores; beyond it the engine's thread pool fails with a bare bad_alloc.
  if (threads > kMaxThreads) throw UsageError(fmt::format("--threads {}: at most {}", threads, kMaxThreads));
}

std::string RuntimeOptions::to_string() const {
  return fmt::format("threads={} device={} engine={} compute={} cache_dir={} cache={} packed_weights={}", threads,
                     device_name(device), engine_name(engine), compute_name(compute),
                     cache_dir.empty() ? "default" : cache_dir, cache, packed_weights);
}

}  // namespace esm_onnx
