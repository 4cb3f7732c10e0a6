// One libFuzzer binary per target: ESM_ONNX_FUZZ_TARGET names it at compile time.
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  return esm_onnx::fuzz::ESM_ONNX_FUZZ_TARGET(data, size);
}
