#pragma once
// How one checkpoint layout spells each tensor role. The names are in the layout's canonical
// namespace (the file's names after the layout's prefix rules); `{i}` stands for the layer index.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "esm_onnx/base/tensor_role.h"
#include "formats/source/tensor_source.h"

namespace esm_onnx::model {

// One spelling of a tensor: a name, or rows [slice, slice + 1) * rows / slices of a packed tensor.
struct Alt {
  Alt(const char* n) : name(n) {}         // NOLINT: a plain name is the common case
  Alt(std::string n) : name(std::move(n)) {}  // NOLINT
  Alt(std::string n, int s, int of) : name(std::move(n)), slice(s), slices(of) {}
  std::string name;
  int slice{0}, slices{1};
};

struct NameRule {
  Role role;
  Part part;
  std::vector<Alt> names;  // alternatives, the first that the file holds wins
};

// A module's two rules: its weight and its bias, each with its spellings.
void add_module(std::vector<NameRule>& rules, Role role, std::vector<Alt> weights, std::vector<Alt> biases);
// The common case: "<name>.weight" and "<name>.bias".
void add_module(std::vector<NameRule>& rules, Role role, const std::string& name);

struct Layout {
  std::string name;  // "fair-esm", "transformers ESM", ...
  std::vector<NameRule> rules;
  std::vector<std::string> ignored;  // tensors known to be unused, `{i}` = any layer
  bool strict{true};                 // any other tensor is an error naming it
  // fair-esm's ESM-1b loader zeroes the <mask> row of this tensor, and so of every tensor tied to it.
  std::string zero_mask_row_of;
};

// A tensor of the checkpoint: which file, and its name there.
struct Located {
  const source::TensorSource* source{nullptr};
  std::string name;
};

// Canonical name -> tensor, built by each source's reader.
using NameTable = std::map<std::string, Located>;

// "layers.{i}.fc1.weight" with layer 3 -> "layers.3.fc1.weight".
std::string with_layer(const std::string& templ, int64_t layer);
// Whether `name` is `templ` with `{i}` standing for some decimal layer index; "*<tail>" matches any
// name that ends with <tail>.
bool matches(const std::string& templ, const std::string& name);

// The first spelling of (role, part, layer) that `names` holds, and which one it is; {nullptr, nullptr}
// when none (or the layout has no rule for it).
struct Found {
  const Located* at{nullptr};
  const Alt* alt{nullptr};
  std::string name;  // the canonical name found
};
Found locate(const Layout& layout, const NameTable& names, Role role, Part part, int64_t layer);

// A tensor bound to a role: where it is and which rows of it.
struct Bound {
  Located at;
  int slice{0}, slices{1};
  std::vector<int64_t> shape;  // after slicing
};

}  // namespace esm_onnx::model
