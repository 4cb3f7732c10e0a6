// The OpenVINO engine: the standard-op ONNX graph read by OpenVINO's ONNX frontend and compiled for the
// CPU with an explicit inference precision (OpenVINO would pick bf16 on its own on CPUs that have it, and
// that choice must be ours and visible), one stream, and the compiled model cached on disk.
#include <fmt/format.h>

#include <cstdlib>
#include <mutex>
#include <openvino/openvino.hpp>

#include "base/util/cache_root.h"
#include "engines/runtime/compiled_cache.h"
#include "engines/runtime/engine.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::runtime {
namespace {

ov::Core& core() {
  static ov::Core c;
  return c;
}

std::string default_cache_dir() {
  const std::string root = cache_root();
  return root.empty() ? root : root + "/openvino";
}

std::vector<int64_t> dims(const ov::PartialShape& shape) {
  std::vector<int64_t> d;
  for (const auto& dim : shape) d.push_back(dim.is_static() ? dim.get_length() : -1);
  return d;
}

class OpenVinoEngine final : public Backend {
 public:
  OpenVinoEngine(const std::string& path, const RuntimeOptions& options, Compute compute, EngineInfo& info)
      : path_(path) {
    const ov::element::Type wanted = compute == Compute::Bf16 ? ov::element::bf16 : ov::element::f32;
    ov::AnyMap config{ov::hint::inference_precision(wanted),
                      ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY)};
    if (options.threads > 0) config.emplace(ov::inference_num_threads(options.threads));
    // The CPU plugin keeps the kernels it made for each input shape, 5,000 shapes by default; every batch of
    // an embed job has a shape of its own, so memory grew with the input (720 MiB after 200 batches, 990 MiB
    // after 2,000 on a 4-layer model). 100 shapes bound it at no measured cost in speed.
    config.emplace("CPU_RUNTIME_CACHE_CAPACITY", 100);
    if (options.cache) {
      info.cache_dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
      if (!info.cache_dir.empty()) config.emplace(ov::cache_dir(compiled_cache_folder(info.cache_dir, path)));
    }
    try {
      // From the path, not from a model read first: a cached model is then imported without reading the
      // ONNX file at all (150M: 0.9 s and a 1.0 GB peak, against 1.0 s and 1.6 GB when read and hashed).
      compiled_ = core().compile_model(path, "CPU", config);
      request_ = compiled_.create_infer_request();
      // The compute must be the one asked for, cache or not: anything else would change numbers unseen.
      const auto precision = compiled_.get_property(ov::hint::inference_precision);
      if (precision != wanted) {
        throw RuntimeFailure(fmt::format("{}: OpenVINO compiled the model for {} although {} was asked for; run with "
                                         "--no-cache, or --compute {}", path, precision.get_type_name(),
                                         wanted.get_type_name(), precision == ov::element::bf16 ? "bf16" : "fp32"));
      }
      // A tensor can carry several names (the Identity's and its input's); the graph's output is one of them.
      for (const auto& out : compiled_.outputs()) {
        for (const auto& name : out.get_names()) outputs_.push_back({name, dims(out.get_partial_shape())});
      }
      if (!info.cache_dir.empty()) info.from_cache = compiled_.get_property(ov::loaded_from_cache);
    } catch (const ov::Exception& e) {
      throw RuntimeFailure(fmt::format("{}: OpenVINO cannot load the model: {}", path, e.what()));
    }
  }

  const std::vector<EngineOutput>& outputs() const override { return outputs_; }

  RunResult run(const std::vector<int64_t>& tokens, int64_t batch, int64_t seq,
                const std::vector<std::string>& names) const override {
    // The CPU plugin runs every request of a stream on one graph, whose memory holds the outputs of dynamic
    // shapes: a second request would overwrite the first's results (measured: other records' numbers came
    // back). So runs take turns, and each copies its outputs out before the next starts.
    auto owned = std::make_shared<std::vector<std::vector<float>>>();
    owned->reserve(names.size());
    RunResult r;
    std::lock_guard lock(mutex_);
    try {
      // OpenVINO only reads its inputs; the tensor wraps the caller's ids without a copy.
      request_.set_tensor("tokens", ov::Tensor(ov::element::i64, ov::Shape{static_cast<std::size_t>(batch),
                                                                           static_cast<std::size_t>(seq)},
                                               const_cast<int64_t*>(tokens.data())));
      request_.infer();
      for (const auto& name : names) {
        const ov::Tensor t = request_.get_tensor(name);
        if (t.get_element_type() != ov::element::f32) {
          throw RuntimeFailure(fmt::format("{}: output '{}' is {}, not float32: this model was not written by esm-onnx "
                                           "convert; convert the checkpoint again", path_, name, t.get_element_type().get_type_name()));
        }
        std::vector<int64_t> shape;
        for (auto d : t.get_shape()) shape.push_back(static_cast<int64_t>(d));
        const float* data = t.data<const float>();
        owned->emplace_back(data, data + t.get_size());
        r.add(name, std::move(shape), owned->back().data());
      }
    } catch (const ov::Exception& e) {
      throw RuntimeFailure(fmt::format("{}: inference failed on a batch of {} x {} tokens: {}", path_, batch, seq, e.what()));
    }
    r.owner = std::move(owned);
    return r;
  }

 private:
  std::string path_;
  ov::CompiledModel compiled_;
  mutable std::mutex mutex_;
  mutable ov::InferRequest request_;
  std::vector<EngineOutput> outputs_;
};

}  // namespace

std::unique_ptr<Backend> open_openvino(const std::string& path, const RuntimeOptions& options, Compute compute,
                                      EngineInfo& info) {
  info.engine = Engine::OpenVino;
  info.compute = compute;
  info.version = ov::get_openvino_version().buildNumber;
  return std::make_unique<OpenVinoEngine>(path, options, compute, info);
}

}  // namespace esm_onnx::runtime
