#include "base/util/untrusted_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "esm_onnx/base/errors.h"

namespace esm_onnx::files {
namespace {

std::string kind_text(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  return "not a regular file";
}

std::string open_problem(int e) {
  if (e == ELOOP) return "a symbolic link loop (the link points back at itself)";
  return std::strerror(e);
}

}  // namespace

RegularFile RegularFile::open(const std::string& path, const std::string& what) {
  // O_NONBLOCK: open() of a FIFO without a writer returns at once instead of waiting for one.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    throw FileError(fmt::format("{}: cannot open {}: {}", path, what, open_problem(e)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw FileError(fmt::format("{}: cannot read {}: {}", path, what, std::strerror(e)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileError(fmt::format("{}: {} is {}, not a regular file; give the file itself", path, what, kind_text(st.st_mode)));
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return RegularFile(fd, static_cast<uint64_t>(st.st_size));
}

RegularFile::RegularFile(RegularFile&& o) noexcept : fd_(std::exchange(o.fd_, -1)), size_(o.size_) {}

RegularFile& RegularFile::operator=(RegularFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    size_ = o.size_;
  }
  return *this;
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

int RegularFile::release() { return std::exchange(fd_, -1); }

std::string read_small_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  RegularFile f = RegularFile::open(path, what);
  if (f.size() > max_bytes) {
    throw FormatError(fmt::format("{}: {} holds {} bytes, more than the {} such a file may hold; it is damaged or not "
                                  "{}", path, what, f.size(), max_bytes, what));
  }
  std::string out(static_cast<std::size_t>(f.size()), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n = ::pread(f.fd(), out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileError(fmt::format("{}: cannot read {}: {}", path, what, std::strerror(errno)));
    if (n == 0) break;  // shrank while read
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

PathKind path_kind(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno == ENOENT || errno == ENOTDIR ? PathKind::Missing : PathKind::Unreadable;
  if (S_ISDIR(st.st_mode)) return PathKind::Folder;
  if (S_ISREG(st.st_mode)) return PathKind::Regular;
  return PathKind::Other;
}

}  // namespace esm_onnx::files
