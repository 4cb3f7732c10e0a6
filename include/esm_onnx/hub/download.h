#pragma once
// `esm-onnx download`: released weights by name, into the caches the reference tools use, so that
// esm-onnx, fair-esm and transformers share one copy.
//
//   fair-esm names (esm2_t33_650M_UR50D, esm1v_t33_650M_UR90S_1, ...): the model file and its contact
//     regression from fair-esm's URLs, into torch hub's checkpoint folder ($TORCH_HOME/hub/checkpoints).
//   Hub repository ids (facebook/esm2_t33_650M_UR50D, biohub/ESMC-300M, ...): config.json and the weights,
//     into the hub cache ($HF_HUB_CACHE, else $HF_HOME/hub) in its blobs/snapshots/refs layout; HF_TOKEN
//     is sent when set. esmc_300m / esmc_600m: EvolutionaryScale's release .pth files.
//
// Downloads resume after a dropped connection (HTTP Range), land under a temporary name and are renamed
// when complete, retry with backoff, and are checked against the hub's SHA-256 where it gives one.
// ESM_ONNX_FAIR_ESM_URL and HF_ENDPOINT point them at another server (a mirror, or a test's).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace esm_onnx {

struct DownloadOptions {
  std::string name;      // a released name or a hub repository id
  std::string dir;       // the cache folder to use instead of the default one
  std::string revision{"main"};  // hub repositories: branch, tag or commit
  bool progress{false};  // draw a progress bar (on a terminal)
};

struct DownloadResult {
  std::string path;  // what `convert` takes: the .pt file or .pth file, or the snapshot folder
  std::vector<std::string> files;  // every file of the model, in the cache
  uint64_t bytes_fetched{0};       // 0 when everything was cached already
};

// The release catalog: fair-esm's released sequence models (the names of esm.pretrained's loaders), ESM C's
// releases, the ESMFold releases, and fair-esm's released names of models esm-onnx does not run (MSA Transformer,
// ESM-IF, the ESMFold files that exist only in fair-esm's format), which download and the drop-in refuse with
// UnsupportedError.
std::vector<std::string> fair_esm_releases();
std::vector<std::string> esmc_releases();
std::vector<std::string> fold_releases();  // ESMFold releases, fetched as their transformers folder
std::vector<std::string> unsupported_releases();

// Whether `text` names something `download` can fetch (a released name or a repository id).
bool is_downloadable_name(const std::string& text);

DownloadResult download(const DownloadOptions& options, const std::function<void(const std::string&)>& log = {});

// `convert`'s argument: an existing file or folder as it is; otherwise a downloadable name, fetched into
// its cache when not there yet, and the cached path returned. Throws FileError for anything else.
std::string resolve_checkpoint(const std::string& name_or_path, bool progress = false,
                               const std::function<void(const std::string&)>& log = {});

}  // namespace esm_onnx
