#pragma once
// A model location as fair-esm's tools take it (esm-extract's MODEL_LOCATION: a checkpoint file or folder, a
// released name, or an already converted .onnx) made into a converted model. A checkpoint is converted once
// (fp32, every layer, contacts when its <stem>-contact-regression.pt is beside it) into the one cache that the
// CLI and the Python drop-in share:
//   <cache root>/<key>/model.onnx (+ model.onnx.data for large models) and entry.json,
// the key being the SHA-256 of the checkpoint (of its files, for a folder), then "-<16 digits>" of its regression
// file's when there is one, then the variant's suffix ("-logits", "-attentions"). The cache root is
// $ESM_ONNX_CACHE, else $XDG_CACHE_HOME/esm-onnx, else ~/.cache/esm-onnx.
//
// An entry is used only when it is whole and is what its name says: entry.json records the key, the source's
// digest, the variant and each file's size, and the model's own metadata must name the same source. A truncated,
// replaced or foreign entry is converted again with a notice; it is never reported as the user's fault.
#include <string>

#include "esm_onnx/engines/convert.h"

namespace esm_onnx {

// What a conversion in the cache holds.
enum class CachedGraph {
  Everything,  // every layer, contacts when the checkpoint has them: extract's and the drop-in's
  Logits,      // what scoring reads: the logits (the last layer, no contacts, so the fused layers)
  Attentions,  // Everything plus fair-esm's need_head_weights output (the drop-in's need_head_weights=True)
};

// "everything", "logits", "attentions" (the Python binding's spelling); UsageError naming `option` otherwise.
CachedGraph parse_cached_graph(const std::string& name, const std::string& option);

struct CacheRequest {
  CachedGraph graph{CachedGraph::Everything};
  bool progress{false};  // a download's progress bar on the terminal
  LogFn log;             // what is being done: downloading, converting (the converter's own lines)
  LogFn notice;          // what the user should know: a damaged entry converted again
};

// The cache root (see above); FileError naming the variables when none is set.
std::string model_cache_root();

// The .onnx to load for `location`; a name is downloaded first (esm-onnx download). FileError naming the cache
// folder (and the variable that chose it) when it cannot be created or written.
std::string cached_model(const std::string& location, const CacheRequest& request = {});

}  // namespace esm_onnx
