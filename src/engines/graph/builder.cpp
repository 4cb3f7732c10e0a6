#include "engines/graph/builder.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <unordered_set>

#include "engines/graph/quantize.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::graph {

WeightSink::WeightSink(std::string write_path, std::string location)
    : path_(std::move(write_path)), location_(std::move(location)) {
  if (!path_.empty()) {
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) throw FileError(fmt::format("{}: cannot create the external data file", path_));
  }
}

void WeightSink::store(onnx::TensorProto& t, const void* data, std::size_t nbytes) {
  if (path_.empty()) {
    t.set_raw_data(data, nbytes);
    return;
  }
  // ONNX Runtime maps external data; 64-byte alignment keeps every tensor mappable.
  const uint64_t pad = (64 - offset_ % 64) % 64;
  static const char zeros[64] = {};
  out_.write(zeros, static_cast<std::streamsize>(pad));
  offset_ += pad;
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(nbytes));
  if (!out_) throw FileError(fmt::format("{}: write failed (disk full?)", path_));
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    auto* e = t.add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location_);
  add("offset", std::to_string(offset_));
  add("length", std::to_string(nbytes));
  offset_ += nbytes;
}

void WeightSink::close() {
  if (out_.is_open()) {
    out_.close();
    if (!out_) throw FileError(fmt::format("{}: closing failed (disk full?)", path_));
  }
}

onnx::AttributeProto attr_int(const std::string& name, int64_t v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
  return a;
}

onnx::AttributeProto attr_float(const std::string& name, float v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(v);
  return a;
}

onnx::AttributeProto attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a.add_ints(x);
  return a;
}

std::vector<float> transposed(const std::vector<float>& w, int64_t rows, int64_t cols) {
  std::vector<float> out(w.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = w[r * cols + c];
  }
  return out;
}

std::string Builder::unique(const std::string& base) {
  const std::string name = scope_ + "/" + base;
  // A repeated name within one scope gets a counter suffix, which keeps names readable in Netron.
  const int seen = used_[name]++;
  return seen == 0 ? name : fmt::format("{}_{}", name, seen);
}

std::vector<std::string> Builder::node_multi(const std::string& op, const std::vector<std::string>& inputs,
                                             std::vector<onnx::AttributeProto> attrs, const std::string& name,
                                             int n_outputs) {
  auto* n = graph_->add_node();
  n->set_op_type(op);
  n->set_name(unique(name.empty() ? op : name));
  for (const auto& i : inputs) n->add_input(i);
  std::vector<std::string> outs;
  for (int k = 0; k < n_outputs; ++k) {
    outs.push_back(n_outputs == 1 ? n->name() + "_output_0" : fmt::format("{}_output_{}", n->name(), k));
    n->add_output(outs.back());
  }
  for (auto& a : attrs) *n->add_attribute() = std::move(a);
  return outs;
}

std::string Builder::node(const std::string& op, const std::vector<std::string>& inputs,
                          std::vector<onnx::AttributeProto> attrs, const std::string& name, int n_outputs,
                          const std::string& domain) {
  auto outs = node_multi(op, inputs, std::move(attrs), name, n_outputs);
  if (!domain.empty()) graph_->mutable_node(graph_->node_size() - 1)->set_domain(domain);
  return outs.front();
}

std::string Builder::weight(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& data) {
  return initializer(name, onnx::TensorProto::FLOAT, shape, data.data(), data.size() * sizeof(float));
}

std::string Builder::initializer(const std::string& name, int elem_type, const std::vector<int64_t>& shape,
                                 const void* data, std::size_t nbytes) {
  auto* t = graph_->add_initializer();
  t->set_name(name);
  t->set_data_type(elem_type);
  for (auto d : shape) t->add_dims(d);
  sink_.store(*t, data, nbytes);
  return name;
}

