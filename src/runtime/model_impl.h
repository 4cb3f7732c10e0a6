#pragma once
// What a Model holds; shared by model.cpp and embed_stream.cpp, never by public headers.
#include <string>

#include "esm_onnx/model.h"
#include "runtime/session.h"

namespace esm_onnx {

struct Model::Impl {
  Impl(const std::string& p, const RuntimeOptions& o) : path(p), options(o), session(p, o) {}

  std::string path;
  RuntimeOptions options;
  runtime::Session session;
  Alphabet alphabet;
  double load_seconds{0};
};

}  // namespace esm_onnx
