#pragma once
// The ONNX Runtime session behind a converted model: one Ort::Env per process, options for
// throughput, input/output names cached, metadata read once.
#include <onnxruntime_cxx_api.h>

#include <memory>
#include <string>
#include <vector>

#include "esm_onnx/model_info.h"
#include "esm_onnx/options.h"

namespace esm_onnx::runtime {

struct RunResult {
  std::vector<Ort::Value> values;  // in the order of the requested names
  std::vector<std::string> names;
  const float* data(const std::string& name, std::vector<int64_t>* shape = nullptr) const;
};

class Session {
 public:
  // CUDA needs an ONNX Runtime built with it; otherwise a UsageError says so.
  Session(const std::string& path, int threads, Device device = Device::Cpu);
  const ModelInfo& info() const { return info_; }
  // tokens: [batch, seq] row-major.
  // Safe to call from several threads at once (ONNX Runtime's Run is).
  RunResult run(const std::vector<int64_t>& tokens, int64_t batch, int64_t seq, const std::vector<std::string>& outputs) const;

 private:
  void check_against_graph(const std::string& path) const;

  std::string path_;
  std::unique_ptr<Ort::Session> session_;
  std::vector<std::string> output_names_;
  ModelInfo info_;
};

}  // namespace esm_onnx::runtime
