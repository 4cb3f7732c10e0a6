#pragma once
// One file from a URL into place: under `<dest>.incomplete` until whole, resumed from there after a
// dropped connection or a rerun, checked against the size and SHA-256 when known, then renamed.
#include <cstdint>
#include <functional>
#include <string>

#include "hub/http.h"

namespace esm_onnx::net {

struct FetchSettings {
  HttpSettings http;
  int attempts{6};          // tries per file before giving up
  double first_delay_s{1};  // backoff: this, then doubled per retry
  bool progress{false};     // a progress bar on stderr
};

// Settings from the environment: ESM_ONNX_DOWNLOAD_ATTEMPTS, ESM_ONNX_DOWNLOAD_RETRY_DELAY (seconds),
// ESM_ONNX_DOWNLOAD_TIMEOUT (seconds below ESM_ONNX_DOWNLOAD_MIN_RATE bytes/s, default 1024, before an
// attempt is abandoned).
FetchSettings settings_from_environment();

struct FetchSpec {
  std::string url;
  std::string dest;
  std::string sha256;  // expected, lower-case hex; empty when unknown
  uint64_t size{0};    // expected; 0 when unknown
  uint64_t max_size{0};  // when the size is unknown: what the file may hold at most (0: no bound)
  // Checks a finished file that has no digest (throws FormatError when it is not whole); run on the
  // download before it takes its name, and on a file already in place, which is fetched again if it fails.
  std::function<void(const std::string&)> validate;
};

// Returns the bytes fetched (0 when `dest` already exists). Throws NetworkError naming the URL for
// 404/401/403 and for failures that outlast the retries, FileError for a file that cannot be written
// (a full disk: the partial download stays for the next run to resume), FormatError for a checksum mismatch.
uint64_t fetch_file(const FetchSpec& spec, const FetchSettings& settings,
                    const std::function<void(const std::string&)>& log);

// What an HTTP error status means for the user.
std::string explain_status(long status, const std::string& url);

}  // namespace esm_onnx::net
