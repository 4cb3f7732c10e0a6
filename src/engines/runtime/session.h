#pragma once
// A converted model opened for running: its metadata read once (runtime/onnx_header.h) and checked against
// the graph, and the engine the options chose behind it.
#include <memory>
#include <string>
#include <vector>

#include "engines/runtime/engine.h"
#include "esm_onnx/base/model_info.h"
#include "esm_onnx/base/runtime_options.h"

namespace esm_onnx::runtime {

class Session {
 public:
  Session(const std::string& path, const RuntimeOptions& options);
  const ModelInfo& info() const { return info_; }
  const EngineInfo& engine() const { return engine_info_; }
  // tokens: [batch, seq] row-major. Safe to call from several threads at once.
  RunResult run(const std::vector<int64_t>& tokens, int64_t batch, int64_t seq, const std::vector<std::string>& outputs) const {
    return engine_->run(tokens, batch, seq, outputs);
  }

 private:
  void check_against_graph(const std::string& path) const;

  ModelInfo info_;
  EngineInfo engine_info_;
  std::unique_ptr<Backend> engine_;
};

}  // namespace esm_onnx::runtime
