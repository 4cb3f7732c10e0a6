#include "formats/io/output_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "esm_onnx/base/errors.h"
#include "formats/io/process_tag.h"

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

void refuse_input(const std::string& dest, const std::string& what, const std::string& input, const std::string& input_what) {
  struct stat a {}, b {};
  if (dest.empty() || input.empty() || stat(dest.c_str(), &a) != 0 || stat(input.c_str(), &b) != 0) return;
  if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    throw FileError(fmt::format("{} is {} {}, which this run reads: writing there would destroy it; give another path",
                                named(what, dest), input_what, input));
  }
}

namespace {

// `tmp` renamed to `target`; across file systems (a link to another disk), a copy made beside the target first.
int move_into_place(const std::string& tmp, const std::string& target) {
  if (std::rename(tmp.c_str(), target.c_str()) == 0) return 0;
  if (errno != EXDEV) return errno;
  const std::string near = scratch_name(target);
  std::error_code ec;
  fs::remove(near, ec);
  fs::copy_file(tmp, near, ec);
  if (ec) {
    fs::remove(near, ec);
    return ec.value() ? ec.value() : EIO;
  }
  if (std::rename(near.c_str(), target.c_str()) != 0) {
    const int e = errno;
    fs::remove(near, ec);
    return e;
  }
  std::remove(tmp.c_str());
  return 0;
}

// Scratch files are named after their destination ("<name>.partial-<host>-<pid>"), or, where that name would pass
// the 255-byte limit of a file name, after a digest of it (".<16 hex>.partial-<host>-<pid>").
std::string scratch_prefix(const fs::path& target) {
  const std::string name = target.filename().string();
  constexpr std::size_t kRoom = 255 - 64;  // what the tag may take, and then some
  if (name.size() + 9 <= kRoom) return name + ".partial-";
  uint64_t h = 1469598103934665603ull;  // FNV-1a: the same name gives the same scratch name in every build
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return fmt::format(".{:016x}.partial-", h);
}

fs::path folder_of(const fs::path& p) { return p.has_parent_path() ? p.parent_path() : fs::path("."); }

}  // namespace

void publish(const std::string& tmp, const std::string& dest, const std::string& what) {
  std::string target;
  try {
    target = output_destination(dest, what);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (const int e = move_into_place(tmp, target); e != 0) {
    std::remove(tmp.c_str());
    throw FileError(fmt::format("{}: cannot move the finished file into place: {}", named(what, dest), std::strerror(e)));
  }
}

std::string scratch_name(const std::string& dest) {
  const fs::path d(dest);
  return (folder_of(d) / (scratch_prefix(d) + process_tag())).string();
}

void remove_stale_scratch(const std::string& dest) {
  const fs::path d(dest);
  const std::string prefix = scratch_prefix(d);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder_of(d), ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::error_code type_ec;
    if (!e.is_regular_file(type_ec) || !is_stale_tag(name.substr(prefix.size()))) continue;
    std::error_code rm;
    fs::remove(e.path(), rm);
  }
}

ScratchFile::ScratchFile(std::string dest, const std::string& what) : dest_(std::move(dest)) {
  // Beside the file that will be replaced (a link's target), so that the rename stays on one file system.
  const std::string target = output_destination(dest_, what);
  path_ = scratch_name(target);
  remove_stale_scratch(target);
  // The name is predictable: whatever is there (a link, a FIFO placed in advance) is removed, and the file is
  // created anew, never opened through a link.
  std::remove(path_.c_str());
  const int fd = ::open(path_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) {
    const int e = errno;
    throw FileError(fmt::format("{}: cannot create a file there: {} (the scratch file {})", named(what, dest_),
                                std::strerror(e), path_));
  }
  ::close(fd);
}

ScratchFile::~ScratchFile() {
  if (!published_) std::remove(path_.c_str());
}

void ScratchFile::publish(const std::string& what) {
  published_ = true;  // publish removes the scratch file when it fails
  io::publish(path_, dest_, what);
}

}  // namespace esm_onnx::io
