#include "formats/source/header_json.h"

#include <fmt/format.h>

#include <algorithm>

#include "esm_onnx/base/errors.h"

namespace esm_onnx::source::json {

const Value* Value::get(const std::string& key) const {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return &items[i];
  }
  return nullptr;
}

bool Value::as_index(uint64_t& out) const {
  if (kind != Kind::Number || text.empty() || text.size() > 18) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (text.size() > 1 && text[0] == '0') return false;
  out = v;
  return true;
}

namespace {

class Parser {
 public:
  Parser(std::string_view s, const std::string& what, const Schema* schema) : s_(s), what_(what), schema_(schema) {}

  Value document() {
    Value v = value(0, true, {});
    space();
    if (pos_ != s_.size()) fail("text after the JSON value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void fail(const std::string& why) const {
    throw FormatError(fmt::format("{}: invalid JSON at byte {}: {}", what_, pos_, why));
  }
  void space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  char peek() {
    space();
    if (pos_ >= s_.size()) fail("unexpected end");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++pos_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // Whether a member of an object at `depth` (named `owner` in its parent) is kept: with a schema, the
  // members of each top-level entry are only those it names (and every member of its open entries).
  bool keep_member(int depth, std::string_view owner, const std::string& key) const {
    if (!schema_ || depth != 1) return true;
    if (std::find(schema_->open_entries.begin(), schema_->open_entries.end(), owner) != schema_->open_entries.end()) return true;
    return std::find(schema_->entry_members.begin(), schema_->entry_members.end(), key) != schema_->entry_members.end();
  }

  // `keep`: false parses (and checks) the value without storing any of it, so that memory follows what is
  // used, not what a crafted header holds.
  Value value(int depth, bool keep, std::string_view owner) {
    if (depth > kMaxDepth) fail("nested deeper than 64 levels");
    Value v;
    const char c = peek();
    if (c == '{') {
      v.kind = Value::Kind::Object;
      ++pos_;
      if (peek() == '}') {
        ++pos_;
        return v;
      }
      while (true) {
        if (peek() != '"') fail("expected a member name");
        std::string key = string();
        expect(':');
        const bool k = keep && keep_member(depth, owner, key);
        Value item = value(depth + 1, k, key);
        if (k) {
          v.keys.push_back(std::move(key));
          v.items.push_back(std::move(item));
        }
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.kind = Value::Kind::Array;
      ++pos_;
      if (peek() == ']') {
        ++pos_;
        return v;
      }
      while (true) {
        Value item = value(depth + 1, keep, {});
        if (keep) {
          if (schema_ && depth >= 2 && v.items.size() >= schema_->max_array) {
            fail(fmt::format("an array of more than {} values inside an entry", schema_->max_array));
          }
          v.items.push_back(std::move(item));
        }
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.kind = Value::Kind::String;
      v.text = string();
      return v;
    }
    if (literal("true")) {
      v.kind = Value::Kind::Bool;
      v.b = true;
      return v;
    }
    if (literal("false")) {
      v.kind = Value::Kind::Bool;
      return v;
    }
    if (literal("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Value::Kind::Number;
      const std::size_t start = pos_;
      if (s_[pos_] == '-') ++pos_;
      auto digits = [&] {
        const std::size_t from = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
        if (pos_ == from) fail("a number without digits");
      };
      digits();
      if (pos_ < s_.size() && s_[pos_] == '.') {
        ++pos_;
        digits();
      }
      if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
        ++pos_;
        if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
        digits();
      }
      v.text = std::string(s_.substr(start, pos_ - start));
      return v;
    }
    fail(fmt::format("unexpected character 0x{:02x}", static_cast<unsigned char>(c)));
  }

  void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) fail("a truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("a bad hex digit in a \\u escape");
    }
    return v;
  }

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("an unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("an unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!literal("\\u")) fail("a lone high surrogate");
            const uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("a bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("a lone low surrogate");
          }
          utf8(out, cp);
          break;
        }
        default: fail(fmt::format("an unknown escape \\{}", e));
      }
    }
  }

  std::string_view s_;
  const std::string& what_;
  const Schema* schema_;
  std::size_t pos_{0};
};

}  // namespace

Value parse(std::string_view text, const std::string& what, const Schema* schema) {
  return Parser(text, what, schema).document();
}

}  // namespace esm_onnx::source::json
