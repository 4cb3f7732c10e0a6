#include "formats/torch/torch_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <map>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "formats/pickle/unpickler.h"
#include "formats/torch/zip_reader.h"

namespace esm_onnx::torchfile {
namespace {

using pickle::StorageRef;
using pickle::Value;
using pickle::ValuePtr;

// ('storage', storage_type, key, location, numel[, view_metadata]) -> Storage value. One StorageRef per
// key, so tensors that share a storage (tied weights) share the pointer.
class StorageTable {
 public:
  explicit StorageTable(std::string what) : what_(std::move(what)) {}
  ValuePtr load(const ValuePtr& pid) {
    if (pid->kind != Value::Kind::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Value::Kind::String ||
        pid->items[0]->s != "storage") {
      throw FormatError(fmt::format("{}: unexpected persistent id ({}) in the pickle", what_, pid->describe()));
    }
    const auto& it = pid->items;
    if (it[1]->kind != Value::Kind::Global) throw FormatError(fmt::format("{}: storage without a type", what_));
    if (it[2]->kind != Value::Kind::String) throw FormatError(fmt::format("{}: storage key is not a string", what_));
    if (it[4]->kind != Value::Kind::Int || it[4]->i < 0) {
      throw FormatError(fmt::format("{}: storage {} has no valid size", what_, it[2]->s));
    }
    auto& ref = storages_[it[2]->s];
    if (!ref) {
      ref = std::make_shared<StorageRef>();
      ref->key = it[2]->s;
      ref->dtype = pickle::storage_dtype(it[1]->s, what_);
      ref->numel = static_cast<uint64_t>(it[4]->i);
    }
    auto v = std::make_shared<Value>();
    v->kind = Value::Kind::Storage;
    v->storage = ref;
    return v;
  }
  const std::map<std::string, std::shared_ptr<StorageRef>>& storages() const { return storages_; }

 private:
  std::string what_;
  std::map<std::string, std::shared_ptr<StorageRef>> storages_;
};

class ZipTorchFile final : public TorchFile {
 public:
  explicit ZipTorchFile(const std::string& path) : zip_(path) {
    path_ = path;
    std::string pkl;
    for (const auto& n : zip_.names()) {
      if (n.size() >= 9 && n.compare(n.size() - 9, 9, "/data.pkl") == 0 &&
          n.find('/') == n.size() - 9) {
        pkl = n;
        break;
      }
    }
    if (pkl.empty()) {
      throw FormatError(fmt::format("{}: a zip archive, but not a torch.save file (no <name>/data.pkl inside)", path));
    }
    prefix_ = pkl.substr(0, pkl.size() - 8);  // "archive/"
    // fair-esm's data.pkl is about 100 KB; its size is checked before it is read into memory.
    constexpr uint64_t kMaxPickle = uint64_t{256} << 20;
    if (const uint64_t n = zip_.size(pkl); n > kMaxPickle) {
      throw FormatError(fmt::format("{}: {} declares {} bytes, more than the {} a checkpoint's pickle may have; the "
                                    "file is corrupt", path, pkl, n, kMaxPickle));
    }
    const std::string data = zip_.read_all(pkl);
    StorageTable table(path);
    root_ = pickle::unpickle(data, 0, [&](const ValuePtr& pid) { return table.load(pid); }, path + ":" + pkl).value;
    // As torch.load: every storage the pickle names has exactly the bytes its element count needs.
    for (const auto& [key, ref] : table.storages()) {
      const uint64_t held = storage_bytes(*ref);
      uint64_t need = 0;
      if (__builtin_mul_overflow(ref->numel, pickle::dtype_size(ref->dtype), &need) || need != held) {
        throw FormatError(fmt::format("{}: storage {} declares {} {} elements but holds {} bytes; the file is corrupt",
                                      path, key, ref->numel, pickle::dtype_name(ref->dtype), held));
      }
    }
  }
  std::string serialization() const override { return "zip"; }
  uint64_t storage_bytes(const StorageRef& s) const override {
    const std::string entry = prefix_ + "data/" + s.key;
    if (!zip_.has(entry)) throw FormatError(fmt::format("{}: storage {} is missing from the archive", path_, entry));
    return zip_.size(entry);
  }
  void read_storage(const StorageRef& s, uint64_t byte_offset, uint64_t nbytes, void* out) const override {
    const std::string entry = prefix_ + "data/" + s.key;
    if (!zip_.has(entry)) throw FormatError(fmt::format("{}: storage {} is missing from the archive", path_, entry));
    zip_.read(entry, byte_offset, nbytes, out);
  }

