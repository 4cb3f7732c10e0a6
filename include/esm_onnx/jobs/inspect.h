#pragma once
// `esm-onnx inspect`: what a fair-esm .pt or a converted .onnx holds.
#include <string>

#include "esm_onnx/base/model_info.h"

namespace esm_onnx {

// A JSON document (as text, pretty-printed) describing the file: kind, family, sizes, layers,
// contacts, precision, source. Throws like Checkpoint::load / read_model_info.
std::string inspect_json(const std::string& path);
// The same, as aligned "key: value" lines for people.
std::string inspect_text(const std::string& path);

}  // namespace esm_onnx
