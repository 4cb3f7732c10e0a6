#include "formats/io/process_tag.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace esm_onnx::io {

std::string process_tag() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string h(host);
  for (char& c : h) {
    if (c == '/' || c == '-') c = '_';
  }
  return fmt::format("{}-{}", h.empty() ? "host" : h, static_cast<long>(getpid()));
}

bool is_stale_tag(const std::string& name) {
  const std::string mine = process_tag();
  const std::string host = mine.substr(0, mine.rfind('-'));
  const auto dash = name.rfind('-');
  if (dash == std::string::npos || name.substr(0, dash) != host) return false;
  // "<pid>" or "<pid>.<n>" exactly: a name that merely starts like one (a record's file "x-12.npz") is no scratch.
  char* end = nullptr;
  const long pid = std::strtol(name.c_str() + dash + 1, &end, 10);
  if (end == name.c_str() + dash + 1) return false;
  if (*end == '.') {
    const char* n = end + 1;
    if (*n == '\0') return false;
    while (*n >= '0' && *n <= '9') ++n;
    if (*n != '\0') return false;
  } else if (*end != '\0') {
    return false;
  }
  return pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace esm_onnx::io
