#include "tensors/layout.h"

namespace esm_onnx::model {

void add_module(std::vector<NameRule>& rules, Role role, std::vector<Alt> weights, std::vector<Alt> biases) {
  rules.push_back({role, Part::Weight, std::move(weights)});
  rules.push_back({role, Part::Bias, std::move(biases)});
}

void add_module(std::vector<NameRule>& rules, Role role, const std::string& name) {
  add_module(rules, role, {name + ".weight"}, {name + ".bias"});
}

Found locate(const Layout& layout, const NameTable& names, Role role, Part part, int64_t layer) {
  for (const auto& rule : layout.rules) {
    if (rule.role != role || rule.part != part) continue;
    for (const auto& alt : rule.names) {
      std::string name = with_layer(alt.name, layer);
      if (auto it = names.find(name); it != names.end()) return {&it->second, &alt, std::move(name)};
    }
  }
  return {};
}

std::string with_layer(const std::string& templ, int64_t layer) {
  std::string out = templ;
  const auto pos = out.find("{i}");
  if (pos != std::string::npos) out.replace(pos, 3, std::to_string(layer));
  return out;
}

bool matches(const std::string& templ, const std::string& name) {
  if (!templ.empty() && templ[0] == '*') {
    const std::string tail = templ.substr(1);
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  }
  const auto pos = templ.find("{i}");
  if (pos == std::string::npos) return templ == name;
  const std::string head = templ.substr(0, pos), tail = templ.substr(pos + 3);
  if (name.size() <= head.size() + tail.size()) return false;
  if (name.compare(0, head.size(), head) != 0) return false;
  if (name.compare(name.size() - tail.size(), tail.size(), tail) != 0) return false;
  for (std::size_t i = head.size(); i < name.size() - tail.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  return true;
}

}  // namespace esm_onnx::model
