#pragma once
// JSON from files esm-onnx did not write (config.json, sharded indexes, a model's label list): read with
// a size and a nesting bound (a value nested 100,000 deep overflows any recursive walk of it), and every
// member read with its type checked, so that a wrong type is a FormatError naming the file and the key,
// never a library exception.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace esm_onnx::jsonin {

using Json = nlohmann::json;

struct Limits {
  uint64_t max_bytes;
  int max_depth;
};
// config.json and the sharded indexes: far above what transformers writes (a 15B model's index is 100 KB).
inline constexpr Limits kConfigLimits{uint64_t{16} << 20, 32};

// `where` names the file (or metadata entry) in errors.
Json parse_text(std::string_view text, const std::string& where, int max_depth);
// The file through files::read_small_file: a FIFO, a folder or a link loop is a FileError.
Json parse_file(const std::string& path, const std::string& what, const Limits& limits);

// Members of an object. Absent or null (Python's None: "the default") -> nullopt; any other type than the
// one asked for -> FormatError "<where>: '<key>' is <type>, expected <kind>".
std::optional<std::string> get_string(const Json& obj, const char* key, const std::string& where);
std::optional<bool> get_bool(const Json& obj, const char* key, const std::string& where);
std::optional<int64_t> get_int(const Json& obj, const char* key, const std::string& where);
std::optional<double> get_number(const Json& obj, const char* key, const std::string& where);
// An object or array member, or nullptr when absent; FormatError when it is there with another type.
const Json* get_object(const Json& obj, const char* key, const std::string& where);
const Json* get_array(const Json& obj, const char* key, const std::string& where);

// "a string", "an array", ... for messages.
std::string type_text(const Json& v);

}  // namespace esm_onnx::jsonin
