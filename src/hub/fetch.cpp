#include "hub/fetch.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>

#include "base/util/numbers.h"
#include "base/util/sha256.h"
#include "esm_onnx/base/errors.h"
#include "formats/io/output_file.h"

namespace esm_onnx::net {
namespace {

namespace fs = std::filesystem;

template <typename T>
T env_number(const char* name, T fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  if (auto n = text::parse_number<T>(v)) return *n;
  throw UsageError(fmt::format("{}={}: not a number", name, v));
}

// A bar on a terminal, redrawn at most ten times a second.
class Bar {
 public:
  Bar(bool on, std::string label) : on_(on && isatty(STDERR_FILENO)), label_(std::move(label)) {}
  void update(uint64_t done, uint64_t total) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100) && done != total) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    const double rate = s > 0 ? static_cast<double>(done - first_) / s / 1e6 : 0;
    if (total > 0) {
      const int width = 30;
      const auto filled = static_cast<int>(width * static_cast<double>(done) / static_cast<double>(total));
      fmt::print(stderr, "\r{} [{}{}] {:.1f}/{:.1f} MB {:.1f} MB/s ", label_, std::string(filled, '#'),
                 std::string(width - std::min(filled, width), ' '), static_cast<double>(done) / 1e6,
                 static_cast<double>(total) / 1e6, rate);
    } else {
      fmt::print(stderr, "\r{} {:.1f} MB {:.1f} MB/s ", label_, static_cast<double>(done) / 1e6, rate);
    }
    drawn_ = true;
  }
  void start_at(uint64_t first) { first_ = first; start_ = std::chrono::steady_clock::now(); }
  ~Bar() {
    if (drawn_) fmt::print(stderr, "\n");
  }

 private:
  bool on_;
  std::string label_;
  bool drawn_{false};
  uint64_t first_{0};
  std::chrono::steady_clock::time_point start_{std::chrono::steady_clock::now()}, last_{};
};

uint64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

}  // namespace

FetchSettings settings_from_environment() {
  FetchSettings s;
  s.attempts = std::max(1, env_number<int>("ESM_ONNX_DOWNLOAD_ATTEMPTS", s.attempts));
  s.first_delay_s = env_number<double>("ESM_ONNX_DOWNLOAD_RETRY_DELAY", s.first_delay_s);
  s.http.stall_timeout_s = std::max(1L, env_number<long>("ESM_ONNX_DOWNLOAD_TIMEOUT", s.http.stall_timeout_s));
  s.http.min_rate_bytes_per_s = std::max(1L, env_number<long>("ESM_ONNX_DOWNLOAD_MIN_RATE", s.http.min_rate_bytes_per_s));
  return s;
}

std::string explain_status(long status, const std::string& url) {
  switch (status) {
    case 404: return fmt::format("{}: not found (404): check the model name or repository id, and the revision", url);
    case 401:
    case 403:
      return fmt::format("{}: access refused ({}): the repository is private or gated; accept its terms on the hub "
                         "and set HF_TOKEN to a token that may read it", url, status);
    default: return fmt::format("{}: the server answered {}", url, status);
  }
}

