// Lookups in a record's arrays.
#include "esm_onnx/base/record.h"

namespace esm_onnx {

const FloatArray* RecordOutput::find(Output output, int64_t layer) const {
  for (const auto& a : arrays) {
    if (a.output == output && a.layer == layer) return &a.array;
  }
  return nullptr;
}

std::map<int64_t, const FloatArray*> RecordOutput::layers(Output output) const {
  std::map<int64_t, const FloatArray*> out;
  for (const auto& a : arrays) {
    if (a.output == output) out[a.layer] = &a.array;
  }
  return out;
}

}  // namespace esm_onnx
