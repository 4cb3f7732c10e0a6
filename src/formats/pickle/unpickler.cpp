#include "formats/pickle/unpickler.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <unordered_map>

#include "base/util/numbers.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::pickle {
namespace {

using Kind = Value::Kind;

class Machine {
 public:
  Machine(std::string_view data, std::size_t pos, const PersistentLoader& persistent, const std::string& what)
      : data_(data), pos_(pos), persistent_(persistent), what_(what) {}

  // The pickle's value. Containers that APPEND, SETITEM or BUILD changed after they were made are the only
  // way to a reference cycle (which shared ownership would leak); a cycle is refused, and on any error their
  // links are cut so that nothing is leaked.
  UnpickleResult run() {
    try {
      UnpickleResult r = execute();
      if (has_cycle()) fail("the pickle holds a reference cycle (a container inside itself); torch checkpoints have none");
      return r;
    } catch (...) {
      cut_links();
      throw;
    }
  }

 private:
  UnpickleResult execute();

  bool has_cycle() const {
    enum Mark : uint8_t { kOpen, kDone };
    std::unordered_map<const Value*, Mark> mark;
    for (const auto& start : mutated_) {
      if (mark.count(start.get())) continue;
      // Iterative depth-first search; a child seen open on the current path closes a cycle.
      std::vector<std::pair<const Value*, std::size_t>> path{{start.get(), 0}};
      mark[start.get()] = kOpen;
      while (!path.empty()) {
        auto& [v, next] = path.back();
        const std::size_t n_items = v->items.size(), n_dict = v->dict.size();
        const Value* child = nullptr;
        if (next < n_items) child = v->items[next].get();
        else if (next < n_items + 2 * n_dict) {
          const auto& kv = v->dict[(next - n_items) / 2];
          child = ((next - n_items) % 2 == 0 ? kv.first : kv.second).get();
        } else if (next == n_items + 2 * n_dict) child = v->state.get();
        else {
          mark[v] = kDone;
          path.pop_back();
          continue;
        }
        ++next;
        if (!child) continue;
        const auto it = mark.find(child);
        if (it == mark.end()) {
          mark[child] = kOpen;
          path.emplace_back(child, 0);
        } else if (it->second == kOpen) {
          return true;
        }
      }
    }
    return false;
  }

  void note_mutated(const ValuePtr& v) {
    if (mutated_.empty() || mutated_.back() != v) mutated_.push_back(v);
  }

  void cut_links() {
    for (const auto& v : mutated_) {
      v->items.clear();
      v->dict.clear();
      v->state.reset();
    }
  }

  // Protocol-0 opcodes carry numbers as text lines.
  int64_t text_int(std::string_view s, const char* opcode) const {
    if (auto v = text::parse_number<int64_t>(s)) return *v;
    fail(fmt::format("{} opcode: '{}' is not a 64-bit integer", opcode, s.substr(0, 40)));
  }
  double text_float(std::string_view s) const {
    if (auto v = text::parse_number<double>(s)) return *v;
    fail(fmt::format("FLOAT opcode: '{}' is not a number", s.substr(0, 40)));
  }

