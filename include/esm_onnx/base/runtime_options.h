#pragma once
// How a converted model is run (RuntimeOptions) and what ended up running it (EngineInfo): the engines'
// own layer (src/runtime) depends on these, not on Model.
#include <string>

#include "esm_onnx/base/options.h"

namespace esm_onnx {

// The most engine threads a run may ask for (--threads, threads=): far above any machine's cores.
inline constexpr int kMaxThreads = 4096;

struct RuntimeOptions {
  int threads{0};  // the engine's threads; 0 = its default (one per core)
  Device device{Device::Cpu};
  Engine engine{kDefaultEngine};
  Compute compute{Compute::Auto};  // OpenVINO: bf16 or fp32; ONNX Runtime computes in the graph's precision
  // OpenVINO's compiled-model cache: empty = $ESM_ONNX_CACHE/openvino, else the user's cache folder
  // ($XDG_CACHE_HOME or ~/.cache)/esm-onnx/openvino. `cache` false: compile at every start.
  std::string cache_dir{};
  bool cache{true};
  // ONNX Runtime: repack every MatMul weight for its GEMM when the session starts (the fastest passes, at the
  // cost of reading and copying all weights first: 40 s for ESMFold's 3B stem on 2 cores). false: the weights
  // stay mapped from the model's file, the session starts at once, and each pass packs what it multiplies;
  // ESMFold's sessions run so (their passes were no slower: the trunk's GEMMs are long, the stem runs once).
  bool packed_weights{true};

  void validate() const;
  std::string to_string() const;  // "threads=0 device=cpu engine=ort compute=auto cache=... packed_weights=..."
};

// What runs a loaded model, with every `auto` resolved.
struct EngineInfo {
  Engine engine{Engine::OnnxRuntime};
  Compute compute{Compute::Fp32};  // Fp32 or Bf16; with ONNX Runtime, the graph's precision says the rest
  std::string version;             // the engine's release
  std::string cache_dir;           // OpenVINO: where compiled models are cached; empty = not cached
  bool from_cache{false};          // OpenVINO: the compiled model came from the cache
  // "ort 1.32.0" or "openvino 2026.4.1-..., bf16 compute, compiled model from the cache"
  std::string to_string() const;
};

}  // namespace esm_onnx
