#pragma once
// Numbers written as text inside files (pickle protocol 0, model metadata). std::from_chars instead of
// std::stoll and friends: no exceptions of the standard library's own reach the user, and trailing
// garbage is refused rather than ignored.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace esm_onnx::text {

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return v;
}

}  // namespace esm_onnx::text
