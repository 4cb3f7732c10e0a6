#pragma once
// What a converted model says about itself before any engine reads it: the ModelProto's metadata_props
// and opset imports, read by a bounded protobuf scan that skips the graph. Both engines take the model's
// description from here (OpenVINO drops ONNX metadata), and the OpenVINO engine refuses graphs whose
// operator domains it would run with different numbers.
#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

namespace esm_onnx::runtime {

struct OnnxHeader {
  std::map<std::string, std::string> metadata;
  std::vector<std::string> domains;  // opset imports; "" is the default ONNX domain
  bool imports(const std::string& domain) const;
};

// `size` bytes of a ModelProto from `in`; `name` is used in messages. FormatError when the bytes are not a
// well-formed ModelProto (or exceed the limits: 64 MiB per entry, 100,000 entries).
OnnxHeader parse_onnx_header(std::istream& in, uint64_t size, const std::string& name);
// FileError when `path` cannot be read.
OnnxHeader read_onnx_header(const std::string& path);

}  // namespace esm_onnx::runtime
