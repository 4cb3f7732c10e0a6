// The OpenVINO engine: the standard-op ONNX graph read by OpenVINO's ONNX frontend and compiled for the
// CPU with an explicit inference precision (OpenVINO would pick bf16 on its own on CPUs that have it, and
// that choice must be ours and visible), one stream, and the compiled model cached on disk.
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <openvino/openvino.hpp>

#include "esm_onnx/errors.h"
#include "runtime/engine.h"

namespace esm_onnx::runtime {
namespace {

ov::Core& core() {
  static ov::Core c;
  return c;
}

std::string default_cache_dir() {
  if (const char* d = std::getenv("ESM_ONNX_CACHE_DIR"); d && *d) return std::string(d) + "/openvino";
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/esm-onnx/openvino";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/esm-onnx/openvino";
  return {};
}

// Infer requests are reused across runs (creating one allocates its buffers); a result keeps its request
// until it is destroyed, since the request's output tensors are the result's arrays.
struct RequestPool {
  ov::CompiledModel compiled;
  std::mutex mutex;
  std::vector<ov::InferRequest> idle;

  ov::InferRequest take() {
    std::lock_guard lock(mutex);
    if (idle.empty()) return compiled.create_infer_request();
    auto r = std::move(idle.back());
    idle.pop_back();
    return r;
  }
  void give_back(ov::InferRequest r) {
    std::lock_guard lock(mutex);
    idle.push_back(std::move(r));
  }
};

struct Lease {
  std::shared_ptr<RequestPool> pool;
  ov::InferRequest request;
  ~Lease() { pool->give_back(std::move(request)); }
};

std::vector<int64_t> dims(const ov::PartialShape& shape) {
  std::vector<int64_t> d;
  for (const auto& dim : shape) d.push_back(dim.is_static() ? dim.get_length() : -1);
  return d;
}

class OpenVinoEngine final : public Backend {
 public:
  OpenVinoEngine(const std::string& path, const RuntimeOptions& options, Compute compute, EngineInfo& info)
      : path_(path), pool_(std::make_shared<RequestPool>()) {
    ov::AnyMap config{ov::hint::inference_precision(compute == Compute::Bf16 ? ov::element::bf16 : ov::element::f32),
                      ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY)};
    if (options.threads > 0) config.emplace(ov::inference_num_threads(options.threads));
    if (options.cache) {
      info.cache_dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
      if (!info.cache_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(info.cache_dir, ec);
        if (ec) {
          throw FileError(fmt::format("OpenVINO model cache {}: cannot create it ({}); choose another with --cache-dir "
                                      "(or ESM_ONNX_CACHE_DIR), or turn it off with --no-cache",
                                      info.cache_dir, ec.message()));
        }
        config.emplace(ov::cache_dir(info.cache_dir));
      }
    }
    try {
      // Read first and compile the model object: OpenVINO then keys its cache on the graph and weights, not
      // on the file's path, size and mtime in seconds (a model converted again into the same file within a
      // second would otherwise load the old compiled one).
      auto model = core().read_model(path);
      pool_->compiled = core().compile_model(model, "CPU", config);
      model.reset();
      // The compute must be the one asked for, cache or not: anything else would change numbers unseen.
      const auto precision = pool_->compiled.get_property(ov::hint::inference_precision);
      const auto wanted = compute == Compute::Bf16 ? ov::element::bf16 : ov::element::f32;
      if (precision != wanted) {
        throw RuntimeFailure(fmt::format("{}: OpenVINO compiled the model for {} although {} was asked for; run with "
                                         "--no-cache, or --compute {}", path, precision.get_type_name(),
                                         wanted.get_type_name(), precision == ov::element::bf16 ? "bf16" : "fp32"));
      }
      for (const auto& out : pool_->compiled.outputs()) outputs_.push_back({out.get_any_name(), dims(out.get_partial_shape())});
      if (!info.cache_dir.empty()) info.from_cache = pool_->compiled.get_property(ov::loaded_from_cache);
    } catch (const ov::Exception& e) {
      throw RuntimeFailure(fmt::format("{}: OpenVINO cannot load the model: {}", path, e.what()));
    }
  }

  const std::vector<OutputSpec>& outputs() const override { return outputs_; }

  RunResult run(const std::vector<int64_t>& tokens, int64_t batch, int64_t seq,
                const std::vector<std::string>& names) const override {
    auto lease = std::make_shared<Lease>(Lease{pool_, pool_->take()});
    RunResult r;
    try {
      // OpenVINO only reads its inputs; the tensor wraps the caller's ids without a copy.
      lease->request.set_tensor("tokens", ov::Tensor(ov::element::i64, ov::Shape{static_cast<std::size_t>(batch),
                                                                                 static_cast<std::size_t>(seq)},
                                                     const_cast<int64_t*>(tokens.data())));
      lease->request.infer();
      for (const auto& name : names) {
        const ov::Tensor t = lease->request.get_tensor(name);
        if (t.get_element_type() != ov::element::f32) {
          throw RuntimeFailure(fmt::format("{}: output '{}' is {}, not float32: this model was not written by esm-onnx "
                                           "convert; convert the checkpoint again", path_, name, t.get_element_type().get_type_name()));
        }
        std::vector<int64_t> shape;
        for (auto d : t.get_shape()) shape.push_back(static_cast<int64_t>(d));
        r.add(name, std::move(shape), t.data<const float>());
      }
    } catch (const ov::Exception& e) {
      throw RuntimeFailure(fmt::format("{}: inference failed on a batch of {} x {} tokens: {}", path_, batch, seq, e.what()));
    }
    r.owner = std::move(lease);
    return r;
  }

 private:
  std::string path_;
  std::shared_ptr<RequestPool> pool_;
  std::vector<OutputSpec> outputs_;
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
