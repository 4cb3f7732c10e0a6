#include "base/util/bounded_json.h"

#include <fmt/format.h>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::jsonin {
namespace {

struct TooDeep {};

const Json* member(const Json& obj, const char* key, const std::string& where) {
  if (!obj.is_object()) throw FormatError(fmt::format("{}: expected a JSON object, found {}", where, type_text(obj)));
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

[[noreturn]] void wrong(const std::string& where, const char* key, const Json& v, const char* expected) {
  throw FormatError(fmt::format("{}: '{}' is {}, expected {}", where, key, type_text(v), expected));
}

}  // namespace

std::string type_text(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    default: return "a value of no JSON type";
  }
}

Json parse_text(std::string_view text, const std::string& where, int max_depth) {
  // The callback sees every value with its depth before it is kept: deeper than the bound stops the parse
  // before anything recursive (dump, comparison) could run on it.
  const Json::parser_callback_t bound = [max_depth](int depth, Json::parse_event_t, Json&) {
    if (depth > max_depth) throw TooDeep{};
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), bound);
  } catch (const TooDeep&) {
    throw FormatError(fmt::format("{}: JSON nested deeper than {} levels; no configuration is, the file is damaged or "
                                  "crafted", where, max_depth));
  } catch (const Json::exception& e) {
    throw FormatError(fmt::format("{}: not valid JSON: {}", where, e.what()));
  }
}

Json parse_file(const std::string& path, const std::string& what, const Limits& limits) {
  return parse_text(files::read_small_file(path, what, limits.max_bytes), path, limits.max_depth);
}

std::optional<std::string> get_string(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key, where);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong(where, key, *v, "a string");
  return v->get<std::string>();
}

std::optional<bool> get_bool(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key, where);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong(where, key, *v, "true or false");
  return v->get<bool>();
}

std::optional<int64_t> get_int(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key, where);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) wrong(where, key, *v, "a smaller integer");
  if (!v->is_number_integer()) wrong(where, key, *v, "an integer");
  return v->get<int64_t>();
}

std::optional<double> get_number(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key, where);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong(where, key, *v, "a number");
  return v->get<double>();
}

const Json* get_object(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key, where);
  if (v && !v->is_object()) wrong(where, key, *v, "an object");
  return v;
}

const Json* get_array(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key, where);
  if (v && !v->is_array()) wrong(where, key, *v, "an array");
  return v;
}

}  // namespace esm_onnx::jsonin
