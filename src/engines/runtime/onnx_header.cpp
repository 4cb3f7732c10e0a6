#include "engines/runtime/onnx_header.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::runtime {
namespace {

constexpr uint64_t kMaxEntry = 64ull << 20;
constexpr int kMaxEntries = 100000;
// ModelProto fields (onnx.proto): the two it reads; every other one is skipped by its wire type.
constexpr uint64_t kOpsetImport = 8, kMetadataProps = 14;

enum Wire : uint64_t { Varint = 0, Fixed64 = 1, Bytes = 2, Fixed32 = 5 };

// A protobuf reader over a byte range of a stream (the file) or of a string (one entry).
class Reader {
 public:
  Reader(std::istream& in, uint64_t size, const std::string& name) : in_(in), left_(size), name_(name) {}

  bool done() const { return left_ == 0; }

  uint64_t varint(const char* what) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const auto b = static_cast<uint64_t>(byte(what));
      v |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw bad(fmt::format("{} is a varint longer than 10 bytes", what));
  }

  std::string bytes(uint64_t n, const char* what) {
    if (n > left_) throw bad(fmt::format("{} is {} bytes long, past the end ({} left)", what, n, left_));
    if (n > kMaxEntry) throw bad(fmt::format("{} is {} bytes long, more than the {} MiB allowed", what, n, kMaxEntry >> 20));
    std::string s(static_cast<std::size_t>(n), '\0');
    if (!in_.read(s.data(), static_cast<std::streamsize>(n))) throw bad(fmt::format("{} is cut short", what));
    left_ -= n;
    return s;
  }

  void skip(uint64_t wire, const char* what) {
    switch (wire) {
      case Varint: varint(what); return;
      case Fixed64: advance(8, what); return;
      case Fixed32: advance(4, what); return;
      case Bytes: advance(varint(what), what); return;
      default: throw bad(fmt::format("{} has wire type {}, which ONNX files do not use", what, wire));
    }
  }

  FormatError bad(const std::string& why) const {
    return FormatError(fmt::format("{}: not a readable ONNX model: {}; convert the checkpoint again", name_, why));
  }

 private:
  unsigned char byte(const char* what) {
    if (left_ == 0) throw bad(fmt::format("{} is cut short", what));
    const int c = in_.get();
    if (c == std::char_traits<char>::eof()) throw bad(fmt::format("{} is cut short", what));
    --left_;
    return static_cast<unsigned char>(c);
  }

  void advance(uint64_t n, const char* what) {
    if (n > left_) throw bad(fmt::format("{} is {} bytes long, past the end ({} left)", what, n, left_));
    in_.seekg(static_cast<std::streamoff>(n), std::ios::cur);
    if (!in_) throw bad(fmt::format("{} is cut short", what));
    left_ -= n;
  }

  std::istream& in_;
  uint64_t left_;
  const std::string& name_;
};

// A two-field message: field 1 a string, field 2 a string (metadata) or a varint (opset version).
std::pair<std::string, std::string> entry(const std::string& bytes, const std::string& name, const char* what) {
  std::istringstream in(bytes);
  Reader r(in, bytes.size(), name);
  std::pair<std::string, std::string> kv;
  while (!r.done()) {
    const uint64_t tag = r.varint(what);
    const uint64_t field = tag >> 3, wire = tag & 7;
    if (field == 1 && wire == Bytes) {
      kv.first = r.bytes(r.varint(what), what);
    } else if (field == 2 && wire == Bytes) {
      kv.second = r.bytes(r.varint(what), what);
    } else {
      r.skip(wire, what);
    }
  }
  return kv;
}

}  // namespace

bool OnnxHeader::imports(const std::string& domain) const {
  return std::find(domains.begin(), domains.end(), domain) != domains.end();
}

OnnxHeader parse_onnx_header(std::istream& in, uint64_t size, const std::string& name) {
  Reader r(in, size, name);
  OnnxHeader h;
  int entries = 0;
  while (!r.done()) {
    const uint64_t tag = r.varint("a field tag");
    const uint64_t field = tag >> 3, wire = tag & 7;
    if (field == 0) throw r.bad("a field numbered 0");
    if ((field == kOpsetImport || field == kMetadataProps) && wire == Bytes) {
      if (++entries > kMaxEntries) throw r.bad(fmt::format("more than {} opset imports and metadata entries", kMaxEntries));
      const char* what = field == kOpsetImport ? "an opset import" : "a metadata entry";
      auto [key, value] = entry(r.bytes(r.varint(what), what), name, what);
      if (field == kOpsetImport) {
        h.domains.push_back(key == "ai.onnx" ? "" : key);
      } else if (!h.metadata.emplace(key, std::move(value)).second) {
        throw r.bad(fmt::format("metadata key '{}' appears twice", key));
      }
    } else {
      r.skip(wire, "a field");
    }
  }
  return h;
}

OnnxHeader read_onnx_header(const std::string& path) {
  if (files::path_kind(path) == files::PathKind::Missing) throw FileError(fmt::format("{}: no such model file", path));
  // Refuses a folder, a FIFO or a device (which would block or never end) before the stream opens it.
  const files::RegularFile checked = files::RegularFile::open(path, "the model");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FileError(fmt::format("{}: cannot open the model for reading", path));
  const auto size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  return parse_onnx_header(in, size, path);
}

}  // namespace esm_onnx::runtime
