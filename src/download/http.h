#pragma once
// The little of HTTP that downloads need, on libcurl: a HEAD that reports headers without following
// redirects (the hub's checksums live in the first response), and a GET that streams into a file from a
// byte offset (Range) and gives up on a stalled connection.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace esm_onnx::net {

struct Response {
  long status{0};
  std::map<std::string, std::string> headers;  // lower-case names, of the last response
  std::string error;                           // a transport failure (connection, timeout); empty otherwise
  bool write_failed{false};                    // the file could not take the bytes (a full disk)
  int write_errno{0};
};

struct HttpSettings {
  std::vector<std::string> headers;  // "Authorization: Bearer ..." and the like
  long connect_timeout_s{30};
  long stall_timeout_s{60};  // no byte for this long ends the attempt
};

// Called with (bytes of this body so far, total of this body or 0 when unknown).
using Progress = std::function<void(uint64_t, uint64_t)>;

Response head(const std::string& url, const HttpSettings& settings);
// GET `url` from byte `offset` (a Range request when > 0), following redirects, writing the body to `out`.
// A 200 to a Range request means the server sends everything: `on_restart` is called before the first
// byte so that the caller can truncate its file (it returns false, with errno set, when it cannot). The
// callbacks run inside libcurl and must not throw.
Response get(const std::string& url, const HttpSettings& settings, uint64_t offset, std::FILE* out,
             const std::function<bool()>& on_restart, const Progress& progress);

}  // namespace esm_onnx::net
