#pragma once
// Reading fair-esm's two checkpoint layouts into one canonical form: a ModelConfig and a map from
// fair-esm's (upgraded) module names to tensors in the file.
#include <map>
#include <string>

#include "esm_onnx/checkpoint.h"
#include "pickle/value.h"

namespace esm_onnx::layout {

struct Parsed {
  ModelConfig config;
  std::map<std::string, std::shared_ptr<pickle::TensorRef>> tensors;  // canonical name -> tensor
  bool zero_mask_row{false};  // roberta_large: the loader zeroes <mask> in embed_tokens
};

// Python's `"".join(s.split(sep)[1:]) if cond in s else s`, as fair-esm's renames are written.
std::string py_strip_prefix(const std::string& s, const std::string& cond, const std::string& sep);

// state: the "model" dict. v1: top-level "args" (argparse.Namespace); v2: top-level "cfg".
Parsed parse_v1(const pickle::Value& args, const pickle::Value& state, const std::string& path);
Parsed parse_v2(const pickle::Value& cfg, const pickle::Value& state, const std::string& path);

// Collects the tensors of a state dict; non-tensor entries (extra_state, version) are skipped.
std::map<std::string, std::shared_ptr<pickle::TensorRef>> tensors_of(const pickle::Value& state,
                                                                     const std::string& path);

// Attribute of a Namespace-like object or dict, typed; throws FormatError naming `path` when absent.
int64_t int_attr(const pickle::Value& obj, const std::string& name, const std::string& path);
bool bool_attr(const pickle::Value& obj, const std::string& name, bool fallback);
std::string str_attr(const pickle::Value& obj, const std::string& name);

}  // namespace esm_onnx::layout
