// Binds a checkpoint's tensors to roles: each source reader (src/layouts/) yields a config and its
// tensors under a layout's names; the specs (src/model/tensor_specs.cpp) say which roles the config
// needs and at which shapes. Everything missing, mis-shaped or unexpected is reported in one error.
#include "esm_onnx/checkpoint/checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "layouts/esmfold.h"
#include "layouts/layouts.h"
#include "tensors/tensor_specs.h"

namespace esm_onnx {

std::string ModelConfig::to_string() const {
  std::string head_text;
  if (head != OutputHead::LanguageModel) head_text = fmt::format(", head {}", output_head_name(head));
  if (!labels.empty()) head_text += fmt::format(" ({} labels)", labels.size());
  return fmt::format("{} ({} arch): {} layers, dim {}, {} heads, ffn {}, vocab {}, token_dropout {}, contacts {}{}",
                     variant, family_name(family), num_layers, embed_dim, attention_heads, ffn_dim, vocab_size,
                     arch.token_dropout, has_contacts, head_text);
}

struct Checkpoint::Impl {
  std::string path;
  layouts::Loaded loaded;
  std::map<TensorKey, model::Bound> bound;
  std::string mask_row_storage;  // storage id of the tensor whose <mask> row the reference loader zeroes
};

namespace {

void check_sizes(const ModelConfig& c, const std::string& path) {
  if (c.num_layers <= 0 || c.embed_dim <= 0 || c.attention_heads <= 0 || c.embed_dim % c.attention_heads != 0) {
    throw FormatError(fmt::format("{}: inconsistent sizes: {} layers, dim {}, {} heads", path, c.num_layers,
                                  c.embed_dim, c.attention_heads));
  }
  // A norm's epsilon is a small positive number; ONNX Runtime refuses others when the model loads, so a model
  // converted with one could not run.
  if (!(c.arch.layer_norm_eps > 0.0f && c.arch.layer_norm_eps < 1.0f)) {
    throw FormatError(fmt::format("{}: layer_norm_eps = {} is not a small positive number", path, c.arch.layer_norm_eps));
  }
  if (!(c.arch.rope_theta > 1.0 && std::isfinite(c.arch.rope_theta))) {
    throw FormatError(fmt::format("{}: rope_theta = {} is not a rotary base (a finite number above 1)", path, c.arch.rope_theta));
  }
  if (c.arch.positions == Positions::Rotary && c.head_dim() % 2 != 0) {
    throw FormatError(fmt::format("{}: rotary positions need an even head size, not {}", path, c.head_dim()));
  }
}

// Finds each role's tensor by the layout's rules; collects every problem.
void bind(Checkpoint::Impl& impl) {
  const auto& L = impl.loaded;
  const auto& c = L.config;
  std::vector<std::string> problems;
  std::set<std::string> used;
  for (const auto& s : model::tensor_specs(c)) {
    const auto rule = std::find_if(L.layout.rules.begin(), L.layout.rules.end(),
                                   [&](const model::NameRule& r) { return r.role == s.role && r.part == s.part; });
    const int64_t n = s.per_layer ? c.num_layers : 1;
    for (int64_t i = 0; i < n; ++i) {
      const TensorKey key{s.role, s.part, s.per_layer ? i : -1};
      if (rule == L.layout.rules.end()) {
        if (s.required) problems.push_back(fmt::format("the {} layout has no tensor for {}", L.layout.name, key_name(key)));
        continue;
      }
      const auto f = model::locate(L.layout, L.names, s.role, s.part, i);
      if (!f.at) {
        if (s.required) problems.push_back(fmt::format("missing tensor {}", model::with_layer(rule->names.front().name, i)));
        continue;
      }
      const model::Located* found = f.at;
      const model::Alt* alt = f.alt;
      used.insert(f.name);
      const source::TensorInfo& info = source::require(*found->source, found->name);
      std::vector<int64_t> expected = s.shape;
      if (alt->slices > 1 && !expected.empty()) expected[0] *= alt->slices;  // the packed tensor's shape
      if (!info.floating) {
        problems.push_back(fmt::format("tensor {} holds {}, not floating-point weights", found->name, info.dtype));
      } else if (info.shape != expected) {
        problems.push_back(fmt::format("tensor {} has shape [{}], expected [{}]", found->name, fmt::join(info.shape, ", "),
                                       fmt::join(expected, ", ")));
      }
      impl.bound[key] = {*found, alt->slice, alt->slices, s.shape};
    }
  }
  if (L.layout.strict) {
    for (const auto& entry : L.names) {
      const std::string& name = entry.first;
      const model::Located& at = entry.second;
      if (used.count(name)) continue;
      const bool known = std::any_of(L.layout.ignored.begin(), L.layout.ignored.end(),
                                     [&](const std::string& t) { return model::matches(t, name); });
      if (!known) {
        problems.push_back(fmt::format("unexpected tensor {} (in {}): not part of a {} {}", at.name, at.source->path(),
                                       c.variant, output_head_name(c.head)));
      }
    }
  }
  if (!problems.empty()) {
    throw FormatError(fmt::format("{}: not a valid {} checkpoint: {}", impl.path, c.variant, fmt::join(problems, "; ")));
  }
  if (!L.layout.zero_mask_row_of.empty()) {
    if (auto it = L.names.find(L.layout.zero_mask_row_of); it != L.names.end()) {
      impl.mask_row_storage = it->second.source->storage_id(it->second.name);
    }
  }
}

}  // namespace

Checkpoint Checkpoint::load(const std::string& path) {
  const auto kind = files::path_kind(path);
  if (kind == files::PathKind::Missing) throw FileError(fmt::format("{}: no such file or folder", path));
  return from_loaded(path, layouts::reader_for(path, kind).load(path));
}

Checkpoint Checkpoint::load_fold_stem(const std::string& path) {
  if (files::path_kind(path) == files::PathKind::Missing) throw FileError(fmt::format("{}: no such file or folder", path));
  return from_loaded(path, layouts::load_esmfold_stem(path));
}

Checkpoint Checkpoint::from_loaded(const std::string& path, layouts::Loaded&& loaded) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->loaded = std::move(loaded);
  auto& c = impl->loaded.config;
  check_sizes(c, path);
  // The vocabulary is the token embedding's row count, checked against the alphabet.
  if (const auto f = model::locate(impl->loaded.layout, impl->loaded.names, Role::TokenEmbedding, Part::Weight, -1); f.at) {
    const auto& info = source::require(*f.at->source, f.at->name);
    if (info.shape.size() == 2) c.vocab_size = info.shape[0];
  }
  const auto expected_vocab = static_cast<int64_t>(Alphabet::for_kind(c.alphabet).size());
  if (c.vocab_size != expected_vocab) {
    throw FormatError(fmt::format("{}: the token embedding has {} rows; the {} alphabet has {} tokens", path,
                                  c.vocab_size, Alphabet::for_kind(c.alphabet).name(), expected_vocab));
  }
  bind(*impl);
  return Checkpoint(std::move(impl));
}

