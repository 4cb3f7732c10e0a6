#include "download/http.h"

#include <curl/curl.h>

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
};

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
    if (auto it = t->response.headers.find("content-length"); it != t->response.headers.end()) {
      t->total = std::strtoull(it->second.c_str(), nullptr, 10);
    }
  }
  const std::size_t bytes = size * n;
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

Easy make(const std::string& url, const HttpSettings& s, curl_slist** list) {
  global_init();
  Easy c(curl_easy_init(), curl_easy_cleanup);
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT, s.connect_timeout_s);
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_TIME, s.stall_timeout_s);
  curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.get(), CURLOPT_USERAGENT, "esm-onnx");
  for (const auto& h : s.headers) *list = curl_slist_append(*list, h.c_str());
  if (*list) curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, *list);
  return c;
}

void finish(CURL* c, CURLcode rc, Response& r, char* errbuf) {
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  if (rc != CURLE_OK && !r.write_failed) r.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
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
             const std::function<bool()>& on_restart, const Progress& progress) {
  curl_slist* list = nullptr;
  auto c = make(url, settings, &list);
  Transfer t;
  t.out = out;
  t.range_requested = offset > 0;
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
