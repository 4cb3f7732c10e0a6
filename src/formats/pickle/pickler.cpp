#include "formats/pickle/pickler.h"

#include <cstring>
#include <vector>

namespace esm_onnx::pickle {

Pickler::Pickler() { out_ = "\x80\x02"; }

void Pickler::none() { out_.push_back('N'); }
void Pickler::boolean(bool v) { out_.push_back(v ? '\x88' : '\x89'); }

void Pickler::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    out_.push_back('K');
    out_.push_back(static_cast<char>(v));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    out_.push_back('J');
    const auto x = static_cast<int32_t>(v);
    out_.append(reinterpret_cast<const char*>(&x), 4);
  } else {
    out_.push_back('\x8a');
    out_.push_back(8);
    out_.append(reinterpret_cast<const char*>(&v), 8);
  }
}

void Pickler::string(const std::string& s) {
  out_.push_back('X');
  const auto n = static_cast<uint32_t>(s.size());
  out_.append(reinterpret_cast<const char*>(&n), 4);
  out_ += s;
}

void Pickler::global(const std::string& module, const std::string& name) {
  out_.push_back('c');
  out_ += module + "\n" + name + "\n";
}

void Pickler::mark() { out_.push_back('('); }
void Pickler::tuple() { out_.push_back('t'); }
void Pickler::empty_tuple() { out_.push_back(')'); }
void Pickler::empty_dict() { out_.push_back('}'); }
void Pickler::set_items() { out_.push_back('u'); }
void Pickler::reduce() { out_.push_back('R'); }
void Pickler::persistent_id() { out_.push_back('Q'); }

void Pickler::float_tensor(const std::string& key, const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  global("torch._utils", "_rebuild_tensor_v2");
  mark();
  {  // storage: ('storage', torch.FloatStorage, key, 'cpu', numel)
    mark();
    string("storage");
    global("torch", "FloatStorage");
    string(key);
    string("cpu");
    integer(numel);
    tuple();
    persistent_id();
  }
  integer(0);  // storage offset
  mark();
  for (auto d : shape) integer(d);
  tuple();
  mark();
  int64_t stride = 1;
  std::vector<int64_t> strides(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    strides[k] = stride;
    stride *= shape[k];
  }
  for (auto s : strides) integer(s);
  tuple();
  boolean(false);  // requires_grad
  global("collections", "OrderedDict");
  empty_tuple();
  reduce();  // backward hooks
  tuple();
  reduce();
}

std::string Pickler::finish() {
  out_.push_back('.');
  return std::move(out_);
}

}  // namespace esm_onnx::pickle
