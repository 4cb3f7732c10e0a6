#include "esm_onnx/base/errors.h"

// The exception classes are header-only; this unit anchors their vtables in the library.
namespace esm_onnx {
namespace {
[[maybe_unused]] void anchor() {}
}  // namespace
}  // namespace esm_onnx
