#include "esm_onnx/checkpoint.h"

#include <fmt/format.h>

#include <map>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>

#include "esm/layout.h"
#include "esm/tensor_spec.h"
#include "esm_onnx/errors.h"
#include "torch/torch_file.h"

namespace esm_onnx {

const char* family_name(Family f) {
  switch (f) {
    case Family::Esm1: return "ESM-1";
    case Family::Esm1b: return "ESM-1b";
    case Family::Esm2: return "ESM-2";
  }
  return "?";
}

std::string ModelConfig::to_string() const {
  return fmt::format("{} ({} arch): {} layers, dim {}, {} heads, ffn {}, vocab {}, token_dropout {}, contacts {}",
                     variant, family_name(family), num_layers, embed_dim, attention_heads, ffn_dim, vocab_size,
                     token_dropout, has_contacts);
}

namespace layout {

std::map<std::string, std::shared_ptr<pickle::TensorRef>> tensors_of(const pickle::Value& state,
                                                                     const std::string& path) {
  if (state.kind != pickle::Value::Kind::Dict) {
    throw FormatError(fmt::format("{}: 'model' is a {}, not a state dict", path, state.describe()));
  }
  std::map<std::string, std::shared_ptr<pickle::TensorRef>> out;
  for (const auto& [k, v] : state.dict) {
    if (k->kind == pickle::Value::Kind::String && v->kind == pickle::Value::Kind::Tensor) out[k->s] = v->tensor;
  }
  return out;
}

int64_t int_attr(const pickle::Value& obj, const std::string& name, const std::string& path) {
  auto v = obj.get(name);
  if (!v || v->kind != pickle::Value::Kind::Int) {
    throw FormatError(fmt::format("{}: the model arguments lack the integer '{}'", path, name));
  }
  // Far above any released ESM model, far below what would exhaust memory before the tensors are checked.
  static const std::map<std::string, int64_t> kLimits = {
      {"layers", 1024}, {"encoder_layers", 1024}, {"embed_dim", 1 << 16}, {"encoder_embed_dim", 1 << 16},
      {"ffn_embed_dim", 1 << 18}, {"attention_heads", 1024}, {"encoder_attention_heads", 1024},
      {"max_positions", 1 << 20}};
  const auto limit = kLimits.find(name);
  const int64_t most = limit == kLimits.end() ? (int64_t{1} << 32) : limit->second;
  if (v->i < 1 || v->i > most) {
    throw FormatError(fmt::format("{}: model argument '{}' = {} is outside 1..{}; the file is corrupt or not an ESM "
                                  "checkpoint", path, name, v->i, most));
  }
  return v->i;
}

bool bool_attr(const pickle::Value& obj, const std::string& name, bool fallback) {
  auto v = obj.get(name);
  if (!v) return fallback;
  if (v->kind == pickle::Value::Kind::Bool) return v->b;
  if (v->kind == pickle::Value::Kind::Int) return v->i != 0;
  return fallback;
}

std::string str_attr(const pickle::Value& obj, const std::string& name) {
  auto v = obj.get(name);
  return v && v->kind == pickle::Value::Kind::String ? v->s : std::string();
}

}  // namespace layout

struct Checkpoint::Impl {
  std::unique_ptr<torchfile::TorchFile> main;
  std::unique_ptr<torchfile::TorchFile> contacts;
  std::string contact_path;
  layout::Parsed parsed;
  std::map<std::string, const torchfile::TorchFile*> owner;
  std::vector<std::string> notices;
  std::string serialization;
  std::string path;
};

namespace {

std::string contact_path_for(const std::string& path) {
  std::filesystem::path p(path);
  return (p.parent_path() / (p.stem().string() + "-contact-regression.pt")).string();
}

void validate(const Checkpoint::Impl& impl, const std::string& path) {
  const auto& c = impl.parsed.config;
  if (c.num_layers <= 0 || c.embed_dim <= 0 || c.attention_heads <= 0 || c.embed_dim % c.attention_heads != 0) {
    throw FormatError(fmt::format("{}: inconsistent sizes: {} layers, dim {}, {} heads", path, c.num_layers,
                                  c.embed_dim, c.attention_heads));
  }
  std::vector<std::string> problems;
  for (const auto& s : spec::tensor_specs(c)) {
    const int64_t n = s.per_layer ? c.num_layers : 1;
    for (int64_t i = 0; i < n; ++i) {
      const std::string name = s.per_layer ? spec::layer_name(s.name, i) : s.name;
      auto it = impl.parsed.tensors.find(name);
      if (it == impl.parsed.tensors.end()) {
        if (s.required) problems.push_back(fmt::format("missing tensor {}", name));
        continue;
      }
      if (it->second->shape != s.shape) {
        problems.push_back(fmt::format("tensor {} has shape [{}], expected [{}]", name, fmt::join(it->second->shape, ", "),
                                       fmt::join(s.shape, ", ")));
      }
    }
  }
  if (!problems.empty()) {
    throw FormatError(fmt::format("{}: not a valid {} checkpoint: {}", path, c.variant, fmt::join(problems, "; ")));
  }
}

}  // namespace

Checkpoint Checkpoint::load(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->main = torchfile::TorchFile::open(path);
  impl->serialization = impl->main->serialization();
  const auto& root = *impl->main->root();
  if (root.kind != pickle::Value::Kind::Dict) {
    throw FormatError(fmt::format("{}: holds a {}, not a fair-esm checkpoint dict", path, root.describe()));
  }
  auto model = root.get("model");
  auto args = root.get("args");
  auto cfg = root.get("cfg");
  if (!model) {
    bool looks_like_state = false;
    for (const auto& [k, v] : root.dict) looks_like_state |= v->kind == pickle::Value::Kind::Tensor;
    throw UnsupportedError(fmt::format(
        "{}: no 'model' entry: {}", path,
        looks_like_state ? "a bare state dict without fair-esm's args/cfg (ESM C, ESM3 and HF checkpoints are not "
                           "supported yet); give the checkpoint as fair-esm distributes it"
                         : "not a fair-esm checkpoint"));
  }
  if (args && args->kind == pickle::Value::Kind::Object) {
    impl->parsed = layout::parse_v1(*args, *model, path);
  } else if (cfg && cfg->kind == pickle::Value::Kind::Dict) {
    impl->parsed = layout::parse_v2(*cfg, *model, path);
  } else {
    throw UnsupportedError(fmt::format("{}: neither 'args' (fair-esm v1: ESM-1, ESM-1b, ESM-1v) nor 'cfg' (v2: ESM-2) "
                                       "describes the model", path));
  }
  for (const auto& [n, t] : impl->parsed.tensors) impl->owner[n] = impl->main.get();
  auto& c = impl->parsed.config;
  const std::string stem = std::filesystem::path(path).stem().string();
  if (c.family == Family::Esm1b && stem.find("esm1v") != std::string::npos) c.variant = "ESM-1v";
  if (auto it = impl->parsed.tensors.find("embed_tokens.weight"); it != impl->parsed.tensors.end() &&
                                                                  it->second->shape.size() == 2) {
    c.vocab_size = it->second->shape[0];
  }
  const auto expected_vocab = static_cast<int64_t>(Alphabet::for_kind(c.alphabet).size());
  if (c.vocab_size != expected_vocab) {
    throw FormatError(fmt::format("{}: embed_tokens.weight has {} rows; the {} alphabet has {} tokens", path,
                                  c.vocab_size, Alphabet::for_kind(c.alphabet).name(), expected_vocab));
  }

  impl->contact_path = contact_path_for(path);
  if (std::filesystem::exists(impl->contact_path)) {
    impl->contacts = torchfile::TorchFile::open(impl->contact_path);
    const auto& croot = *impl->contacts->root();
    auto cmodel = croot.kind == pickle::Value::Kind::Dict ? croot.get("model") : nullptr;
    if (!cmodel) throw FormatError(fmt::format("{}: no 'model' dict of contact-head weights", impl->contact_path));
    for (auto& [n, t] : layout::tensors_of(*cmodel, impl->contact_path)) {
      impl->parsed.tensors[n] = t;
      impl->owner[n] = impl->contacts.get();
    }
    c.has_contacts = impl->parsed.tensors.count("contact_head.regression.weight") > 0;
    if (!c.has_contacts) {
      throw FormatError(fmt::format("{}: lacks contact_head.regression.weight", impl->contact_path));
    }
  } else {
    impl->contact_path.clear();
    c.has_contacts = false;
    impl->notices.push_back(fmt::format("no contact-regression file ({}) beside the checkpoint: the model has no "
                                        "contacts output", std::filesystem::path(contact_path_for(path)).filename().string()));
  }
  validate(*impl, path);
  return Checkpoint(std::move(impl));
}

Checkpoint::Checkpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

const ModelConfig& Checkpoint::config() const { return impl_->parsed.config; }
const std::string& Checkpoint::path() const { return impl_->path; }
const std::string& Checkpoint::serialization() const { return impl_->serialization; }
const std::string& Checkpoint::contact_file() const { return impl_->contact_path; }
const std::vector<std::string>& Checkpoint::notices() const { return impl_->notices; }

bool Checkpoint::has(const std::string& name) const { return impl_->parsed.tensors.count(name) > 0; }

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [n, t] : impl_->parsed.tensors) out.push_back(n);
  return out;
}