Checkpoint::Checkpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

const ModelConfig& Checkpoint::config() const { return impl_->loaded.config; }
const std::string& Checkpoint::path() const { return impl_->path; }
const std::string& Checkpoint::source() const { return impl_->loaded.source; }
const std::string& Checkpoint::serialization() const { return impl_->loaded.serialization; }
const std::vector<std::string>& Checkpoint::files() const { return impl_->loaded.files; }
const std::string& Checkpoint::contact_file() const { return impl_->loaded.contact_file; }
const std::vector<std::string>& Checkpoint::notices() const { return impl_->loaded.notices; }

bool Checkpoint::has(const TensorKey& key) const { return impl_->bound.count(key) > 0; }

std::vector<int64_t> Checkpoint::shape(const TensorKey& key) const {
  auto it = impl_->bound.find(key);
  if (it == impl_->bound.end()) throw FormatError(fmt::format("{}: no tensor for {}", impl_->path, key_name(key)));
  return it->second.shape;
}

std::vector<StoredTensor> Checkpoint::stored() const {
  std::vector<StoredTensor> out;
  for (const auto& s : impl_->loaded.sources) {
    for (const auto& t : s->tensors()) out.push_back({t.name, s->path(), t.dtype, t.shape});
  }
  return out;
}

Tensor Checkpoint::read(const TensorKey& key) const {
  const ModelConfig& c = impl_->loaded.config;
  auto it = impl_->bound.find(key);
  if (it == impl_->bound.end()) {
    if (key.role == Role::RotaryFreq && c.arch.positions == Positions::Rotary) {
      // Not stored: computed as the reference does, 1 / theta^(2j / head_dim) in float32.
      const int64_t d = c.head_dim();
      Tensor t{{d / 2}, std::vector<float>(static_cast<std::size_t>(d / 2))};
      for (int64_t j = 0; j < d / 2; ++j) {
        t.data[static_cast<std::size_t>(j)] =
            1.0f / std::pow(static_cast<float>(c.arch.rope_theta), static_cast<float>(2 * j) / static_cast<float>(d));
      }
      return t;
    }
    throw FormatError(fmt::format("{}: no tensor for {}", impl_->path, key_name(key)));
  }
  const model::Bound& b = it->second;
  Tensor t{b.shape, {}};
  if (b.slices > 1) {
    const int64_t rows = b.shape.empty() ? 1 : b.shape[0];
    t.data = b.at.source->read_float(b.at.name, rows * b.slice, rows * (b.slice + 1));
  } else {
    t.data = b.at.source->read_float(b.at.name, 0, -1);
  }
  if (!impl_->mask_row_storage.empty() && key.part == Part::Weight &&
      (key.role == Role::TokenEmbedding || key.role == Role::LmOut) &&
      b.at.source->storage_id(b.at.name) == impl_->mask_row_storage) {
    // fair-esm zeroes the <mask> row of embed_tokens in place; every tensor tied to it (lm_head.weight in
    // released files) holds the zeroed row too.
    const int64_t mask = Alphabet::for_kind(c.alphabet).mask_idx();
    const int64_t dim = t.shape[1];
    std::fill(t.data.begin() + mask * dim, t.data.begin() + (mask + 1) * dim, 0.0f);
  }
  return t;
}

}  // namespace esm_onnx
