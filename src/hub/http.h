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
  bool too_large{false};   // the body went past the bytes it may have (announced, or the cap)
  std::string bad_range;   // a 206 whose Content-Range is not the range asked for
};

struct HttpSettings {
  std::vector<std::string> headers;  // sent to every host
  // HF_TOKEN: sent as "Authorization: Bearer" to `token_origin` ("scheme://host:port" of the configured
  // endpoint) only; never to another host a redirect or a Location header names (the hub's large files are
  // served by other hosts through signed URLs, as huggingface_hub does it).
  std::string bearer_token;
  std::string token_origin;
  long connect_timeout_s{30};
  long stall_timeout_s{60};     // slower than min_rate for this long ends the attempt
  long min_rate_bytes_per_s{1024};  // a drip of a byte now and then is a stall too
};

// "scheme://host:port" of a URL (the port made explicit), or "" when it is not one.
std::string origin_of(const std::string& url);

// Called with (bytes of this body so far, total of this body or 0 when unknown).
using Progress = std::function<void(uint64_t, uint64_t)>;

Response head(const std::string& url, const HttpSettings& settings);
// GET `url` from byte `offset` (a Range request when > 0), following redirects, writing the body to `out`.
// A 200 to a Range request means the server sends everything: `on_restart` is called before the first
// byte so that the caller can truncate its file (it returns false, with errno set, when it cannot). The
// callbacks run inside libcurl and must not throw. `max_body` (0: no bound) is what the body from `offset` on
// may hold: past it the transfer stops with `too_large`. A 206 must answer the range asked for.
Response get(const std::string& url, const HttpSettings& settings, uint64_t offset, std::FILE* out,
             const std::function<bool()>& on_restart, const Progress& progress, uint64_t max_body = 0);

}  // namespace esm_onnx::net
