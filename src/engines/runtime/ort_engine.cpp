// The ONNX Runtime engine: one Ort::Env per process, options for throughput, the CUDA provider on request.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <onnxruntime_cxx_api.h>

#include <algorithm>

#include "engines/runtime/cuda_libraries.h"
#include "engines/runtime/engine.h"
#include "engines/runtime/ort_session.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/model_info.h"

namespace esm_onnx::runtime {
namespace {

Ort::Env& env_instance() {
  // Only fatal lines: every failure ONNX Runtime reports reaches the caller as our typed error, naming the
  // model and batch, so its own (coloured) log line on stderr would say it twice.
  static Ort::Env e(ORT_LOGGING_LEVEL_FATAL, "esm-onnx");
  return e;
}
Ort::Env& env() { return env_instance(); }

std::unique_ptr<Ort::Session> open_cuda(const std::string& path, Ort::SessionOptions& so) {
  const auto providers = Ort::GetAvailableProviders();
  if (std::find(providers.begin(), providers.end(), "CUDAExecutionProvider") == providers.end()) {
    throw UsageError(fmt::format("--device cuda: this ONNX Runtime ({}) has no CUDA execution provider (it has: {}); "
                                 "build against onnxruntime-gpu (ONNXRUNTIME_ROOT) or use --device cpu",
                                 Ort::GetVersionString(), fmt::join(providers, ", ")));
  }
  preload_cuda_libraries();
  env();  // the provider logs through ONNX Runtime's default logger, which the environment registers
  try {
    OrtCUDAProviderOptionsV2* cuda = nullptr;
    Ort::ThrowOnError(Ort::GetApi().CreateCUDAProviderOptions(&cuda));
    std::unique_ptr<OrtCUDAProviderOptionsV2, void (*)(OrtCUDAProviderOptionsV2*)> guard(
        cuda, Ort::GetApi().ReleaseCUDAProviderOptions);
    so.AppendExecutionProvider_CUDA_V2(*cuda);
    return std::make_unique<Ort::Session>(env(), path.c_str(), so);
  } catch (const Ort::Exception& e) {
    throw RuntimeFailure(fmt::format(
        "--device cuda: ONNX Runtime's CUDA provider could not start ({}). It needs an NVIDIA GPU with its driver "
        "(in a container: run it with --gpus all, or CDI) and the CUDA libraries onnxruntime-gpu was built for; "
        "use --device cpu on a machine without one", e.what()));
  }
}

class OrtEngine final : public Backend {
 public:
  OrtEngine(const std::string& path, const RuntimeOptions& options) : path_(path) {
    try {
      session_ = open_ort_session(path, options);
      Ort::AllocatorWithDefaultOptions alloc;
      for (std::size_t k = 0; k < session_->GetOverridableInitializerCount(); ++k) {
        if (std::string(session_->GetOverridableInitializerNameAllocated(k, alloc).get()) == kContactsWantedInput) gated_contacts_ = true;
      }
      for (std::size_t k = 0; k < session_->GetOutputCount(); ++k) {
        outputs_.push_back({session_->GetOutputNameAllocated(k, alloc).get(),
                            session_->GetOutputTypeInfo(k).GetTensorTypeAndShapeInfo().GetShape()});
      }
    } catch (const Ort::Exception& e) {
      throw RuntimeFailure(fmt::format("{}: ONNX Runtime cannot load the model: {}", path, e.what()));
    }
  }

  const std::vector<EngineOutput>& outputs() const override { return outputs_; }

  RunResult run(const std::vector<int64_t>& tokens, int64_t batch, int64_t seq,
                const std::vector<std::string>& names) const override {
    auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    const int64_t shape[2] = {batch, seq};
    // ONNX Runtime only reads its inputs; the API takes a non-const pointer.
    std::vector<Ort::Value> inputs;
    inputs.push_back(Ort::Value::CreateTensor<int64_t>(mem, const_cast<int64_t*>(tokens.data()), tokens.size(), shape, 2));
    std::vector<const char*> in_names{"tokens"};
    // A fused model with contacts computes them only when fed true (its default, for other callers).
    bool wanted = std::find(names.begin(), names.end(), graph_output_spec(GraphOutput::Contacts).name) != names.end();
    if (gated_contacts_) {
      inputs.push_back(Ort::Value::CreateTensor<bool>(mem, &wanted, 1, nullptr, 0));
      in_names.push_back(kContactsWantedInput);
    }
    std::vector<const char*> out_names;
    for (const auto& o : names) out_names.push_back(o.c_str());
    auto values = std::make_shared<std::vector<Ort::Value>>();
    RunResult r;
    try {
      *values = session_->Run(Ort::RunOptions{nullptr}, in_names.data(), inputs.data(), inputs.size(), out_names.data(),
                              out_names.size());
      for (std::size_t k = 0; k < names.size(); ++k) {
        const auto info = (*values)[k].GetTensorTypeAndShapeInfo();
        if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
          throw RuntimeFailure(fmt::format("{}: output '{}' is not float32 (element type {}): this model was not written "
                                           "by esm-onnx convert; convert the checkpoint again", path_, names[k],
                                           static_cast<int>(info.GetElementType())));
        }
        r.add(names[k], info.GetShape(), (*values)[k].GetTensorData<float>());
      }
    } catch (const Ort::Exception& e) {
      throw RuntimeFailure(fmt::format("{}: inference failed on a batch of {} x {} tokens: {}", path_, batch, seq, e.what()));
    }
    r.owner = std::move(values);
    return r;
  }

 private:
  std::string path_;
  std::unique_ptr<Ort::Session> session_;
  std::vector<EngineOutput> outputs_;
  bool gated_contacts_{false};  // the graph has kContactsWantedInput
};

}  // namespace

std::unique_ptr<Ort::Session> open_ort_session(const std::string& path, const RuntimeOptions& options) {
  Ort::SessionOptions so;
  so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  if (!options.packed_weights) so.AddConfigEntry("session.disable_prepacking", "1");
  if (options.threads > 0) {
    so.SetIntraOpNumThreads(options.threads);
    so.SetInterOpNumThreads(1);
  }
  return options.device == Device::Cuda ? open_cuda(path, so) : std::make_unique<Ort::Session>(env(), path.c_str(), so);
}

std::unique_ptr<Backend> open_onnxruntime(const std::string& path, const RuntimeOptions& options, EngineInfo& info) {
  info.engine = Engine::OnnxRuntime;
  info.compute = Compute::Fp32;
  info.version = Ort::GetVersionString();
  return std::make_unique<OrtEngine>(path, options);
}

}  // namespace esm_onnx::runtime