  [[noreturn]] void fail(const std::string& msg) const {
    throw FormatError(fmt::format("{}: corrupt pickle at byte {}: {}", what_, op_pos_, msg));
  }
  void need(std::size_t n) const {
    if (n > data_.size() - pos_) {
      throw FormatError(fmt::format("{}: truncated: the pickle at byte {} needs {} more bytes than the file holds",
                                    what_, op_pos_, n - (data_.size() - pos_)));
    }
  }
  template <typename T>
  T read_le() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;  // x86-64 and aarch64 are little-endian, as pickle's binary fields are
  }
  std::string read_bytes(uint64_t n) {
    if (n > data_.size()) fail(fmt::format("truncated or corrupt: a field of {} bytes runs past the end of the data", n));
    need(static_cast<std::size_t>(n));
    std::string s(data_.substr(pos_, static_cast<std::size_t>(n)));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  std::string read_line() {
    const auto nl = data_.find('\n', pos_);
    if (nl == std::string_view::npos) fail("unterminated text field");
    std::string s(data_.substr(pos_, nl - pos_));
    pos_ = nl + 1;
    return s;
  }

  ValuePtr pop() {
    if (stack_.empty()) fail("stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) fail("MARK beyond the stack");
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  void memo_put(uint64_t key) { memo_[key] = top(); }
  ValuePtr memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail(fmt::format("memo key {} was never stored", key));
    return it->second;
  }

  static ValuePtr long_from_bytes(const std::string& b) {
    if (b.size() > 8) {  // beyond int64: kept as raw bytes (the legacy torch magic number is one)
      auto v = Value::integer(0);
      v->s = b;
      return v;
    }
    uint64_t u = 0;
    for (std::size_t k = 0; k < b.size(); ++k) u |= static_cast<uint64_t>(static_cast<unsigned char>(b[k])) << (8 * k);
    if (!b.empty() && b.size() < 8 && (static_cast<unsigned char>(b.back()) & 0x80)) {
      u |= ~uint64_t{0} << (8 * b.size());
    }
    return Value::integer(static_cast<int64_t>(u));
  }

  void set_items(const ValuePtr& target, std::vector<ValuePtr>& kv) {
    if (kv.size() % 2 != 0) fail("SETITEMS with an odd number of items");
    for (std::size_t k = 0; k < kv.size(); k += 2) set_item(target, kv[k], kv[k + 1]);
  }
  void set_item(const ValuePtr& target, ValuePtr key, ValuePtr value) {
    if (target->kind != Kind::Dict && target->kind != Kind::Object) fail("SETITEM on a " + target->describe());
    for (auto& entry : target->dict) {
      if (entry.first->kind == key->kind && entry.first->kind == Kind::String && entry.first->s == key->s) {
        entry.second = std::move(value);
        note_mutated(target);
        return;
      }
    }
    target->dict.emplace_back(std::move(key), std::move(value));
    note_mutated(target);
  }
  void append(const ValuePtr& target, std::vector<ValuePtr> items) {
    if (target->kind != Kind::List && target->kind != Kind::Object) fail("APPEND on a " + target->describe());
    for (auto& v : items) target->items.push_back(std::move(v));
    note_mutated(target);
  }

  ValuePtr call(const ValuePtr& callable, const ValuePtr& args);
  void build(const ValuePtr& obj, const ValuePtr& state);

  std::vector<ValuePtr> mutated_;  // may repeat; see run()
  std::string_view data_;
  std::size_t pos_;
  std::size_t op_pos_{0};
  const PersistentLoader& persistent_;
  const std::string& what_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
};

std::vector<int64_t> int_list(const ValuePtr& v, const char* field, const std::string& what) {
  if (!v || (v->kind != Kind::Tuple && v->kind != Kind::List)) {
    throw FormatError(fmt::format("{}: tensor {} is not a tuple", what, field));
  }
  std::vector<int64_t> out;
  for (const auto& x : v->items) {
    if (x->kind != Kind::Int) throw FormatError(fmt::format("{}: tensor {} holds a {}", what, field, x->describe()));
    out.push_back(x->i);
  }
  return out;
}

// Decodes UTF-8 and re-encodes as latin-1: how protocol 2 stores Python 3 bytes (_codecs.encode).
std::string utf8_to_latin1(const std::string& in) {
  std::string out;
  for (std::size_t k = 0; k < in.size(); ++k) {
    const unsigned char c = static_cast<unsigned char>(in[k]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c & 0xE0) == 0xC0 && k + 1 < in.size()) {
      out.push_back(static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(in[k + 1]) & 0x3F)));
      ++k;
    } else {
      out.push_back('?');
    }
  }
  return out;
}

