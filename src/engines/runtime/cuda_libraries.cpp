#include "engines/runtime/cuda_libraries.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>

namespace esm_onnx::runtime {

std::vector<std::string> preload_cuda_libraries() {
  static std::once_flag once;
  static std::vector<std::string> loaded;
  std::call_once(once, [] {
    const char* env = std::getenv("ESM_ONNX_CUDA_LIBRARY_PATH");
    const std::string dirs = env ? env : ESM_ONNX_CUDA_LIBDIRS;
    // Dependencies first: the runtime, the compilers, the math libraries, then cuDNN (whose sub-libraries
    // it loads itself, from its own folder).
    const char* order[] = {"libcudart.so", "libnvJitLink.so", "libnvrtc.so", "libcublasLt.so", "libcublas.so",
                           "libcufft.so", "libcurand.so", "libcudnn.so"};
    std::istringstream split(dirs);
    std::vector<std::filesystem::path> folders;
    for (std::string d; std::getline(split, d, ':');) {
      if (!d.empty()) folders.emplace_back(d);
    }
    for (const char* prefix : order) {
      for (const auto& dir : folders) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
          const std::string name = e.path().filename().string();
          if (name.rfind(prefix, 0) != 0 || name.size() == std::string(prefix).size()) continue;
          if (dlopen(e.path().c_str(), RTLD_NOW | RTLD_GLOBAL)) loaded.push_back(e.path().string());
        }
      }
    }
  });
  return loaded;
}

}  // namespace esm_onnx::runtime
