#pragma once
// The small interface both engines implement: run one padded batch of token ids, hand back float outputs
// by name. ONNX Runtime runs every graph convert writes; OpenVINO runs the standard-op ones.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "esm_onnx/base/runtime_options.h"

namespace esm_onnx::runtime {

// The outputs of one run, by name. The arrays belong to `owner` (the engine's own result buffers), so a
// RunResult is valid until it is destroyed, whatever the engine runs next.
class RunResult {
 public:
  void add(std::string name, std::vector<int64_t> shape, const float* data);
  // nullptr when `name` was not asked for.
  const float* data(const std::string& name, std::vector<int64_t>* shape = nullptr) const;

  std::shared_ptr<void> owner;

 private:
  struct Output {
    std::string name;
    std::vector<int64_t> shape;
    const float* data;
  };
  std::vector<Output> outputs_;
};

// An output as the graph declares it: -1 where a dimension is dynamic.
struct EngineOutput {
  std::string name;
  std::vector<int64_t> shape;
};

// One engine, behind Session.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual const std::vector<EngineOutput>& outputs() const = 0;
  // tokens: [batch, seq] row-major. Safe to call from several threads at once.
  virtual RunResult run(const std::vector<int64_t>& tokens, int64_t batch, int64_t seq,
                        const std::vector<std::string>& outputs) const = 0;
};

// `info` receives the engine's name, version, compute and cache.
std::unique_ptr<Backend> open_onnxruntime(const std::string& path, const RuntimeOptions& options, EngineInfo& info);
// `compute` is resolved (Fp32 or Bf16). UsageError when esm-onnx was built without OpenVINO.
std::unique_ptr<Backend> open_openvino(const std::string& path, const RuntimeOptions& options, Compute compute,
                                      EngineInfo& info);

}  // namespace esm_onnx::runtime
