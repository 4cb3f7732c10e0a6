#pragma once
// The CUDA libraries onnxruntime-gpu's CUDA provider needs, when they come from PyPI's nvidia-* wheels
// instead of a system CUDA: loaded once, globally, before the provider, so that its own loading finds them
// (as the onnxruntime Python package does with preload_dlls).
#include <string>
#include <vector>

namespace esm_onnx::runtime {

// Folders searched: ESM_ONNX_CUDA_LIBRARY_PATH (colon-separated) when set, else the ones the build recorded
// (ESM_ONNX_CUDA=1 scripts/bootstrap.sh); none in a CPU build, where the dynamic linker's own search applies
// (LD_LIBRARY_PATH, as the CUDA container image sets). Returns the libraries loaded.
std::vector<std::string> preload_cuda_libraries();

}  // namespace esm_onnx::runtime
