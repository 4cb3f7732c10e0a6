#include "runtime/session.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "esm_onnx/errors.h"
#include "runtime/cuda_libraries.h"

namespace esm_onnx::runtime {
namespace {

Ort::Env& env() {
  static Ort::Env e(ORT_LOGGING_LEVEL_ERROR, "esm-onnx");
  return e;
}

}  // namespace

const float* RunResult::data(const std::string& name, std::vector<int64_t>* shape) const {
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (names[k] == name) {
      try {
        const auto info = values[k].GetTensorTypeAndShapeInfo();
        if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
          throw RuntimeFailure(fmt::format("output '{}' is not float32 (element type {}): this model was not written by "
                                           "esm-onnx convert; convert the checkpoint again", name, static_cast<int>(info.GetElementType())));
        }
        if (shape) *shape = info.GetShape();
        return values[k].GetTensorData<float>();
      } catch (const Ort::Exception& e) {
        throw RuntimeFailure(fmt::format("output '{}': ONNX Runtime cannot hand it over: {}", name, e.what()));
      }
    }
  }
  return nullptr;
}

Session::Session(const std::string& path, int threads, Device device) : path_(path) {
  if (std::error_code ec; !std::filesystem::exists(path, ec)) throw FileError(fmt::format("{}: no such model file", path));
  try {
    Ort::SessionOptions so;
    so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    if (threads > 0) {
      so.SetIntraOpNumThreads(threads);
      so.SetInterOpNumThreads(1);
    }
    if (device == Device::Cuda) {
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
        session_ = std::make_unique<Ort::Session>(env(), path.c_str(), so);
      } catch (const Ort::Exception& e) {
        throw RuntimeFailure(fmt::format(
            "--device cuda: ONNX Runtime's CUDA provider could not start ({}). It needs an NVIDIA GPU with its driver "
            "(in a container: run it with --gpus all, or CDI) and the CUDA libraries onnxruntime-gpu was built for; "
            "use --device cpu on a machine without one", e.what()));
      }
    } else {
      session_ = std::make_unique<Ort::Session>(env(), path.c_str(), so);
    }
    Ort::AllocatorWithDefaultOptions alloc;
    for (std::size_t k = 0; k < session_->GetOutputCount(); ++k) {
      output_names_.emplace_back(session_->GetOutputNameAllocated(k, alloc).get());
    }
    Ort::ModelMetadata meta = session_->GetModelMetadata();
    std::map<std::string, std::string> props;
    for (auto& key : meta.GetCustomMetadataMapKeysAllocated(alloc)) {
      props[key.get()] = meta.LookupCustomMetadataMapAllocated(key.get(), alloc).get();
    }
    info_ = ModelInfo::from_metadata(props, path);
    check_against_graph(path);
  } catch (const Ort::Exception& e) {
    throw RuntimeFailure(fmt::format("{}: ONNX Runtime cannot load the model: {}", path, e.what()));
  }
}

// The metadata says what the outputs hold; the graph must agree, or outputs would be written under the
// wrong layer numbers (or not at all) with exit 0.
void Session::check_against_graph(const std::string& path) const {
  auto bad = [&](const std::string& why) {
    return FormatError(fmt::format("{}: the metadata disagrees with the graph: {}; convert the checkpoint again", path, why));
  };
  const auto& layers = info_.repr_layers;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    if (layers[k] < 0 || layers[k] > info_.num_layers) {
      throw bad(fmt::format("esm_onnx.repr_layers names layer {}, outside 0..{}", layers[k], info_.num_layers));
    }
    if (k > 0 && layers[k] <= layers[k - 1]) throw bad("esm_onnx.repr_layers is not in increasing order");
  }
  for (std::size_t k = 0; k < output_names_.size(); ++k) {
    if (output_names_[k] == "logits") {
      const auto shape = session_->GetOutputTypeInfo(k).GetTensorTypeAndShapeInfo().GetShape();
      const bool per_token = info_.head != OutputHead::SequenceClassification;
      const int64_t width = info_.head == OutputHead::LanguageModel ? info_.vocab_size : static_cast<int64_t>(info_.labels.size());
      if (!info_.has_logits) throw bad("the graph has 'logits' but esm_onnx.has_logits says no");
      if (shape.size() != (per_token ? 3u : 2u)) {
        throw bad(fmt::format("'logits' has {} dimensions; a {} head has {}", shape.size(), output_head_name(info_.head),
                              per_token ? 3 : 2));
      }
      if (shape.back() >= 0 && shape.back() != width) {
        throw bad(fmt::format("'logits' is {} wide; the {} head's metadata says {}", shape.back(), output_head_name(info_.head), width));
      }
    }
    if (output_names_[k] != "representations") continue;
    const auto shape = session_->GetOutputTypeInfo(k).GetTensorTypeAndShapeInfo().GetShape();
    if (shape.size() != 4) throw bad(fmt::format("'representations' has {} dimensions, not 4", shape.size()));
    if (shape[0] != static_cast<int64_t>(layers.size())) {
      throw bad(fmt::format("'representations' holds {} layers, esm_onnx.repr_layers lists {}", shape[0], layers.size()));
    }
    if (shape[3] >= 0 && shape[3] != info_.embed_dim) {
      throw bad(fmt::format("'representations' is {} wide, esm_onnx.embed_dim says {}", shape[3], info_.embed_dim));
    }
  }
}

RunResult Session::run(const std::vector<int64_t>& tokens, int64_t batch, int64_t seq,
                       const std::vector<std::string>& outputs) const {
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const int64_t shape[2] = {batch, seq};
  // ONNX Runtime only reads its inputs; the API takes a non-const pointer.
  Ort::Value input = Ort::Value::CreateTensor<int64_t>(mem, const_cast<int64_t*>(tokens.data()), tokens.size(), shape, 2);
  const char* in_names[] = {"tokens"};
  std::vector<const char*> out_names;
  for (const auto& o : outputs) out_names.push_back(o.c_str());
  RunResult r;
  r.names = outputs;
  try {
    r.values = session_->Run(Ort::RunOptions{nullptr}, in_names, &input, 1, out_names.data(), out_names.size());
  } catch (const Ort::Exception& e) {
    throw RuntimeFailure(fmt::format("{}: inference failed on a batch of {} x {} tokens: {}", path_, batch, seq, e.what()));
  }
  return r;
}

}  // namespace esm_onnx::runtime
