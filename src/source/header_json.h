#pragma once
// The JSON of a safetensors header, parsed by our own strict reader: the header is untrusted bytes at
// the front of a downloaded file, so every length and nesting depth is bounded and every error named.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace esm_onnx::source::json {

struct Value {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind{Kind::Null};
  bool b{false};
  std::string text;  // String: the decoded string; Number: the literal as written
  std::vector<Value> items;       // Array elements; Object member values
  std::vector<std::string> keys;  // Object member names, in file order, one per item

  const Value* get(const std::string& key) const;
  // A Number that is a non-negative integer below 2^63; nullopt-like false when it is not.
  bool as_index(uint64_t& out) const;
};

// Throws FormatError("<what>: ...") on anything that is not one complete JSON value.
Value parse(std::string_view text, const std::string& what);

}  // namespace esm_onnx::source::json
