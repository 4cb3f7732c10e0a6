#pragma once
// fair-esm's layer numbering: 0 is the embedding output, 1..N the transformer layers, negatives
// count from the end (-1 = N), and "all" means 0..N.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace esm_onnx {

// Resolves specs such as {"-1"}, {"0", "5", "-2"} or {"all"} (also comma-separated) into a sorted,
// de-duplicated list of layer ids. Throws UsageError naming `option` for an id outside -(N+1)..N.
std::vector<int64_t> resolve_layers(const std::vector<std::string>& specs, int64_t num_layers,
                                    const std::string& option);

std::string join_layers(const std::vector<int64_t>& layers);              // "0,5,33"
// Inverse of join_layers; nullopt when an item is not an integer.
std::optional<std::vector<int64_t>> parse_layer_list(const std::string& csv);

}  // namespace esm_onnx
