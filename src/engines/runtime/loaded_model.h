#pragma once
// What a Model holds: the session and what was read when it was loaded. Behind the public Model (model.cpp)
// and used by embed_stream.cpp; it needs nothing of the public Model class.
#include <string>

#include "engines/runtime/session.h"
#include "esm_onnx/base/alphabet.h"
#include "esm_onnx/base/runtime_options.h"

namespace esm_onnx::runtime {

struct LoadedModel {
  LoadedModel(const std::string& p, const RuntimeOptions& o) : path(p), options(o), session(p, o) {}

  std::string path;
  RuntimeOptions options;
  Session session;
  Alphabet alphabet;
  double load_seconds{0};
};

}  // namespace esm_onnx::runtime
