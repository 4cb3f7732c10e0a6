#include "esm_onnx/base/layers.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>

#include "base/util/numbers.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx {

std::vector<int64_t> resolve_layers(const std::vector<std::string>& specs, int64_t n, const std::string& option) {
  std::vector<std::string> parts;
  for (const auto& s : specs) {
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (!item.empty()) parts.push_back(item);
    }
  }
  if (parts.empty()) throw UsageError(fmt::format("{}: no layer given (use e.g. -1, 0 5 -1, or all)", option));
  std::vector<int64_t> out;
  for (const auto& p : parts) {
    if (p == "all") {
      for (int64_t i = 0; i <= n; ++i) out.push_back(i);
      continue;
    }
    const auto parsed = text::parse_number<int64_t>(p);
    if (!parsed) {
      throw UsageError(fmt::format("{}: '{}' is not a layer number (use integers, negatives from the end, or all)",
                                   option, p));
    }
    const int64_t v = *parsed;
    if (v < -(n + 1) || v > n) {
      throw UsageError(fmt::format("{}: layer {} does not exist: this model has layers 0..{} (0 = embeddings), "
                                   "or -{}..-1 counting from the end", option, v, n, n + 1));
    }
    out.push_back(v < 0 ? v + n + 1 : v);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string join_layers(const std::vector<int64_t>& layers) { return fmt::format("{}", fmt::join(layers, ",")); }

std::optional<std::vector<int64_t>> parse_layer_list(const std::string& csv) {
  std::vector<int64_t> out;
  std::stringstream ss(csv);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    const auto v = text::parse_number<int64_t>(item);
    if (!v) return std::nullopt;
    out.push_back(*v);
  }
  return out;
}

}  // namespace esm_onnx
