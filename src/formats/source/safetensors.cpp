#include "formats/source/safetensors.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "formats/source/header_json.h"
#include "formats/torch/torch_file.h"

namespace esm_onnx::source {
namespace {

struct DtypeInfo {
  const char* code;  // as safetensors writes it
  const char* name;  // as torch names it
  std::size_t size;
  bool floating;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", "float64", 8, true},  {"F32", "float32", 4, true},   {"F16", "float16", 2, true},
    {"BF16", "bfloat16", 2, true}, {"I64", "int64", 8, false},    {"I32", "int32", 4, false},
    {"I16", "int16", 2, false},    {"I8", "int8", 1, false},      {"U8", "uint8", 1, false},
    {"U16", "uint16", 2, false},   {"U32", "uint32", 4, false},   {"U64", "uint64", 8, false},
    {"BOOL", "bool", 1, false},    {"F8_E4M3", "float8_e4m3fn", 1, false}, {"F8_E5M2", "float8_e5m2", 1, false},
};

const DtypeInfo* dtype_of(const std::string& code) {
  for (const auto& d : kDtypes) {
    if (code == d.code) return &d;
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<SafetensorsSource> SafetensorsSource::open(const std::string& path) {
  files::RegularFile file = files::RegularFile::open(path, "the safetensors file");
  const auto size = static_cast<std::size_t>(file.size());
  if (size < 8) {
    throw FormatError(fmt::format("{}: not a safetensors file: {} bytes only (empty or truncated)", path, size));
  }
  const int fd = file.release();
  void* base = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) throw FileError(fmt::format("{}: cannot map the file: {}", path, std::strerror(errno)));
  try {
    return std::unique_ptr<SafetensorsSource>(new SafetensorsSource(path, static_cast<const char*>(base), size));
  } catch (...) {
    munmap(base, size);
    throw;
  }
}

SafetensorsSource::SafetensorsSource(std::string path, const char* base, std::size_t size)
    : path_(std::move(path)), base_(base), size_(size) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(base_[i]);
  if (n > kMaxHeader || n > size_ - 8) {
    throw FormatError(fmt::format("{}: the safetensors header claims {} bytes, but the file has {} after the length "
                                  "(and headers stop at {}); the file is truncated or not safetensors",
                                  path_, n, size_ - 8, kMaxHeader));
  }
  data_start_ = 8 + n;
  static const json::Schema schema{{"dtype", "shape", "data_offsets"}, {"__metadata__"}, 64};
  const auto header = json::parse(std::string_view(base_ + 8, n), path_ + ": safetensors header", &schema);
  if (header.kind != json::Value::Kind::Object) throw FormatError(fmt::format("{}: the safetensors header is not a JSON object", path_));
  const uint64_t data_size = size_ - data_start_;
  struct Span {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Span> spans;
  for (std::size_t m = 0; m < header.keys.size(); ++m) {
    const std::string& name = header.keys[m];
    const json::Value& entry = header.items[m];
    if (name == "__metadata__") {
      if (entry.kind != json::Value::Kind::Object) throw FormatError(fmt::format("{}: __metadata__ is not an object", path_));
      for (std::size_t k = 0; k < entry.keys.size(); ++k) {
        if (entry.items[k].kind != json::Value::Kind::String) {
          throw FormatError(fmt::format("{}: __metadata__ entry '{}' is not a string", path_, entry.keys[k]));
        }
        metadata_[entry.keys[k]] = entry.items[k].text;
      }
      continue;
    }
    auto bad = [&](const std::string& why) {
      return FormatError(fmt::format("{}: tensor {}: {}; the file is corrupt", path_, name, why));
    };
    if (entry.kind != json::Value::Kind::Object) throw bad("its header entry is not an object");
    const auto* dtype = entry.get("dtype");
    const auto* shape = entry.get("shape");
    const auto* offsets = entry.get("data_offsets");
    if (!dtype || dtype->kind != json::Value::Kind::String) throw bad("no dtype");
    const DtypeInfo* d = dtype_of(dtype->text);
    if (!d) throw bad(fmt::format("unknown dtype '{}'", dtype->text));
    if (!shape || shape->kind != json::Value::Kind::Array) throw bad("no shape");
    if (!offsets || offsets->kind != json::Value::Kind::Array || offsets->items.size() != 2) throw bad("no [begin, end] data_offsets");
    TensorInfo info{name, d->name, {}, d->floating};
    uint64_t numel = 1;
    for (const auto& dim : shape->items) {
      uint64_t v = 0;
      if (!dim.as_index(v)) throw bad("a shape entry is not a non-negative integer");
      if (__builtin_mul_overflow(numel, v, &numel) || v > (uint64_t{1} << 40)) throw bad("its shape is impossibly large");
      info.shape.push_back(static_cast<int64_t>(v));
    }
    uint64_t begin = 0, end = 0, nbytes = 0;
    if (!offsets->items[0].as_index(begin) || !offsets->items[1].as_index(end)) throw bad("data_offsets are not integers");
    if (__builtin_mul_overflow(numel, d->size, &nbytes)) throw bad("its shape is impossibly large");
    if (begin > end || end > data_size) {
      throw bad(fmt::format("bytes {}..{} lie outside the {} bytes of data the file holds", begin, end, data_size));
    }
    if (end - begin != nbytes) {
      throw bad(fmt::format("{} {} elements need {} bytes, the header gives it {}", numel, d->name, nbytes, end - begin));
    }
    if (ranges_.count(name)) throw bad("it is named twice");
    ranges_[name] = {d->name, begin, end, d->size};
    infos_.push_back(std::move(info));
    spans.push_back({begin, end, &ranges_.find(name)->first});
  }
  // As the format's own reader: the tensors tile the data section exactly, no overlap and no gap.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  uint64_t at = 0;
  for (const auto& s : spans) {
    if (s.begin != at) {
      throw FormatError(fmt::format("{}: tensor {} starts at data byte {}, expected {} ({}); the file is corrupt", path_,
                                    *s.name, s.begin, at, s.begin < at ? "it overlaps the tensor before it" : "a gap"));
    }
    at = s.end;
  }
  if (at != data_size) {
    throw FormatError(fmt::format("{}: the tensors cover {} bytes of data but the file holds {}; the file is corrupt", path_,
                                  at, data_size));
  }
}

SafetensorsSource::~SafetensorsSource() { munmap(const_cast<char*>(base_), size_); }

std::vector<float> SafetensorsSource::read_float(const std::string& name, int64_t row_begin, int64_t row_end) const {
  const auto it = ranges_.find(name);
  if (it == ranges_.end()) throw FormatError(fmt::format("{}: no tensor {}", path_, name));
  const auto& r = it->second;
  const auto& info = require(*this, name);
  if (!info.floating) {
    throw FormatError(fmt::format("{}: tensor {} holds {}, not floating-point weights", path_, name, r.dtype));
  }
  const uint64_t count = (r.end - r.begin) / r.elem;
  const int64_t rows = info.shape.empty() ? 1 : info.shape[0];
  if (row_end < 0) row_end = rows;
  if (row_begin < 0 || row_end > rows || row_begin > row_end) {
    throw FormatError(fmt::format("{}: rows {}..{} of tensor {} with {} rows", path_, row_begin, row_end, name, rows));
  }
  const uint64_t per_row = rows == 0 ? 0 : count / static_cast<uint64_t>(rows);
  const uint64_t first = per_row * static_cast<uint64_t>(row_begin);
  const uint64_t n = per_row * static_cast<uint64_t>(row_end - row_begin);
  const char* src = base_ + data_start_ + r.begin + first * r.elem;
  std::vector<float> out(static_cast<std::size_t>(n));
  if (r.dtype == "float32") {
    std::memcpy(out.data(), src, n * 4);
  } else if (r.dtype == "float64") {
    for (uint64_t i = 0; i < n; ++i) {
      double v;
      std::memcpy(&v, src + 8 * i, 8);
      out[i] = static_cast<float>(v);
    }
  } else {
    const bool half = r.dtype == "float16";
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, src + 2 * i, 2);
      out[i] = half ? torchfile::half_to_float(v) : torchfile::bfloat16_to_float(v);
    }
  }
  // The copy is what the caller keeps: drop the mapped pages so converting streams one tensor at a time.
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto lo = (reinterpret_cast<uintptr_t>(src) + page - 1) / page * page;
  const auto hi = (reinterpret_cast<uintptr_t>(src) + n * r.elem) / page * page;
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
  return out;
}

std::string SafetensorsSource::storage_id(const std::string& name) const {
  const auto it = ranges_.find(name);
  if (it == ranges_.end()) throw FormatError(fmt::format("{}: no tensor {}", path_, name));
  return fmt::format("{}@{}", path_, it->second.begin);
}

}  // namespace esm_onnx::source
