#pragma once
// `esm-onnx convert`: a fair-esm checkpoint in, an ONNX model out, written by our own graph builder.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "esm_onnx/base/message.h"
#include "esm_onnx/base/options.h"
#include "esm_onnx/base/outputs.h"
#include "esm_onnx/checkpoint/checkpoint.h"

namespace esm_onnx {

enum class ExternalData { Auto, Always, Never };

struct ConvertOptions {
  std::string checkpoint;                         // fair-esm .pt
  std::string output;                             // .onnx to write
  std::vector<std::string> repr_layers{"-1"};     // fair-esm numbering, negatives, "all"
  bool contacts{true};                            // false: leave the contacts output out
  GraphOutputs on_request;                        // outputs built only when asked (ConvertRule::OnRequest): attentions
  Precision precision{kDefaultPrecision};
  bool optimize{true};                            // fused ONNX Runtime ops where the outputs allow
                                                  // (attention maps for contacts need the explicit path)
  Engine engine{kDefaultEngine};                  // the engine the graph is for: OpenVino = standard ops
                                                  // only (never fused), fp32 weights
  int64_t int4_block{kDefaultInt4Block};          // int4 block size: 128 (faster kernels) or 32 (closer)
  ExternalData external_data{ExternalData::Auto};  // Auto: external above 2 GB of weights
  int opset{17};

  void validate() const;
  std::string to_string() const;
};

struct ConvertReport {
  ModelConfig config;
  std::vector<int64_t> repr_layers;
  GraphOutputs outputs;  // what the graph computes
  bool fused{false};
  uint64_t weight_bytes{0};  // in the chosen precision (an upper estimate); decides external data
  bool external_data{false};
  std::string output;
  std::string fold_stem;  // ESMFold: the stem's model, converted beside the folding graph at `output`
  std::string external_data_file;
  std::string source_sha256;
  std::vector<std::string> notices;
};

using LogFn = std::function<void(const std::string&)>;

// Throws UsageError / FormatError / UnsupportedError with the option or file at fault named. `message` hears
// the steps (read, wrote), the checkpoint's notices and each layer written (Progress), typed (message.h).
ConvertReport convert(const ConvertOptions& options, const MessageFn& message = {});

}  // namespace esm_onnx
