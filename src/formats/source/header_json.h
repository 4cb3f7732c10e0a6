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

// What a document's top-level entries may keep. A safetensors header is an object of entries (a tensor's
// dtype, shape and data_offsets); anything else a crafted header puts in an entry is checked as JSON and
// dropped, and an array inside an entry holds at most `max_array` values, so that a 100 MB header cannot
// cost gigabytes of parsed values.
struct Schema {
  std::vector<std::string> entry_members;  // the members kept in each entry
  std::vector<std::string> open_entries;   // entries kept whole ("__metadata__": string values)
  std::size_t max_array{64};
};

// Throws FormatError("<what>: ...") on anything that is not one complete JSON value.
Value parse(std::string_view text, const std::string& what, const Schema* schema = nullptr);

}  // namespace esm_onnx::source::json