 private:
  ZipReader zip_;
  std::string prefix_;
};

// The legacy stream: pickled magic, protocol, sys_info, the object, the storage keys; then each
// storage as an int64 element count followed by its raw bytes. The file is mapped, not read.
class LegacyTorchFile final : public TorchFile {
 public:
  LegacyTorchFile(const std::string& path, const char* base, std::size_t size) : base_(base), size_(size) {
    path_ = path;
    std::string_view data(base, size);
    auto magic = pickle::unpickle(data, 0, nullptr, path);
    static const unsigned char kMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    if (magic.value->kind != Value::Kind::Int || magic.value->s != std::string(reinterpret_cast<const char*>(kMagic), 10)) {
      throw FormatError(fmt::format("{}: not a torch.save file (a pickle, but without torch's magic number)", path));
    }
    auto protocol = pickle::unpickle(data, magic.end, nullptr, path);
    if (protocol.value->kind != Value::Kind::Int || protocol.value->i != 1001) {
      throw FormatError(fmt::format("{}: legacy torch file with unsupported protocol version", path));
    }
    auto sys_info = pickle::unpickle(data, protocol.end, nullptr, path);
    StorageTable table(path);
    auto obj = pickle::unpickle(data, sys_info.end, [&](const ValuePtr& pid) { return table.load(pid); }, path);
    root_ = obj.value;
    auto keys = pickle::unpickle(data, obj.end, nullptr, path);
    if (keys.value->kind != Value::Kind::List) throw FormatError(fmt::format("{}: storage key list missing", path));
    std::size_t pos = keys.end;
    for (const auto& k : keys.value->items) {
      if (k->kind != Value::Kind::String) throw FormatError(fmt::format("{}: storage key is not a string", path));
      auto it = table.storages().find(k->s);
      if (it == table.storages().end()) throw FormatError(fmt::format("{}: storage {} was never referenced", path, k->s));
      if (size_ - pos < 8) throw FormatError(fmt::format("{}: truncated before storage {}", path, k->s));
      int64_t numel;
      std::memcpy(&numel, base_ + pos, 8);
      pos += 8;
      const uint64_t nbytes = static_cast<uint64_t>(numel) * pickle::dtype_size(it->second->dtype);
      if (numel < 0 || nbytes > size_ - pos) {
        throw FormatError(fmt::format("{}: truncated: storage {} needs {} bytes at offset {}, the file has {}", path,
                                      k->s, nbytes, pos, size_ - pos));
      }
      offsets_[k->s] = {pos, nbytes};
      pos += static_cast<std::size_t>(nbytes);
    }
  }
  ~LegacyTorchFile() override { munmap(const_cast<char*>(base_), size_); }
  std::string serialization() const override { return "legacy"; }
  uint64_t storage_bytes(const StorageRef& s) const override {
    auto it = offsets_.find(s.key);
    if (it == offsets_.end()) throw FormatError(fmt::format("{}: storage {} has no data in the file", path_, s.key));
    return it->second.second;
  }
  void read_storage(const StorageRef& s, uint64_t byte_offset, uint64_t nbytes, void* out) const override {
    auto it = offsets_.find(s.key);
    if (it == offsets_.end()) throw FormatError(fmt::format("{}: storage {} has no data in the file", path_, s.key));
    if (byte_offset > it->second.second || nbytes > it->second.second - byte_offset) {
      throw FormatError(fmt::format("{}: read past the end of storage {}", path_, s.key));
    }
    const char* src = base_ + it->second.first + byte_offset;
    std::memcpy(out, src, nbytes);
    // The copy is what the caller keeps; dropping the mapped pages keeps a converter's RSS at one tensor
    // instead of the whole file (they stay in the page cache for a tied storage read twice).
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto first = (reinterpret_cast<uintptr_t>(src) + page - 1) / page * page;
    const auto last = (reinterpret_cast<uintptr_t>(src) + nbytes) / page * page;
    if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }

