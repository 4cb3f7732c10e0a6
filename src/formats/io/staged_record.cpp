#include "formats/io/staged_record.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "esm_onnx/base/errors.h"
#include "formats/io/output_file.h"

namespace esm_onnx {
namespace {

constexpr char kMagic[8] = {'E', 'S', 'M', 'R', 'E', 'C', '0', '1'};

class Out {
 public:
  explicit Out(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "wb")) {
    if (!f_) throw FileError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  }
  ~Out() {
    if (f_) std::fclose(f_);
  }
  void bytes(const void* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n) fail();
  }
  template <typename T>
  void value(T v) { bytes(&v, sizeof v); }
  void text(const std::string& s) {
    value<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void finish() {
    const bool ok = std::fflush(f_) == 0;
    const int e = errno;
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!ok || !closed) {
      errno = ok ? errno : e;
      fail();
    }
  }

 private:
  [[noreturn]] void fail() {
    const int e = errno;
    throw FileError(fmt::format("{}: cannot write: {}{}", path_, std::strerror(e),
                                e == ENOSPC || e == EFBIG ? " (the disk is full: free space and run again)" : ""));
  }
  std::string path_;
  std::FILE* f_;
};

class In {
 public:
  explicit In(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw FileError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    in_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(in_.tellg());
    in_.seekg(0);
  }
  void bytes(void* p, uint64_t n) {
    if (n > size_ - pos_) throw FormatError(fmt::format("{}: truncated staged record", path_));
    in_.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
    pos_ += n;
  }
  template <typename T>
  T value() {
    T v;
    bytes(&v, sizeof v);
    return v;
  }
  std::string text() {
    const auto n = value<uint64_t>();
    if (n > size_ - pos_) throw FormatError(fmt::format("{}: truncated staged record", path_));
    std::string s(n, '\0');
    bytes(s.data(), n);
    return s;
  }
  uint64_t left() const { return size_ - pos_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t size_{0}, pos_{0};
};

void header(In& in, std::string& label) {
  char magic[8];
  in.bytes(magic, 8);
  if (std::memcmp(magic, kMagic, 8) != 0) throw FormatError(fmt::format("{}: not a staged record", in.path()));
  label = in.text();
}

}  // namespace

StagedRecord staged_from(const RecordOutput& r) {
  StagedRecord s{r.label, r.length, {}};
  for (const auto& a : r.arrays) s.arrays.push_back({array_key(a.output, a.layer), a.array});
  return s;
}

void write_staged(const StagedRecord& r, const std::string& path) {
  const std::string tmp = path + ".tmp";
  try {
    Out out(tmp);
    out.bytes(kMagic, 8);
    out.text(r.label);
    out.value<int64_t>(r.length);
    out.value<uint64_t>(r.arrays.size());
    for (const auto& a : r.arrays) {
      out.text(a.name);
      out.value<uint64_t>(a.array.shape.size());
      for (auto d : a.array.shape) out.value<int64_t>(d);
      out.bytes(a.array.data.data(), a.array.data.size() * sizeof(float));
    }
    out.finish();
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  io::publish(tmp, path, "the staged record");
}

std::string read_staged_label(const std::string& path) {
  In in(path);
  std::string label;
  header(in, label);
  return label;
}

StagedRecord read_staged(const std::string& path) {
  In in(path);
  StagedRecord r;
  header(in, r.label);
  r.length = in.value<int64_t>();
  const auto n = in.value<uint64_t>();
  if (n > 4096) throw FormatError(fmt::format("{}: {} arrays in a staged record", path, n));
  for (uint64_t i = 0; i < n; ++i) {
    StagedArray a;
    a.name = in.text();
    const auto rank = in.value<uint64_t>();
    if (rank > 8) throw FormatError(fmt::format("{}: array {} of rank {}", path, a.name, rank));
    uint64_t count = 1;
    for (uint64_t d = 0; d < rank; ++d) {
      const auto dim = in.value<int64_t>();
      if (dim < 0 || __builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count)) {
        throw FormatError(fmt::format("{}: array {} has a bad shape", path, a.name));
      }
      a.array.shape.push_back(dim);
    }
    if (count > in.left() / sizeof(float)) throw FormatError(fmt::format("{}: truncated staged record", path));
    a.array.data.resize(count);
    in.bytes(a.array.data.data(), count * sizeof(float));
    r.arrays.push_back(std::move(a));
  }
  return r;
}

}  // namespace esm_onnx