ValuePtr numpy_scalar(const ValuePtr& dtype, const ValuePtr& raw, const std::string& what) {
  std::string code;
  if (dtype && dtype->kind == Kind::Object && !dtype->items.empty() && dtype->items[0]->kind == Kind::String) {
    code = dtype->items[0]->s;
  }
  if (!raw || (raw->kind != Kind::Bytes && raw->kind != Kind::String)) {
    throw FormatError(fmt::format("{}: numpy scalar without its bytes", what));
  }
  const std::string& b = raw->s;
  auto load = [&](auto sample) {
    using T = decltype(sample);
    if (b.size() != sizeof(T)) throw FormatError(fmt::format("{}: numpy scalar '{}' has {} bytes", what, code, b.size()));
    T v;
    std::memcpy(&v, b.data(), sizeof(T));
    return v;
  };
  if (code == "f8") return Value::real(load(double{}));
  if (code == "f4") return Value::real(load(float{}));
  if (code == "i8") return Value::integer(load(int64_t{}));
  if (code == "i4") return Value::integer(load(int32_t{}));
  if (code == "u8") return Value::integer(static_cast<int64_t>(load(uint64_t{})));
  if (code == "b1") return Value::boolean(load(uint8_t{}) != 0);
  auto obj = std::make_shared<Value>();  // an exotic scalar stays opaque: nothing we read needs it
  obj->kind = Kind::Object;
  obj->s = "numpy.scalar";
  obj->items = {dtype, raw};
  return obj;
}

ValuePtr Machine::call(const ValuePtr& callable, const ValuePtr& args) {
  if (args->kind != Kind::Tuple) fail("REDUCE arguments are not a tuple");
  const auto& a = args->items;
  const std::string name = callable->kind == Kind::Global ? callable->s : std::string();
  if (name == "collections.OrderedDict" || name == "builtins.dict") {
    auto d = Value::dict_of();
    if (!a.empty() && a[0]->kind == Kind::List) {
      for (const auto& kv : a[0]->items) {
        if (kv->kind == Kind::Tuple && kv->items.size() == 2) d->dict.emplace_back(kv->items[0], kv->items[1]);
      }
    }
    return d;
  }
  if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
    if (a.size() < 4) fail("_rebuild_tensor with fewer than 4 arguments");
    if (a[0]->kind != Kind::Storage) fail("_rebuild_tensor on a " + a[0]->describe() + " instead of a storage");
    if (a[1]->kind != Kind::Int) fail("_rebuild_tensor offset is not an int");
    auto t = std::make_shared<TensorRef>();
    t->storage = a[0]->storage;
    t->offset = static_cast<uint64_t>(a[1]->i);
    t->shape = int_list(a[2], "size", what_);
    t->strides = int_list(a[3], "stride", what_);
    if (t->shape.size() != t->strides.size()) fail("tensor size and stride differ in rank");
    for (int64_t d : t->shape) {
      if (d < 0) fail("negative tensor dimension");
    }
    auto v = std::make_shared<Value>();
    v->kind = Kind::Tensor;
    v->tensor = std::move(t);
    return v;
  }
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty()) fail("_rebuild_parameter without data");
    return a[0];
  }
  if (name == "torch.Size" || name == "builtins.tuple") {
    return Value::tuple(!a.empty() && (a[0]->kind == Kind::Tuple || a[0]->kind == Kind::List) ? a[0]->items
                                                                                               : std::vector<ValuePtr>{});
  }
  if (name == "builtins.set" || name == "builtins.frozenset" || name == "builtins.list") {
    return Value::list(!a.empty() && (a[0]->kind == Kind::Tuple || a[0]->kind == Kind::List) ? a[0]->items
                                                                                              : std::vector<ValuePtr>{});
  }
  if (name == "_codecs.encode") {
    if (a.empty() || a[0]->kind != Kind::String) fail("_codecs.encode without a string");
    return Value::bytes(utf8_to_latin1(a[0]->s));
  }
  if (name == "numpy.core.multiarray.scalar" || name == "numpy._core.multiarray.scalar") {
    return numpy_scalar(a.size() > 0 ? a[0] : nullptr, a.size() > 1 ? a[1] : nullptr, what_);
  }
  auto obj = std::make_shared<Value>();
  obj->kind = Kind::Object;
  obj->s = name.empty() ? callable->describe() : name;
  obj->items = a;
  return obj;
}

void Machine::build(const ValuePtr& obj, const ValuePtr& state) {
  if (obj->kind != Kind::Object) return;  // OrderedDict._metadata, tensor hooks: nothing we read
  ValuePtr dict_state = state;
  if (state->kind == Kind::Tuple && state->items.size() == 2) dict_state = state->items[0];
  if (dict_state && dict_state->kind == Kind::Dict) {
    // omegaconf's nodes (fair-esm's ESMFold keeps its config as a DictConfig) link back to their container
    // through _parent: dropped, so that the config is the tree it describes and not a reference cycle.
    const bool omegaconf = obj->s.rfind("omegaconf.", 0) == 0;
    for (const auto& kv : dict_state->dict) {
      if (omegaconf && kv.first->kind == Kind::String && kv.first->s == "_parent") continue;
      set_item(obj, kv.first, kv.second);
    }
  } else {
    obj->state = state;
    note_mutated(obj);
  }
}