 private:
  const char* base_;
  std::size_t size_;
  std::map<std::string, std::pair<std::size_t, uint64_t>> offsets_;
};

}  // namespace

std::unique_ptr<TorchFile> TorchFile::open(const std::string& path) {
  files::RegularFile file = files::RegularFile::open(path, "the checkpoint");
  const auto size = static_cast<std::size_t>(file.size());
  if (size < 4) {
    throw FormatError(fmt::format("{}: not a torch file: {} bytes only (empty or truncated)", path, size));
  }
  const int fd = file.release();
  unsigned char head[8] = {};
  const auto got = ::pread(fd, head, sizeof head, 0);
  if (got < 4) {
    ::close(fd);
    throw FormatError(fmt::format("{}: cannot read the header", path));
  }
  if (head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
    ::close(fd);
    return std::make_unique<ZipTorchFile>(path);
  }
  if (head[0] == 0x80 && head[1] >= 2 && head[1] <= 5) {
    void* base = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (base == MAP_FAILED) throw UsageError(fmt::format("{}: cannot map the file: {}", path, std::strerror(errno)));
    try {
      return std::make_unique<LegacyTorchFile>(path, static_cast<const char*>(base), size);
    } catch (...) {
      munmap(base, size);
      throw;
    }
  }
  ::close(fd);
  std::string hint;
  if (got == 8 && head[7] == 0 && head[6] == 0) hint = " (it looks like a safetensors file, which is not supported yet)";
  if (head[0] == 0x08) hint = " (it looks like an ONNX model: give `convert` the fair-esm .pt checkpoint)";
  throw FormatError(fmt::format("{}: not a torch.save file: neither a zip archive nor a legacy pickle stream{}", path, hint));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3FF;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

std::vector<float> TorchFile::read_float(const pickle::TensorRef& t, const std::string& name) const {
  using pickle::DType;
  const auto& s = *t.storage;
  const std::size_t esize = pickle::dtype_size(s.dtype);
  // Every size below comes from the file: checked for overflow and against the bytes the file holds before
  // anything is allocated.
  auto bad = [&](const std::string& why) {
    return FormatError(fmt::format("{}: tensor {}: {}; the file is corrupt", path_, name, why));
  };
  if (t.strides.size() != t.shape.size()) throw bad("its strides do not match its shape");
  uint64_t n = 1;
  for (auto d : t.shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) throw bad(fmt::format("shape dimension {}", d));
  }
  // The elements the view reaches: [offset, offset + max index + 1).
  uint64_t span = n == 0 ? 0 : 1;
  for (std::size_t k = 0; k < t.shape.size(); ++k) {
    if (t.strides[k] < 0) throw bad(fmt::format("negative stride {}", t.strides[k]));
    uint64_t step = 0;
    if (t.shape[k] > 0 && (__builtin_mul_overflow(static_cast<uint64_t>(t.shape[k] - 1), static_cast<uint64_t>(t.strides[k]), &step) ||
                           __builtin_add_overflow(span, step, &span))) {
      throw bad(fmt::format("stride {} of dimension {} overflows", t.strides[k], k));
    }
  }
  // Checkpoints hold no broadcast views: more elements than the storage holds would only let a small file
  // ask for an unbounded allocation.
  if (n > s.numel) throw bad(fmt::format("{} elements in a view of a storage of {}", n, s.numel));
  uint64_t end = 0, bytes = 0, first = 0;
  if (__builtin_add_overflow(t.offset, span, &end) || end > s.numel) {
    throw bad(fmt::format("it reaches past the end of its storage of {} elements", s.numel));
  }
  if (__builtin_mul_overflow(span, esize, &bytes) || __builtin_mul_overflow(t.offset, esize, &first)) {
    throw bad("its byte size overflows");
  }
  if (const uint64_t held = storage_bytes(s); first > held || bytes > held - first) {
    throw bad(fmt::format("it needs bytes {}..{} of storage {}, which holds {}", first, first + bytes, s.key, held));
  }
  std::vector<char> raw(bytes);
  if (span > 0) read_storage(s, t.offset * esize, raw.size(), raw.data());
  auto element = [&](uint64_t idx) -> float {
    const char* p = raw.data() + idx * esize;
    switch (s.dtype) {
      case DType::Float32: { float v; std::memcpy(&v, p, 4); return v; }
      case DType::Float16: { uint16_t v; std::memcpy(&v, p, 2); return half_to_float(v); }
      case DType::BFloat16: { uint16_t v; std::memcpy(&v, p, 2); return bfloat16_to_float(v); }
      case DType::Float64: { double v; std::memcpy(&v, p, 8); return static_cast<float>(v); }
      case DType::Int64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<float>(v); }
      case DType::Int32: { int32_t v; std::memcpy(&v, p, 4); return static_cast<float>(v); }
      case DType::Int16: { int16_t v; std::memcpy(&v, p, 2); return static_cast<float>(v); }
      case DType::Int8: return static_cast<float>(static_cast<int8_t>(*p));
      case DType::UInt8:
      case DType::Bool: return static_cast<float>(static_cast<unsigned char>(*p));
    }
    return 0.f;
  };
  std::vector<float> out(n);
  if (t.is_contiguous()) {
    for (uint64_t k = 0; k < n; ++k) out[k] = element(k);
    return out;
  }
  std::vector<int64_t> idx(t.shape.size(), 0);
  for (uint64_t k = 0; k < n; ++k) {
    uint64_t src = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) src += static_cast<uint64_t>(idx[d] * t.strides[d]);
    out[k] = element(src);
    for (std::size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace esm_onnx::torchfile
