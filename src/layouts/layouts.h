#pragma once
// Readers of each checkpoint source: each opens its files, derives the ModelConfig from the source's
// own configuration, and hands back its tensors under the names of its Layout.
#include <memory>
#include <string>
#include <vector>

#include "esm_onnx/checkpoint.h"
#include "model/layout.h"
#include "source/tensor_source.h"

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

// A fair-esm .pt (ESM-1, ESM-1b, ESM-1v, ESM-2), with its -contact-regression.pt when present.
Loaded load_fair_esm(const std::string& path);
// A transformers ESM folder: config.json with model.safetensors, sharded safetensors or pytorch_model.bin.
Loaded load_transformers_esm(const std::string& dir);

// Adds every tensor of `source` to `names` under canonical(name); returns the source, now owned by `into`.
void add_source(Loaded& into, std::unique_ptr<source::TensorSource> source,
                std::string (*canonical)(const std::string&));

}  // namespace esm_onnx::layouts
