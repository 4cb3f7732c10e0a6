// ESMFold: the stem through the ordinary ESM-2 binding, the head's tensors read by name with shapes checked
// where the graph builder asks for them (it knows each one's shape from the configuration).
#include "esm_onnx/checkpoint/fold_checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "esm_onnx/base/errors.h"
#include "layouts/esmfold.h"

namespace esm_onnx {

struct FoldCheckpoint::Impl {
  std::string path;
  Checkpoint stem;
  layouts::FoldHead head;
};

bool FoldCheckpoint::recognises(const std::string& path) { return layouts::is_esmfold(path) || layouts::is_fair_esm_fold(path); }

FoldCheckpoint FoldCheckpoint::load(const std::string& path) {
  // transformers' folder holds the stem; fair-esm's file names the release beside it.
  const bool folder = layouts::is_esmfold(path);
  Checkpoint stem = folder ? Checkpoint::load_fold_stem(path) : Checkpoint::load(layouts::fair_esm_fold_stem(path));
  if (stem.config().family != Family::Esm2) {
    throw UnsupportedError(fmt::format("{}: an ESMFold whose stem is {}, not ESM-2", path, stem.config().variant));
  }
  auto head = folder ? layouts::load_esmfold_head(path, stem.config()) : layouts::load_fair_esm_fold_head(path, stem.config());
  return FoldCheckpoint(std::make_unique<Impl>(Impl{path, std::move(stem), std::move(head)}));
}

FoldCheckpoint::FoldCheckpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FoldCheckpoint::FoldCheckpoint(FoldCheckpoint&&) noexcept = default;
FoldCheckpoint& FoldCheckpoint::operator=(FoldCheckpoint&&) noexcept = default;
FoldCheckpoint::~FoldCheckpoint() = default;

const std::string& FoldCheckpoint::path() const { return impl_->path; }
const FoldConfig& FoldCheckpoint::config() const { return impl_->head.config; }
const Checkpoint& FoldCheckpoint::stem() const { return impl_->stem; }
std::vector<std::string> FoldCheckpoint::files() const {
  // The head's files first (for a transformers folder they are the stem's too), then the stem's others.
  std::vector<std::string> out = impl_->head.tensors.files;
  for (const auto& f : impl_->stem.files()) {
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
  return out;
}

bool FoldCheckpoint::has(const std::string& name) const { return impl_->head.tensors.names.count(name) > 0; }

uint64_t FoldCheckpoint::head_weight_count() const {
  uint64_t n = 0;
  for (const auto& [name, at] : impl_->head.tensors.names) {
    uint64_t e = 1;
    for (auto d : source::require(*at.source, at.name).shape) e *= static_cast<uint64_t>(d);
    n += e;
  }
  return n;
}

Tensor FoldCheckpoint::read(const std::string& name, const std::vector<int64_t>& shape) const {
  const auto& names = impl_->head.tensors.names;
  const auto it = names.find(name);
  if (it == names.end()) {
    throw FormatError(fmt::format("{}: not a complete ESMFold checkpoint: tensor {} is missing", impl_->path, name));
  }
  const auto& info = source::require(*it->second.source, it->second.name);
  if (!info.floating) throw FormatError(fmt::format("{}: tensor {} holds {}, not floating-point weights", impl_->path, name, info.dtype));
  if (info.shape != shape) {
    throw FormatError(fmt::format("{}: tensor {} has shape [{}]; this ESMFold configuration needs [{}]", impl_->path, name,
                                  fmt::join(info.shape, ", "), fmt::join(shape, ", ")));
  }
  return Tensor{info.shape, it->second.source->read_float(it->second.name)};
}

}  // namespace esm_onnx
