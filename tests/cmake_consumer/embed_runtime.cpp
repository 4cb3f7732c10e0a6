// Only the runtime library: load a converted model, embed two sequences, print their mean embeddings.
#include <cstdio>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/engines/model.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  try {
    const esm_onnx::Model model(argv[1], {.threads = 1});
    esm_onnx::EmbedRequest request;
    request.include = esm_onnx::Output::Mean;
    request.repr_layers = {-1};
    const auto out = model.embed(std::vector<esm_onnx::SequenceRecord>{{"p1", "MKTAYIAKQR", 0, 0}, {"p2", "KALTARQQEV", 0, 1}}, request);
    for (const auto& r : out) {
      std::printf("%s", r.label.c_str());
      for (float v : r.find(esm_onnx::Output::Mean, model.info().num_layers)->data) std::printf(" %.8g", v);
      std::printf("\n");
    }
  } catch (const esm_onnx::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
