#pragma once
// Readers of each checkpoint source: each opens its files, derives the ModelConfig from the source's
// own configuration, and hands back its tensors under the names of its Layout.
#include <memory>
#include <string>
#include <vector>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/model_config.h"
#include "formats/source/tensor_source.h"
#include "formats/torch/torch_file.h"
#include "tensors/layout.h"

namespace esm_onnx::layouts {

struct Loaded {
  ModelConfig config;
  model::Layout layout;
  model::NameTable names;
  std::vector<std::unique_ptr<source::TensorSource>> sources;
  std::string source;         // "fair-esm", "transformers"
  std::string serialization;  // of the main file
  std::vector<std::string> files;
  std::string contact_file;
  std::vector<std::string> notices;
};

// The readers, each with what it recognises from the path alone; the last takes anything else (its own
// reader then says what the file is not).
struct Reader {
  const char* what;
  bool (*recognises)(const std::string& path, files::PathKind kind);
  Loaded (*load)(const std::string& path);
};
const Reader& reader_for(const std::string& path, files::PathKind kind);

// A fair-esm .pt (ESM-1, ESM-1b, ESM-1v, ESM-2), with its -contact-regression.pt when present.
Loaded load_fair_esm(std::shared_ptr<const torchfile::TorchFile> file);
// A transformers model folder: config.json with model.safetensors, sharded safetensors or
// pytorch_model.bin; ESM (model_type esm) or ESM C (model_type esmc).
Loaded load_transformers(const std::string& dir);
// A torch file: fair-esm's checkpoint dict, or a bare state dict (ESM C's release files).
Loaded load_torch(const std::string& path);
// A safetensors file holding a bare state dict (ESM C).
Loaded load_safetensors(const std::string& path);
// ESM C from a bare state dict in any of its three spellings; `source` is the file.
Loaded load_esmc_state(std::unique_ptr<source::TensorSource> source);

// What a tensor whose canonical name is already taken means: an error naming both (two copies of one
// weight), or the newer one replacing it (fair-esm's contact-regression file over the checkpoint).
enum class Overlap { Refuse, Replace };
// Adds every tensor of `source` to `names` under canonical(name); the source is then owned by `into`.
void add_source(Loaded& into, std::unique_ptr<source::TensorSource> source,
                std::string (*canonical)(const std::string&), Overlap overlap = Overlap::Refuse);

}  // namespace esm_onnx::layouts
