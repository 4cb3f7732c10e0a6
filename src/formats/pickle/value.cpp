#include "formats/pickle/value.h"

namespace esm_onnx::pickle {

std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::Float64:
    case DType::Int64: return 8;
    case DType::Float32:
    case DType::Int32: return 4;
    case DType::Float16:
    case DType::BFloat16:
    case DType::Int16: return 2;
    case DType::Int8:
    case DType::UInt8:
    case DType::Bool: return 1;
  }
  return 1;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Int32: return "int32";
    case DType::Int16: return "int16";
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Bool: return "bool";
  }
  return "?";
}

uint64_t TensorRef::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

bool TensorRef::is_contiguous() const {
  int64_t expected = 1;
  for (std::size_t k = shape.size(); k-- > 0;) {
    if (shape[k] != 1 && strides[k] != expected) return false;
    expected *= shape[k];
  }
  return true;
}

ValuePtr Value::none() { return std::make_shared<Value>(); }
ValuePtr Value::boolean(bool v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Bool;
  p->b = v;
  return p;
}
ValuePtr Value::integer(int64_t v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Int;
  p->i = v;
  return p;
}
ValuePtr Value::real(double v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Float;
  p->f = v;
  return p;
}
ValuePtr Value::string(std::string v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::String;
  p->s = std::move(v);
  return p;
}
ValuePtr Value::bytes(std::string v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Bytes;
  p->s = std::move(v);
  return p;
}
ValuePtr Value::list(std::vector<ValuePtr> v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::List;
  p->items = std::move(v);
  return p;
}
ValuePtr Value::tuple(std::vector<ValuePtr> v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Tuple;
  p->items = std::move(v);
  return p;
}
ValuePtr Value::dict_of() {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Dict;
  return p;
}
ValuePtr Value::global(std::string name) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Global;
  p->s = std::move(name);
  return p;
}

ValuePtr Value::get(const std::string& key) const {
  for (const auto& [k, v] : dict) {
    if (k && k->kind == Kind::String && k->s == key) return v;
  }
  return nullptr;
}

Value::~Value() {
  std::vector<ValuePtr> work;
  auto take = [&work](Value& v) {
    for (auto& c : v.items) {
      if (c) work.push_back(std::move(c));
    }
    for (auto& [k, val] : v.dict) {
      if (k) work.push_back(std::move(k));
      if (val) work.push_back(std::move(val));
    }
    if (v.state) work.push_back(std::move(v.state));
    v.items.clear();
    v.dict.clear();
  };
  take(*this);
  while (!work.empty()) {
    ValuePtr p = std::move(work.back());
    work.pop_back();
    // The last owner: move its children out, so that it dies without recursing into them.
    if (p.use_count() == 1) take(*p);
  }
}

std::string Value::describe() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global " + s;
    case Kind::Object: return "object of class " + s;
    case Kind::Tensor: return "tensor";
    case Kind::Storage: return "storage";
  }
  return "?";
}

}  // namespace esm_onnx::pickle
