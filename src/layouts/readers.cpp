// Which reader a checkpoint path gets: a folder is a transformers model, a .safetensors file a bare ESM C state
// dict, anything else a torch file (fair-esm's checkpoint, or a bare state dict).
#include <filesystem>

#include "layouts/layouts.h"

namespace esm_onnx::layouts {
namespace {

bool folder(const std::string&, files::PathKind kind) { return kind == files::PathKind::Folder; }
bool safetensors_file(const std::string& path, files::PathKind kind) {
  return kind != files::PathKind::Folder && std::filesystem::path(path).extension() == ".safetensors";
}
bool anything(const std::string&, files::PathKind) { return true; }

constexpr Reader kReaders[] = {
    {"a transformers model folder", folder, load_transformers},
    {"a safetensors state dict", safetensors_file, load_safetensors},
    {"a torch file", anything, load_torch},
};

}  // namespace

const Reader& reader_for(const std::string& path, files::PathKind kind) {
  for (const auto& r : kReaders) {
    if (r.recognises(path, kind)) return r;
  }
  return kReaders[std::size(kReaders) - 1];
}

}  // namespace esm_onnx::layouts
