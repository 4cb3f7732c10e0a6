#include "formats/io/label_names.h"

#include <fmt/format.h>

#include <cstdint>

namespace esm_onnx {
// FNV-1a: labels are not adversarial keys here, and the runtime library needs no crypto for a file name.
uint64_t label_hash(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

namespace {

constexpr std::size_t kNameMax = 255;  // NAME_MAX of Linux filesystems
constexpr std::size_t kKeep = 120;     // bytes of the label a shortened name keeps

// The first `n` bytes of `s`, not cutting a UTF-8 sequence in two.
std::string utf8_prefix(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Whether a file name's last part has the form of a shortened name ("...~<16 hex digits>"), which a label may
// not take (it could name the file of a long label).
bool label_name_is_reserved(const std::string& part) {
  if (part.size() < 17 || part[part.size() - 17] != '~') return false;
  for (std::size_t i = part.size() - 16; i < part.size(); ++i) {
    const char c = part[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string label_path_problem(const std::string& label) {
  // Labels name files (as in esm-extract). The map from labels to files must be one-to-one and stay inside the
  // output folder, outside its scratch area: a label that names its file in other words than the plain one
  // ("./x", "p//q", "p/./q", "p/") would overwrite the record the plain label names, so it is refused.
  if (label.empty()) return "empty label";
  if (label.find('\0') != std::string::npos) {
    return "the label contains a NUL byte, which no file name can hold (it would be cut there)";
  }
  if (label[0] == '/') return "the label starts with '/', which would write outside the output folder";
  std::size_t start = 0;
  bool first = true;
  while (start <= label.size()) {
    const auto end = label.find('/', start);
    const auto part = label.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part == "..") return "the label contains '..', which would write outside the output folder";
    if (part.empty() || part == ".") {
      return "the label names its file with an empty or '.' path part ('//', '/./', a leading './' or a trailing "
             "'/'), so it would share the file of the label written without it; write the label plainly";
    }
    if (first && end != std::string::npos && part == ".partial") {
      return "the label starts with '.partial/', the output folder's area for unfinished files";
    }
    if (end == std::string::npos) {
      if (label_name_is_reserved(part)) {
        return "the label ends in '~' and 16 hex digits, the form of the names long labels are shortened to";
      }
      break;
    }
    first = false;
    start = end + 1;
  }
  return {};
}

LabelName label_file_name(const std::string& label, std::size_t reserved) {
  bool fits = true;
  std::size_t start = 0;
  while (fits) {
    const auto end = label.find('/', start);
    const std::size_t len = (end == std::string::npos ? label.size() : end) - start;
    fits = len + (end == std::string::npos ? reserved : 0) <= kNameMax;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (fits) return {label, false};
  std::string flat = utf8_prefix(label, kKeep);
  for (auto& c : flat) {  // one flat name, free of separators and control characters
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return {fmt::format("{}~{:016x}", flat, label_hash(label)), true};
}

}  // namespace esm_onnx
