#include "esm_onnx/formats/fasta.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "esm_onnx/base/errors.h"

namespace esm_onnx {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n\v\f");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n\v\f");
  return s.substr(b, e - b + 1);
}

}  // namespace

FastaReader::FastaReader(const std::string& path) : path_(path), buf_(std::size_t{1} << 20) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw FileError(fmt::format("{}: cannot open the FASTA file: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw FileError(fmt::format("{}: is a folder; give the FASTA file", path));
  }
  std::string line;
  try {
    while (read_line(line)) {
      const std::string t = trim(line);
      if (t.empty()) continue;
      if (t[0] != '>') {
        throw InputError(fmt::format("{}: not a FASTA file: line {} comes before any '>' header line", path, line_no_));
      }
      pending_header_ = line;
      pending_line_ = line_no_;
      return;
    }
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
  ::close(fd_);
  fd_ = -1;
  throw InputError(fmt::format("{}: the FASTA file is empty (no '>' record)", path));
}

FastaReader::~FastaReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool FastaReader::read_line(std::string& line) {
  line.clear();
  bool any = false;
  while (true) {
    if (pos_ == end_) {
      if (eof_) {
        if (any) ++line_no_;
        return any;
      }
      ssize_t n;
      do {
        n = ::read(fd_, buf_.data(), buf_.size());
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        throw FileError(fmt::format("{}: cannot read line {}: {}; the records from there on were not read", path_,
                                    line_no_ + 1, std::strerror(errno)));
      }
      pos_ = 0;
      end_ = static_cast<std::size_t>(n);
      if (n == 0) eof_ = true;
      continue;
    }
    any = true;
    const char* start = buf_.data() + pos_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
    const std::size_t take = nl ? static_cast<std::size_t>(nl - start) : end_ - pos_;
    if (line.size() + take > kMaxLine) {
      throw InputError(fmt::format("{}: line {} is longer than {} bytes, which no protein FASTA has (is it a FASTA "
                                   "file, or a device such as /dev/zero?); the records from there on were not read",
                                   path_, line_no_ + 1, kMaxLine));
    }
    try {
      line.append(start, take);
    } catch (const std::bad_alloc&) {
      throw FileError(fmt::format("{}: line {} ({} bytes so far) does not fit in memory; the records from there on "
                                  "were not read", path_, line_no_ + 1, line.size()));
    }
    pos_ += take;
    if (nl) {
      ++pos_;
      ++line_no_;
      return true;
    }
  }
}

std::string fasta_label(std::string_view header_line, int64_t line) {
  // fair-esm strips the header after '>' and names unlabeled records by their 0-based line index.
  const auto gt = header_line.find('>');
  std::string label = trim(std::string(header_line.substr(gt == std::string_view::npos ? 0 : gt + 1)));
  if (label.empty()) label = fmt::format("seqnum{:09d}", line - 1);
  return label;
}

bool FastaReader::next(FastaRecord& r) {
  if (done_ || pending_line_ == 0) return false;
  r.label = fasta_label(pending_header_, pending_line_);
  r.line = pending_line_;
  r.index = count_++;
  r.sequence.clear();
  pending_line_ = 0;
  std::string line;
  while (read_line(line)) {
    if (!line.empty() && line[0] == '>') {
      pending_header_ = line;
      pending_line_ = line_no_;
      return true;
    }
    if (r.sequence.size() + line.size() > kMaxLine) {
      throw InputError(fmt::format("{}: record '{}' (line {}) is longer than {} bytes, which no protein is; the records "
                                   "from there on were not read", path_, r.label, r.line, kMaxLine));
    }
    try {
      r.sequence += trim(line);
    } catch (const std::bad_alloc&) {
      throw FileError(fmt::format("{}: record '{}' (line {}) does not fit in memory; the records from there on were "
                                  "not read", path_, r.label, r.line));
    }
  }
  done_ = true;
  return true;
}

}  // namespace esm_onnx