std::string Builder::weight_as(const std::string& name, int elem_type, const std::vector<int64_t>& shape,
                               const std::vector<float>& data) {
  if (elem_type == onnx::TensorProto::FLOAT) return weight(name, shape, data);
  const auto half = to_half(data);
  return initializer(name, onnx::TensorProto::FLOAT16, shape, half.data(), half.size() * sizeof(uint16_t));
}

std::vector<std::string> Builder::if_node(const std::string& cond,
                                          const std::function<std::vector<std::string>()>& then_branch,
                                          const std::function<std::vector<std::string>()>& else_branch, int elem_type,
                                          const std::string& name) {
  const std::string node_name = unique(name);
  auto branch = [&](const char* which, const std::function<std::vector<std::string>()>& build) {
    onnx::AttributeProto a;
    a.set_name(which);
    a.set_type(onnx::AttributeProto::GRAPH);
    auto* g = a.mutable_g();
    g->set_name(node_name + "/" + which);
    std::vector<std::string> outs;
    {
      Branch in(*this, *g);
      Scope s(*this, fmt::format("{}/{}", name, which));
      outs = build();
    }
    for (const auto& o : outs) {
      auto* v = g->add_output();
      v->set_name(o);
      v->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
    }
    return std::make_pair(std::move(a), outs.size());
  };
  auto [then_attr, n_then] = branch("then_branch", then_branch);
  auto [else_attr, n_else] = branch("else_branch", else_branch);
  if (n_then != n_else) throw UnsupportedError(fmt::format("{}: If branches with {} and {} outputs", node_name, n_then, n_else));
  auto* n = graph_->add_node();
  n->set_op_type("If");
  n->set_name(node_name);
  n->add_input(cond);
  std::vector<std::string> outs;
  for (std::size_t k = 0; k < n_then; ++k) {
    outs.push_back(fmt::format("{}_output_{}", node_name, k));
    n->add_output(outs.back());
  }
  *n->add_attribute() = std::move(then_attr);
  *n->add_attribute() = std::move(else_attr);
  return outs;
}

void Builder::drop_output(int index) { graph_->mutable_node(graph_->node_size() - 1)->set_output(index, ""); }

std::string Builder::const_i64(const std::vector<int64_t>& values, const std::string& hint, bool scalar) {
  auto* t = graph_->add_initializer();
  t->set_name(unique("const_" + hint));
  t->set_data_type(onnx::TensorProto::INT64);
  if (!scalar) t->add_dims(static_cast<int64_t>(values.size()));
  for (auto v : values) t->add_int64_data(v);
  return t->name();
}

std::string Builder::const_f32(float value, const std::string& hint) {
  auto* t = graph_->add_initializer();
  t->set_name(unique("const_" + hint));
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_float_data(value);
  return t->name();
}

std::string Builder::const_scalar(float value, int elem_type, const std::string& hint) {
  if (elem_type == onnx::TensorProto::FLOAT) return const_f32(value, hint);
  auto* t = graph_->add_initializer();
  t->set_name(unique("const_" + hint));
  t->set_data_type(onnx::TensorProto::FLOAT16);
  const uint16_t h = float_to_half(value);
  t->set_raw_data(&h, sizeof h);
  return t->name();
}

std::string Builder::cast(const std::string& x, int to, const std::string& name) {
  return node("Cast", {x}, {attr_int("to", to)}, name);
}

std::string Builder::transpose(const std::string& x, const std::vector<int64_t>& perm, const std::string& name) {
  return node("Transpose", {x}, {attr_ints("perm", perm)}, name);
}

