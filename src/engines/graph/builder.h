#pragma once
// One small helper per ONNX op, hierarchical node names (/layers.3/attn/q_proj/MatMul), and weights
// handed to a sink that keeps them inline or streams them to an external data file.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <unordered_map>
#include <vector>

namespace esm_onnx::graph {

// Where initializer bytes go: into the protobuf, or appended to a file beside the .onnx.
class WeightSink {
 public:
  // write_path empty: inline. Otherwise data goes to write_path, referenced in the model as `location`
  // (the file name it will have once the conversion commits).
  explicit WeightSink(std::string write_path = {}, std::string location = {});
  void store(onnx::TensorProto& t, const void* data, std::size_t nbytes);
  bool external() const { return !path_.empty(); }
  uint64_t bytes_written() const { return offset_; }
  void close();

 private:
  std::string path_;
  std::string location_;
  std::ofstream out_;
  uint64_t offset_{0};
};

class Builder {
 public:
  Builder(onnx::GraphProto& graph, WeightSink& sink) : graph_(&graph), sink_(sink) {}

  // RAII scope: names created inside get the prefix "/a/b/".
  class Scope {
   public:
    Scope(Builder& b, const std::string& name) : b_(b), saved_(b.scope_) { b_.scope_ += "/" + name; }
    ~Scope() { b_.scope_ = saved_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Builder& b_;
    std::string saved_;
  };

  // RAII: while alive, nodes and constants go into `branch` (a then/else graph of an If node, whose nodes may
  // read any tensor of the enclosing graph by name); names stay unique across both.
  class Branch {
   public:
    Branch(Builder& b, onnx::GraphProto& branch) : b_(b), saved_(b.graph_) { b_.graph_ = &branch; }
    ~Branch() { b_.graph_ = saved_; }
    Branch(const Branch&) = delete;
    Branch& operator=(const Branch&) = delete;

   private:
    Builder& b_;
    onnx::GraphProto* saved_;
  };

  // An If node on the bool scalar `cond`: each branch is built by its function, which returns the branch's
  // outputs (every one of type `elem_type`, as ONNX requires both branches to agree). Returns the If's outputs.
  std::vector<std::string> if_node(const std::string& cond, const std::function<std::vector<std::string>()>& then_branch,
                                   const std::function<std::vector<std::string>()>& else_branch, int elem_type,
                                   const std::string& name);

  // A Loop of `trip_count` (int64 scalar) iterations that appends one tensor of `elem_type` per iteration to a
  // sequence: `body(iteration)` builds the iteration's nodes (inside the body graph, reading any outer tensor by
  // name; create weights before the loop so that they stay in the outer graph) and returns the tensor to append.
  // Returns the tensors concatenated along `axis` (ragged last pieces allowed).
  std::string loop_concat(const std::string& trip_count, int elem_type, int64_t axis,
                          const std::function<std::string(const std::string& iteration)>& body, const std::string& name);

  // Adds a node; returns its (first) output name. Extra outputs via `outputs`.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   std::vector<onnx::AttributeProto> attrs = {}, const std::string& name = {}, int n_outputs = 1,
                   const std::string& domain = {});
  // Marks output `index` of the last node as not wanted (an empty name), as ONNX allows for optional outputs.
  void drop_output(int index);
  std::vector<std::string> node_multi(const std::string& op, const std::vector<std::string>& inputs,
                                      std::vector<onnx::AttributeProto> attrs, const std::string& name, int n_outputs);

  // Weights (streamed to the sink) and small constants (always inline).
  std::string weight(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& data);
  // Any element type (fp16, int8, packed uint8): `data` holds the raw little-endian bytes.
  std::string initializer(const std::string& name, int elem_type, const std::vector<int64_t>& shape, const void* data,
                          std::size_t nbytes);
  // A weight in `elem_type` (FLOAT or FLOAT16), converted from fp32.
  std::string weight_as(const std::string& name, int elem_type, const std::vector<int64_t>& shape,
                        const std::vector<float>& data);
  std::string const_i64(const std::vector<int64_t>& values, const std::string& hint, bool scalar = false);
  std::string const_f32(float value, const std::string& hint);
  // A scalar in FLOAT or FLOAT16.
  std::string const_scalar(float value, int elem_type, const std::string& hint);

  // Op helpers: each returns the output name.
  std::string add(const std::string& a, const std::string& b, const std::string& name = "Add") { return node("Add", {a, b}, {}, name); }
  std::string sub(const std::string& a, const std::string& b, const std::string& name = "Sub") { return node("Sub", {a, b}, {}, name); }
  std::string mul(const std::string& a, const std::string& b, const std::string& name = "Mul") { return node("Mul", {a, b}, {}, name); }
  std::string div(const std::string& a, const std::string& b, const std::string& name = "Div") { return node("Div", {a, b}, {}, name); }
  std::string matmul(const std::string& a, const std::string& b, const std::string& name = "MatMul") { return node("MatMul", {a, b}, {}, name); }
  std::string cast(const std::string& x, int to, const std::string& name = "Cast");
  std::string transpose(const std::string& x, const std::vector<int64_t>& perm, const std::string& name = "Transpose");
  std::string reshape(const std::string& x, const std::vector<int64_t>& shape, const std::string& name = "Reshape");
  std::string unsqueeze(const std::string& x, const std::vector<int64_t>& axes, const std::string& name = "Unsqueeze");
  std::string squeeze(const std::string& x, const std::vector<int64_t>& axes, const std::string& name = "Squeeze");
  std::string concat(const std::vector<std::string>& xs, int64_t axis, const std::string& name = "Concat");
  std::string slice(const std::string& x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                    const std::vector<int64_t>& axes, const std::string& name = "Slice");
  std::string reduce_sum(const std::string& x, const std::vector<int64_t>& axes, bool keepdims,
                         const std::string& name = "ReduceSum");
  std::string layer_norm(const std::string& x, const std::string& scale, const std::string& bias, float eps,
                         const std::string& name = "LayerNorm");
  std::string softmax(const std::string& x, int64_t axis, const std::string& name = "Softmax");
  // fair-esm's gelu, exactly: x * 0.5 * (1 + erf(x / sqrt(2))); constants in `elem_type`.
  std::string gelu(const std::string& x, int elem_type = onnx::TensorProto::FLOAT);
  // x @ W^T + b with W stored pre-transposed as [in, out].
  std::string linear(const std::string& x, const std::string& w_t, const std::string& b);

  const std::string& scope() const { return scope_; }
  onnx::GraphProto& graph() { return *graph_; }

 private:
  std::string unique(const std::string& base);
  onnx::GraphProto* graph_;
  WeightSink& sink_;
  std::string scope_;
  std::unordered_map<std::string, int> used_;
};

onnx::AttributeProto attr_int(const std::string& name, int64_t v);
onnx::AttributeProto attr_float(const std::string& name, float v);
onnx::AttributeProto attr_ints(const std::string& name, const std::vector<int64_t>& v);

// [rows, cols] row-major -> [cols, rows]: fair-esm Linear weights are [out, in]; MatMul wants [in, out].
std::vector<float> transposed(const std::vector<float>& w, int64_t rows, int64_t cols);

}  // namespace esm_onnx::graph