UnpickleResult Machine::execute() {
  while (true) {
    op_pos_ = pos_;
    need(1);
    const unsigned char op = static_cast<unsigned char>(data_[pos_++]);
    switch (op) {
      case 0x80: read_le<uint8_t>(); break;   // PROTO
      case 0x95: read_le<uint64_t>(); break;  // FRAME: frames are only a read-ahead hint
      case '.': {                             // STOP
        if (stack_.size() != 1) fail(fmt::format("STOP with {} values on the stack", stack_.size()));
        return {pop(), pos_};
      }
      case '(': marks_.push_back(stack_.size()); break;
      case '}': stack_.push_back(Value::dict_of()); break;
      case ']': stack_.push_back(Value::list()); break;
      case ')': stack_.push_back(Value::tuple()); break;
      case 0x8f: stack_.push_back(Value::list()); break;  // EMPTY_SET
      case 't': stack_.push_back(Value::tuple(pop_mark())); break;
      case 0x85: { auto a = pop(); stack_.push_back(Value::tuple({a})); break; }
      case 0x86: { auto b = pop(); auto a = pop(); stack_.push_back(Value::tuple({a, b})); break; }
      case 0x87: { auto c = pop(); auto b = pop(); auto a = pop(); stack_.push_back(Value::tuple({a, b, c})); break; }
      case 'l': stack_.push_back(Value::list(pop_mark())); break;  // LIST
      case 'd': {                                                  // DICT
        auto items = pop_mark();
        auto d = Value::dict_of();
        set_items(d, items);
        stack_.push_back(d);
        break;
      }
      case 0x91: stack_.push_back(Value::list(pop_mark())); break;  // FROZENSET
      case 0x90: { auto items = pop_mark(); append(top(), std::move(items)); break; }  // ADDITEMS
      case 'J': stack_.push_back(Value::integer(read_le<int32_t>())); break;
      case 'K': stack_.push_back(Value::integer(read_le<uint8_t>())); break;
      case 'M': stack_.push_back(Value::integer(read_le<uint16_t>())); break;
      case 0x8a: { auto n = read_le<uint8_t>(); stack_.push_back(long_from_bytes(read_bytes(n))); break; }
      case 0x8b: {
        auto n = read_le<int32_t>();
        if (n < 0) fail("negative LONG4 length");
        stack_.push_back(long_from_bytes(read_bytes(static_cast<uint64_t>(n))));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        auto raw = read_le<uint64_t>();
        stack_.push_back(Value::real(std::bit_cast<double>(__builtin_bswap64(raw))));
        break;
      }
      case 'I': {
        auto s = read_line();
        if (s == "01") stack_.push_back(Value::boolean(true));
        else if (s == "00") stack_.push_back(Value::boolean(false));
        else stack_.push_back(Value::integer(text_int(s, "INT")));
        break;
      }
      case 'L': { auto s = read_line(); if (!s.empty() && s.back() == 'L') s.pop_back(); stack_.push_back(Value::integer(text_int(s, "LONG"))); break; }
      case 'F': stack_.push_back(Value::real(text_float(read_line()))); break;
      case 'X': stack_.push_back(Value::string(read_bytes(read_le<uint32_t>()))); break;
      case 0x8c: stack_.push_back(Value::string(read_bytes(read_le<uint8_t>()))); break;
      case 0x8d: stack_.push_back(Value::string(read_bytes(read_le<uint64_t>()))); break;
      case 'T': {
        auto n = read_le<int32_t>();
        if (n < 0) fail("negative BINSTRING length");
        stack_.push_back(Value::string(read_bytes(static_cast<uint64_t>(n))));
        break;
      }
      case 'U': stack_.push_back(Value::string(read_bytes(read_le<uint8_t>()))); break;
      case 'B': stack_.push_back(Value::bytes(read_bytes(read_le<uint32_t>()))); break;
      case 'C': stack_.push_back(Value::bytes(read_bytes(read_le<uint8_t>()))); break;
      case 0x8e: case 0x96: stack_.push_back(Value::bytes(read_bytes(read_le<uint64_t>()))); break;
      case 'V': stack_.push_back(Value::string(read_line())); break;  // UNICODE (raw-unicode-escape; ASCII here)
      case 'S': {
        auto s = read_line();
        if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"')) s = s.substr(1, s.size() - 2);
        stack_.push_back(Value::string(s));
        break;
      }
      case 'N': stack_.push_back(Value::none()); break;
      case 0x88: stack_.push_back(Value::boolean(true)); break;
      case 0x89: stack_.push_back(Value::boolean(false)); break;
      case 'q': memo_put(read_le<uint8_t>()); break;
      case 'r': memo_put(read_le<uint32_t>()); break;
      case 'p': memo_put(static_cast<uint64_t>(text_int(read_line(), "PUT"))); break;
      case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
      case 'h': stack_.push_back(memo_get(read_le<uint8_t>())); break;
      case 'j': stack_.push_back(memo_get(read_le<uint32_t>())); break;
      case 'g': stack_.push_back(memo_get(static_cast<uint64_t>(text_int(read_line(), "GET")))); break;
      case 'c': {  // GLOBAL
        auto module = read_line();
        auto name = read_line();
        stack_.push_back(Value::global(module + "." + name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop();
        auto module = pop();
        if (name->kind != Kind::String || module->kind != Kind::String) fail("STACK_GLOBAL without strings");
        stack_.push_back(Value::global(module->s + "." + name->s));
        break;
      }
      case 'R': { auto args = pop(); auto fn = pop(); stack_.push_back(call(fn, args)); break; }
      case 0x81: { auto args = pop(); auto cls = pop(); stack_.push_back(call(cls, args)); break; }  // NEWOBJ
      case 0x92: {  // NEWOBJ_EX
        pop();  // kwargs
        auto args = pop();
        auto cls = pop();
        stack_.push_back(call(cls, args));
        break;
      }
      case 'b': { auto state = pop(); build(top(), state); break; }
      case 's': { auto v = pop(); auto k = pop(); set_item(top(), std::move(k), std::move(v)); break; }
      case 'u': { auto items = pop_mark(); set_items(top(), items); break; }
      case 'a': { auto v = pop(); append(top(), {v}); break; }
      case 'e': { auto items = pop_mark(); append(top(), std::move(items)); break; }
      case '0': pop(); break;
      case '1': pop_mark(); break;
      case '2': stack_.push_back(top()); break;
      case 'Q': {  // BINPERSID
        auto pid = pop();
        if (!persistent_) fail("persistent id in a pickle that cannot have one");
        stack_.push_back(persistent_(pid));
        break;
      }
      case 'P': {
        auto pid = Value::string(read_line());
        if (!persistent_) fail("persistent id in a pickle that cannot have one");
        stack_.push_back(persistent_(pid));
        break;
      }
      default: fail(fmt::format("unsupported opcode 0x{:02x}", op));
    }
  }
}

}  // namespace

UnpickleResult unpickle(std::string_view data, std::size_t offset, const PersistentLoader& persistent,
                        const std::string& what) {
  if (offset >= data.size()) throw FormatError(fmt::format("{}: truncated: no pickle at byte {}", what, offset));
  Machine m(data, offset, persistent, what);
  return m.run();
}

DType storage_dtype(const std::string& name, const std::string& what) {
  static const std::unordered_map<std::string, DType> kTypes = {
      {"torch.FloatStorage", DType::Float32}, {"torch.HalfStorage", DType::Float16},
      {"torch.BFloat16Storage", DType::BFloat16}, {"torch.DoubleStorage", DType::Float64},
      {"torch.LongStorage", DType::Int64}, {"torch.IntStorage", DType::Int32},
      {"torch.ShortStorage", DType::Int16}, {"torch.CharStorage", DType::Int8},
      {"torch.ByteStorage", DType::UInt8}, {"torch.BoolStorage", DType::Bool},
      {"torch.UntypedStorage", DType::UInt8}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) throw FormatError(fmt::format("{}: unsupported storage type {}", what, name));
  return it->second;
}

}  // namespace esm_onnx::pickle