std::vector<int64_t> Checkpoint::shape(const std::string& name) const {
  auto it = impl_->parsed.tensors.find(name);
  if (it == impl_->parsed.tensors.end()) throw FormatError(fmt::format("{}: no tensor {}", impl_->path, name));
  return it->second->shape;
}

std::string Checkpoint::stored_dtype(const std::string& name) const {
  auto it = impl_->parsed.tensors.find(name);
  if (it == impl_->parsed.tensors.end()) throw FormatError(fmt::format("{}: no tensor {}", impl_->path, name));
  return pickle::dtype_name(it->second->storage->dtype);
}

Tensor Checkpoint::read(const std::string& name) const {
  auto it = impl_->parsed.tensors.find(name);
  if (it == impl_->parsed.tensors.end()) throw FormatError(fmt::format("{}: no tensor {}", impl_->path, name));
  const auto& ref = *it->second;
  Tensor t{ref.shape, impl_->owner.at(name)->read_float(ref, name)};
  if (impl_->parsed.zero_mask_row) {
    // fair-esm zeroes the <mask> row of embed_tokens in place. Its model then loads lm_head.weight
    // into the same (tied) parameter, so what the model holds for both is lm_head.weight: zeroed
    // only when the file ties it to embed_tokens' storage, as released files do.
    const auto& embed = *impl_->parsed.tensors.at("embed_tokens.weight");
    const bool is_embed_storage = ref.storage == embed.storage && ref.offset == embed.offset;
    if (name == "embed_tokens.weight" || name == "lm_head.weight") {
      if (is_embed_storage) {
        const int64_t mask = Alphabet::for_kind(impl_->parsed.config.alphabet).mask_idx();
        const int64_t dim = t.shape[1];
        std::fill(t.data.begin() + mask * dim, t.data.begin() + (mask + 1) * dim, 0.0f);
      }
    }
  }
  return t;
}

}  // namespace esm_onnx
