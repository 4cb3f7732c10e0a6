#include "hub/http.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>
#include <mutex>

namespace esm_onnx::net {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  Response response;
  std::FILE* out{nullptr};
  bool range_requested{false};
  bool body_started{false};
  std::function<bool()> on_restart;
  Progress progress;
  uint64_t received{0};
  uint64_t total{0};
  uint64_t offset{0};
  uint64_t max_body{0};
};

// "bytes START-END/TOTAL": START, or -1 when the header is not of that form.
int64_t range_start(const std::string& v) {
  if (v.rfind("bytes ", 0) != 0) return -1;
  const char* p = v.c_str() + 6;
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(p, &end, 10);
  if (end == p || *end != '-' || errno != 0 || n > static_cast<unsigned long long>(INT64_MAX)) return -1;
  return static_cast<int64_t>(n);
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new response (after a redirect): keep only the last one's headers
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string key = line.substr(0, colon);
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string value = line.substr(colon + 1);
  const auto first = value.find_first_not_of(" \t");
  const auto last = value.find_last_not_of(" \t\r\n");
  value = first == std::string::npos ? std::string() : value.substr(first, last - first + 1);
  t->response.headers[key] = value;
  return size * n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->body_started) {
    t->body_started = true;
    if (t->range_requested && t->response.headers.count("content-range") == 0 && t->on_restart && !t->on_restart()) {
      t->response.write_failed = true;
      t->response.write_errno = errno;
      return 0;
    }
    if (auto it = t->response.headers.find("content-range"); t->range_requested && it != t->response.headers.end()) {
      // A resume answered from another byte than asked would splice two parts of the file.
      if (range_start(it->second) != static_cast<int64_t>(t->offset)) {
        t->response.bad_range = fmt::format("asked for bytes from {}, the server sent '{}'", t->offset, it->second);
        return 0;
      }
    }
    if (auto it = t->response.headers.find("content-length"); it != t->response.headers.end()) {
      t->total = std::strtoull(it->second.c_str(), nullptr, 10);
    }
  }
  const std::size_t bytes = size * n;
  // A restarted body (200 to a Range request) holds the whole file: its bound counts from byte 0.
  const uint64_t bound = t->max_body == 0 ? 0 : t->max_body + (t->range_requested && t->response.headers.count("content-range") == 0 ? t->offset : 0);
  if (bound > 0 && t->received + bytes > bound) {
    t->response.too_large = true;
    return 0;
  }
  if (std::fwrite(data, 1, bytes, t->out) != bytes) {
    t->response.write_failed = true;
    t->response.write_errno = errno;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  t->received += bytes;
  if (t->progress) t->progress(t->received, t->total);
  return bytes;
}

using Easy = std::unique_ptr<CURL, void (*)(CURL*)>;

}  // namespace

std::string origin_of(const std::string& url) {
  global_init();
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return {};
  std::string out;
  for (auto [part, flags] : {std::pair{CURLUPART_SCHEME, 0u}, {CURLUPART_HOST, 0u}, {CURLUPART_PORT, static_cast<unsigned>(CURLU_DEFAULT_PORT)}}) {
    char* v = nullptr;
    if (curl_url_get(u.get(), part, &v, flags) != CURLUE_OK || !v) return {};
    std::string text(v);
    curl_free(v);
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    out += part == CURLUPART_SCHEME ? text + "://" : part == CURLUPART_HOST ? text : ":" + text;
  }
  return out;
}

namespace {

Easy make(const std::string& url, const HttpSettings& s, curl_slist** list) {
  global_init();
  Easy c(curl_easy_init(), curl_easy_cleanup);
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT, s.connect_timeout_s);
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_LIMIT, std::max(1L, s.min_rate_bytes_per_s));
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_TIME, s.stall_timeout_s);
  curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.get(), CURLOPT_USERAGENT, "esm-onnx");
  for (const auto& h : s.headers) *list = curl_slist_append(*list, h.c_str());
  // The token only to the endpoint's own origin; curl drops it itself when a redirect leaves that origin
  // (CURLOPT_UNRESTRICTED_AUTH stays off).
  if (!s.bearer_token.empty() && !s.token_origin.empty() && origin_of(url) == s.token_origin) {
    *list = curl_slist_append(*list, ("Authorization: Bearer " + s.bearer_token).c_str());
  }
  curl_easy_setopt(c.get(), CURLOPT_UNRESTRICTED_AUTH, 0L);
  if (*list) curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, *list);
  return c;
}

void finish(CURL* c, CURLcode rc, Response& r, char* errbuf) {
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  if (rc != CURLE_OK && !r.write_failed && !r.too_large && r.bad_range.empty()) r.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
}

}  // namespace

Response head(const std::string& url, const HttpSettings& settings) {
  curl_slist* list = nullptr;
  auto c = make(url, settings, &list);
  Transfer t;
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c.get(), CURLOPT_NOBODY, 1L);
  curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c.get(), CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(c.get());
  finish(c.get(), rc, t.response, errbuf);
  curl_slist_free_all(list);
  return t.response;
}

Response get(const std::string& url, const HttpSettings& settings, uint64_t offset, std::FILE* out,
             const std::function<bool()>& on_restart, const Progress& progress, uint64_t max_body) {
  curl_slist* list = nullptr;
  auto c = make(url, settings, &list);
  Transfer t;
  t.out = out;
  t.range_requested = offset > 0;
  t.offset = offset;
  t.max_body = max_body;
  t.on_restart = on_restart;
  t.progress = progress;
  char errbuf[CURL_ERROR_SIZE] = {};
  const std::string range = std::to_string(offset) + "-";
  if (offset > 0) curl_easy_setopt(c.get(), CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c.get(), CURLOPT_MAXREDIRS, 10L);
  // Error statuses carry no body worth writing into the file.
  curl_easy_setopt(c.get(), CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c.get(), CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(c.get());
  finish(c.get(), rc, t.response, errbuf);
  if (rc == CURLE_HTTP_RETURNED_ERROR) t.response.error.clear();  // the status says it
  curl_slist_free_all(list);
  return t.response;
}

}  // namespace esm_onnx::net