uint64_t fetch_file(const FetchSpec& spec, const FetchSettings& settings, const std::function<void(const std::string&)>& log) {
  std::error_code ec;
  if (fs::exists(spec.dest, ec)) {
    if (!spec.validate) return 0;
    try {
      spec.validate(spec.dest);
      return 0;
    } catch (const FormatError& e) {
      // A damaged file in a shared cache (fair-esm reads the same folder) is repaired, not kept.
      if (log) log(fmt::format("{}: the file in the cache is damaged ({}); fetching it again", spec.dest, e.what()));
      fs::remove(spec.dest, ec);
    }
  }
  const std::string tmp = spec.dest + ".incomplete";
  fs::create_directories(fs::path(spec.dest).parent_path(), ec);
  if (ec) throw FileError(fmt::format("{}: cannot create the folder: {}", fs::path(spec.dest).parent_path().string(), ec.message()));
  Bar bar(settings.progress, fs::path(spec.dest).filename().string());
  uint64_t fetched = 0;
  std::string last_problem;
  double delay = settings.first_delay_s;
  for (int attempt = 1; attempt <= settings.attempts; ++attempt) {
    const uint64_t have = file_size(tmp);
    if (spec.size > 0 && have == spec.size) break;  // an earlier run got every byte
    if (spec.size > 0 && have > spec.size) fs::remove(tmp, ec);
    std::FILE* out = std::fopen(tmp.c_str(), have > 0 && !(spec.size > 0 && have > spec.size) ? "ab" : "wb");
    if (!out) throw FileError(fmt::format("{}: cannot write: {}", tmp, std::strerror(errno)));
    const uint64_t offset = file_size(tmp);
    if (offset > 0 && log && attempt == 1) log(fmt::format("resuming {} at byte {}", spec.url, offset));
    bar.start_at(offset);
    bool restarted = false;
    auto restart = [&] {
      // The server ignored the Range request and sends the whole file.
      std::fflush(out);
      if (ftruncate(fileno(out), 0) != 0 || std::fseek(out, 0, SEEK_SET) != 0) return false;
      restarted = true;
      return true;
    };
    const uint64_t bound = spec.size > 0 ? spec.size : spec.max_size;
    const Response r = get(spec.url, settings.http, offset, out, restart,
                           [&](uint64_t done, uint64_t total) {
                             const uint64_t base = restarted ? 0 : offset;
                             bar.update(base + done, total ? base + total : spec.size);
                           },
                           bound > offset ? bound - offset : (bound > 0 ? 1 : 0));
    const bool flushed = std::fflush(out) == 0;
    const int flush_errno = errno;
    std::fclose(out);
    fetched += file_size(tmp) - (restarted ? 0 : offset);
    if (r.write_failed || !flushed) {
      const int e = r.write_failed ? r.write_errno : flush_errno;
      throw FileError(fmt::format("{}: cannot write the download: {}{}", tmp, std::strerror(e),
                                  e == ENOSPC ? " (the disk is full: free space and run again; the download resumes "
                                                "where it stopped)"
                                              : ""));
    }
    if (r.too_large) {
      fs::remove(tmp, ec);
      throw NetworkError(fmt::format("{}: the server sent more than the {} bytes {}; the download was removed", spec.url,
                                     bound, spec.size > 0 ? "it announced" : "such a file may hold"));
    }
    if (!r.bad_range.empty()) {
      // What we hold cannot be trusted to continue: the next attempt starts over.
      fs::remove(tmp, ec);
      last_problem = fmt::format("{}: a resumed download came back from the wrong byte ({})", spec.url, r.bad_range);
    } else if (r.error.empty() && (r.status == 200 || r.status == 206)) {
      last_problem.clear();
      break;
    } else if (r.status == 416 && spec.size > 0 && file_size(tmp) == spec.size) {
      break;
    } else if (r.status == 416) {
      fs::remove(tmp, ec);  // what we hold does not fit the file any more: start over
      last_problem = fmt::format("{}: the server refused to resume (416)", spec.url);
    } else if (r.status == 404 || r.status == 401 || r.status == 403) {
      fs::remove(tmp, ec);
      throw NetworkError(explain_status(r.status, spec.url));
    } else {
      last_problem = r.error.empty() ? explain_status(r.status, spec.url) : fmt::format("{}: {}", spec.url, r.error);
    }
    if (attempt < settings.attempts) {
      if (log) log(fmt::format("{}; retrying in {:.1f} s ({} of {})", last_problem, delay, attempt + 1, settings.attempts));
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      delay *= 2;
    }
  }
  if (!last_problem.empty()) {
    if (file_size(tmp) == 0) fs::remove(tmp, ec);
    throw NetworkError(fmt::format("{}; gave up after {} attempts (the {} bytes fetched stay in {} for the next run)",
                                   last_problem, settings.attempts, file_size(tmp), tmp));
  }
  const uint64_t got = file_size(tmp);
  if (spec.size > 0 && got != spec.size) {
    throw NetworkError(fmt::format("{}: received {} bytes, the server announced {}; run again to resume", spec.url, got, spec.size));
  }
  if (spec.validate) {
    try {
      spec.validate(tmp);
    } catch (const FormatError& e) {
      fs::remove(tmp, ec);
      throw FormatError(fmt::format("{}: the download is not a whole file ({}); it was removed: run again", spec.url,
                                    e.what()));
    }
  }
  if (!spec.sha256.empty()) {
    const std::string digest = sha256_file(tmp);
    if (digest != spec.sha256) {
      fs::remove(tmp, ec);
      throw FormatError(fmt::format("{}: SHA-256 {} differs from the {} the hub gives; the download was removed, run "
                                    "again", spec.url, digest, spec.sha256));
    }
  }
  io::publish(tmp, spec.dest, "the download of " + spec.url + " to");
  return fetched;
}

}  // namespace esm_onnx::net
