#pragma once
// The values a pickle stream can build, restricted to what torch checkpoints contain. Classes the
// interpreter does not know become generic Objects (name, args, state) instead of failures.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace esm_onnx::pickle {

enum class DType { Float32, Float16, BFloat16, Float64, Int64, Int32, Int16, Int8, UInt8, Bool };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

// A storage named by the file (zip entry name or legacy key); bytes are read only on demand.
struct StorageRef {
  std::string key;
  DType dtype{DType::Float32};
  uint64_t numel{0};
};

// A tensor as torch rebuilds it: a view into a storage. Nothing is read until asked.
struct TensorRef {
  std::shared_ptr<StorageRef> storage;
  uint64_t offset{0};  // in elements of the storage's dtype
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  uint64_t numel() const;
  bool is_contiguous() const;
};

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict, Global, Object, Tensor, Storage };
  Kind kind{Kind::None};
  bool b{false};
  int64_t i{0};
  double f{0};
  std::string s;                                   // String, Bytes, Global ("module.name"), Object class
  std::vector<ValuePtr> items;                     // List, Tuple, Object args
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;  // Dict (ordered), Object attributes after BUILD
  ValuePtr state;                                  // Object state that was not a dict
  std::shared_ptr<TensorRef> tensor;
  std::shared_ptr<StorageRef> storage;

  Value() = default;
  Value(const Value&) = default;
  Value& operator=(const Value&) = default;
  // Iterative: a file can nest containers a million deep, and recursive destruction would overflow the stack.
  ~Value();

  static ValuePtr none();
  static ValuePtr boolean(bool v);
  static ValuePtr integer(int64_t v);
  static ValuePtr real(double v);
  static ValuePtr string(std::string v);
  static ValuePtr bytes(std::string v);
  static ValuePtr list(std::vector<ValuePtr> v = {});
  static ValuePtr tuple(std::vector<ValuePtr> v = {});
  static ValuePtr dict_of();
  static ValuePtr global(std::string name);

  // Dict (or Object attribute) lookup by string key; nullptr when absent.
  ValuePtr get(const std::string& key) const;
  bool is_str() const { return kind == Kind::String; }
  std::string describe() const;  // short type description for error messages
};

}  // namespace esm_onnx::pickle
