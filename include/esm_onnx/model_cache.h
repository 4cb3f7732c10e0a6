#pragma once
// A model location as fair-esm's tools take it (esm-extract's MODEL_LOCATION: a checkpoint file or folder, a
// released name, or an already converted .onnx) made into a converted model. A checkpoint is converted once
// (fp32, every layer, contacts when its <stem>-contact-regression.pt is beside it) into the cache that the
// Python drop-in shares, <cache>/<SHA-256 of the checkpoint>[-<16 digits of the regression file's>]/model.onnx,
// and reused from there.
#include <string>

#include "esm_onnx/convert.h"

namespace esm_onnx {

// What a conversion in the cache holds.
enum class CachedGraph {
  Everything,  // every layer, contacts when the checkpoint has them: extract's and the drop-in's
  Logits,      // what scoring reads: the logits (the last layer, no contacts, so the fused layers), key + "-logits"
};

// The .onnx to load for `location`; a name is downloaded first (esm-onnx download). FileError when the cache
// folder cannot be written or located.
std::string cached_model(const std::string& location, bool progress = false, const LogFn& log = {},
                         CachedGraph graph = CachedGraph::Everything);

}  // namespace esm_onnx
