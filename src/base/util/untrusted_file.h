#pragma once
// Opening a file esm-onnx did not write (a checkpoint, a config, a model, a FASTA). open() on a FIFO blocks
// until a writer comes, and a device such as /dev/zero never ends, so such files are opened without
// blocking and refused unless they are regular files, before a byte is read. A symbolic link loop or a
// permission problem becomes a FileError naming the file, never a filesystem exception.
#include <cstdint>
#include <string>

namespace esm_onnx::files {

// An open, regular file (the descriptor in blocking mode again); closes it unless released.
class RegularFile {
 public:
  // `what` says what the file is for in the error ("the FASTA file", "config.json", ...).
  static RegularFile open(const std::string& path, const std::string& what);
  RegularFile(RegularFile&& o) noexcept;
  RegularFile& operator=(RegularFile&& o) noexcept;
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  ~RegularFile();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  // Hands the descriptor over (to libzip, to an mmap that outlives it...).
  int release();

 private:
  RegularFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_{-1};
  uint64_t size_{0};
};

// The whole file as bytes; FormatError when it is larger than `max_bytes` (a crafted or wrong file).
std::string read_small_file(const std::string& path, const std::string& what, uint64_t max_bytes);

// What a path is, without following it into a block: "missing", "folder", "regular", "other" (FIFO,
// socket, device) or "unreadable" (a link loop, no permission), for messages and dispatch.
enum class PathKind { Missing, Folder, Regular, Other, Unreadable };
PathKind path_kind(const std::string& path);

}  // namespace esm_onnx::files
