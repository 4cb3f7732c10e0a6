#include "io/output_file.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "esm_onnx/errors.h"
#include "io/process_tag.h"

namespace esm_onnx::io {
namespace {

namespace fs = std::filesystem;

std::string named(const std::string& what, const std::string& path) {
  return what.empty() ? path : fmt::format("{} {}", what, path);
}

// What a non-regular file is, for the message.
const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Links followed before giving up (the kernel's own limit for a path is 40).
constexpr int kMaxLinks = 40;

}  // namespace

std::string output_destination(const std::string& path, const std::string& what) {
  if (path.empty()) throw UsageError(fmt::format("{}: an empty path", what.empty() ? "output" : what));
  fs::path p(path);
  for (int hops = 0; hops <= kMaxLinks; ++hops) {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) {
      const int e = errno;
      if (e == ENOENT) return p.string();  // nothing there: the folder above is made or checked by the writer
      throw FileError(fmt::format("{}: cannot write there: {}", named(what, path), std::strerror(e)));
    }
    if (S_ISREG(st.st_mode)) return p.string();
    if (!S_ISLNK(st.st_mode)) {
      const std::string via = p.string() == path ? "" : fmt::format(" (the link's target {})", p.string());
      throw FileError(fmt::format("{}{} is {}: esm-onnx writes a finished file there by renaming it over the path, "
                                  "which would replace it; give the path of a regular file (or of none)",
                                  named(what, path), via, kind_of(st.st_mode)));
    }
    std::error_code ec;
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) throw FileError(fmt::format("{}: cannot read the link {}: {}", named(what, path), p.string(), ec.message()));
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  throw FileError(fmt::format("{}: more than {} symbolic links to follow (a loop?)", named(what, path), kMaxLinks));
}

void check_output_folder(const std::string& path, const std::string& what) {
  if (path.empty()) throw UsageError(fmt::format("{}: an empty path", what.empty() ? "output folder" : what));
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {  // follows links: a link to a folder is a folder to write into
    const int e = errno;
    if (e == ENOENT) return;
    throw FileError(fmt::format("{}: cannot write there: {}", named(what, path), std::strerror(e)));
  }
  if (!S_ISDIR(st.st_mode)) {
    throw FileError(fmt::format("{} is {}, not a folder: give a folder (or a path where one can be made)",
                                named(what, path), S_ISREG(st.st_mode) ? "a file" : kind_of(st.st_mode)));
  }
}

void publish(const std::string& tmp, const std::string& dest, const std::string& what) {
  std::string target;
  try {
    target = output_destination(dest, what);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw FileError(fmt::format("{}: cannot move the finished file into place: {}", named(what, dest), std::strerror(e)));
  }
}

std::string scratch_name(const std::string& dest) { return fmt::format("{}.partial-{}", dest, process_tag()); }

void remove_stale_scratch(const std::string& dest) {
  const fs::path d(dest);
  const fs::path folder = d.has_parent_path() ? d.parent_path() : fs::path(".");
  const std::string prefix = d.filename().string() + ".partial-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::error_code type_ec;
    if (!e.is_regular_file(type_ec) || !is_stale_tag(name.substr(prefix.size()))) continue;
    std::error_code rm;
    fs::remove(e.path(), rm);
  }
}

ScratchFile::ScratchFile(std::string dest) : dest_(std::move(dest)), path_(scratch_name(dest_)) {
  remove_stale_scratch(dest_);
}

ScratchFile::~ScratchFile() {
  if (!published_) std::remove(path_.c_str());
}

void ScratchFile::publish(const std::string& what) {
  io::publish(path_, dest_, what);
  published_ = true;
}

}  // namespace esm_onnx::io