std::string Builder::loop_concat(const std::string& trip_count, int elem_type, int64_t axis,
                                 const std::function<std::string(const std::string&)>& body, const std::string& name) {
  const std::string node_name = unique(name);
  const std::string empty = node("SequenceEmpty", {}, {attr_int("dtype", elem_type)}, name + "/SequenceEmpty");
  onnx::AttributeProto a;
  a.set_name("body");
  a.set_type(onnx::AttributeProto::GRAPH);
  auto* g = a.mutable_g();
  g->set_name(node_name + "/body");
  const std::string iteration = node_name + "/iteration", cond_in = node_name + "/cond_in", seq_in = node_name + "/seq_in";
  auto scalar_input = [&](const std::string& n, int type) {
    auto* v = g->add_input();
    v->set_name(n);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    t->mutable_shape();  // a scalar
  };
  scalar_input(iteration, onnx::TensorProto::INT64);
  scalar_input(cond_in, onnx::TensorProto::BOOL);
  {
    auto* v = g->add_input();
    v->set_name(seq_in);
    v->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(elem_type);
  }
  std::string cond_out, seq_out;
  {
    Branch in(*this, *g);
    Scope s(*this, name + "/body");
    const std::string piece = body(iteration);
    seq_out = node("SequenceInsert", {seq_in, piece}, {}, "SequenceInsert");
    cond_out = node("Identity", {cond_in}, {}, "cond");
  }
  {
    auto* v = g->add_output();
    v->set_name(cond_out);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::BOOL);
    t->mutable_shape();
  }
  {
    auto* v = g->add_output();
    v->set_name(seq_out);
    v->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(elem_type);
  }
  auto* n = graph_->add_node();
  n->set_op_type("Loop");
  n->set_name(node_name);
  n->add_input(trip_count);
  n->add_input("");
  n->add_input(empty);
  const std::string seq = node_name + "_output_0";
  n->add_output(seq);
  *n->add_attribute() = std::move(a);
  return node("ConcatFromSequence", {seq}, {attr_int("axis", axis)}, name + "/ConcatFromSequence");
}

std::string Builder::reshape(const std::string& x, const std::vector<int64_t>& shape, const std::string& name) {
  return node("Reshape", {x, const_i64(shape, "shape")}, {}, name);
}

std::string Builder::unsqueeze(const std::string& x, const std::vector<int64_t>& axes, const std::string& name) {
  return node("Unsqueeze", {x, const_i64(axes, "axes")}, {}, name);
}

std::string Builder::squeeze(const std::string& x, const std::vector<int64_t>& axes, const std::string& name) {
  return node("Squeeze", {x, const_i64(axes, "axes")}, {}, name);
}

std::string Builder::concat(const std::vector<std::string>& xs, int64_t axis, const std::string& name) {
  return node("Concat", xs, {attr_int("axis", axis)}, name);
}

std::string Builder::slice(const std::string& x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                           const std::vector<int64_t>& axes, const std::string& name) {
  return node("Slice", {x, const_i64(starts, "starts"), const_i64(ends, "ends"), const_i64(axes, "axes")}, {}, name);
}

std::string Builder::reduce_sum(const std::string& x, const std::vector<int64_t>& axes, bool keepdims,
                                const std::string& name) {
  return node("ReduceSum", {x, const_i64(axes, "axes")}, {attr_int("keepdims", keepdims ? 1 : 0)}, name);
}

std::string Builder::layer_norm(const std::string& x, const std::string& scale, const std::string& bias, float eps,
                                const std::string& name) {
  return node("LayerNormalization", {x, scale, bias}, {attr_int("axis", -1), attr_float("epsilon", eps)}, name);
}

std::string Builder::softmax(const std::string& x, int64_t axis, const std::string& name) {
  return node("Softmax", {x}, {attr_int("axis", axis)}, name);
}

std::string Builder::gelu(const std::string& x, int elem_type) {
  Scope s(*this, "gelu");
  auto scaled = div(x, const_scalar(static_cast<float>(std::sqrt(2.0)), elem_type, "sqrt2"), "Div");
  auto erf = node("Erf", {scaled}, {}, "Erf");
  auto one_plus = add(erf, const_scalar(1.0f, elem_type, "one"), "Add");
  auto half = mul(x, const_scalar(0.5f, elem_type, "half"), "Mul_half");
  return mul(half, one_plus, "Mul");
}

std::string Builder::linear(const std::string& x, const std::string& w_t, const std::string& b) {
  return add(matmul(x, w_t), b, "Add_bias");
}

}  // namespace esm_onnx::graph
