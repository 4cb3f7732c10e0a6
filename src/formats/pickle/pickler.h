#pragma once
// A minimal protocol-2 pickle writer: enough to write the dicts of tensors that torch.load reads
// (with weights_only=True, torch's default).
#include <cstdint>
#include <string>
#include <vector>

namespace esm_onnx::pickle {

class Pickler {
 public:
  Pickler();
  void none();
  void boolean(bool v);
  void integer(int64_t v);
  void string(const std::string& s);
  void global(const std::string& module, const std::string& name);
  void mark();
  void tuple();  // from the last mark
  void empty_tuple();
  void empty_dict();
  void set_items();  // pairs since the last mark into the dict below it
  void reduce();
  void persistent_id();  // BINPERSID on the tuple on top of the stack
  // torch._utils._rebuild_tensor_v2 over persistent storage `key` (float32, contiguous).
  void float_tensor(const std::string& key, const std::vector<int64_t>& shape);
  std::string finish();  // STOP; returns the bytes

 private:
  std::string out_;
};

}  // namespace esm_onnx::pickle
