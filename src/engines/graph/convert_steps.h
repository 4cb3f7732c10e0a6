#pragma once
// The steps of `convert` that the ESMFold conversion (convert_fold.cpp) shares with the language models'.
#include <onnx/onnx_pb.h>

#include <string>

#include "engines/graph/builder.h"
#include "esm_onnx/engines/convert.h"

namespace esm_onnx {

// The SHA-256 of the checkpoint file; for a folder, of its files' digests in order (config first), so that any
// edit to any of them changes it.
std::string source_digest(const Checkpoint& ckpt);
// Checked, saved under temporary names, and renamed into place (the external data first): a failure leaves
// neither file behind.
void write_atomically(onnx::ModelProto& model, graph::WeightSink& sink, const std::string& output, ConvertReport& rep,
                      const std::string& tmp_onnx, const std::string& tmp_data, const std::string& data_path);
void create_parent(const std::string& output);
// A language model's conversion from a loaded checkpoint (the options already validated).
ConvertReport convert_checkpoint(const ConvertOptions& opt, const Checkpoint& ckpt, const MessageFn& message);
// ESMFold: the stem as a language model beside the output, then the folding graph at the output.
ConvertReport convert_fold(const ConvertOptions& opt, const MessageFn& message);
// Where the stem of a folding model `output` goes: x.onnx -> x.stem.onnx.
std::string fold_stem_path(const std::string& output);

}  // namespace esm_onnx
