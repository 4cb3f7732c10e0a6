// The full library: convert a fair-esm checkpoint, then read back what was written.
#include <cstdio>

#include "esm_onnx/engines/convert.h"
#include "esm_onnx/engines/model.h"
#include "esm_onnx/jobs/inspect.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  esm_onnx::ConvertOptions options;
  options.checkpoint = argv[1];
  options.output = argv[2];
  const auto report = esm_onnx::convert(options);
  std::printf("%s %lld\n", report.config.variant.c_str(), static_cast<long long>(esm_onnx::read_model_info(argv[2]).num_layers));
  return 0;
}
