// Checkpoint weights as initializers, in the encoding the chosen precision asks for.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engines/graph/esm_graph.h"
#include "engines/graph/quantize.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::graph {

std::string Ctx::weight(const TensorKey& tensor, bool transpose) {
  const std::string name = key_name(tensor);
  const std::string key = transpose ? name + ".T" : name;
  if (auto it = weights.find(key); it != weights.end()) return it->second;
  Tensor t = ckpt.read(tensor);
  if (transpose) {
    if (t.shape.size() != 2) throw FormatError(fmt::format("{}: tensor {} is not a matrix", ckpt.path(), name));
    auto data = transposed(t.data, t.shape[0], t.shape[1]);
    return weights[key] = b.weight(key, {t.shape[1], t.shape[0]}, data);
  }
  return weights[key] = b.weight(key, t.shape, t.data);
}

std::string Ctx::act_weight(const TensorKey& tensor) {
  if (act == onnx::TensorProto::FLOAT) return weight(tensor);
  const std::string key = key_name(tensor) + ".fp16";
  if (auto it = weights.find(key); it != weights.end()) return it->second;
  Tensor t = ckpt.read(tensor);
  return weights[key] = b.weight_as(key, act, t.shape, t.data);
}

std::string Ctx::scalar(float value, const std::string& hint) { return b.const_scalar(value, act, hint); }

namespace {

// query + key + value in layer 3 -> "layers.3.query+key+value"
std::string joined_name(const std::vector<Role>& roles, int64_t layer) {
  std::string name = layer < 0 ? role_name(roles.front()) : fmt::format("layers.{}.{}", layer, role_name(roles.front()));
  for (std::size_t i = 1; i < roles.size(); ++i) name += std::string("+") + role_name(roles[i]);
  return name;
}

bool is_feed_forward(Role role) { return role == Role::FfnUp || role == Role::FfnGate || role == Role::FfnDown; }

}  // namespace

std::string Ctx::linear(const std::string& x, const std::vector<Role>& roles, int64_t layer, bool with_bias) {
  const std::string base = joined_name(roles, layer);
  Builder::Scope s(b, base.substr(base.rfind('.') + 1));
  with_bias = with_bias && has_bias(roles.front(), layer);
  // Stacking [out_i, in] row blocks gives the packed [sum out_i, in] weight.
  std::vector<float> w, bias;
  int64_t n = 0, k = -1;
  for (const Role role : roles) {
    Tensor t = ckpt.read(weight_of(role, layer));
    if (t.shape.size() != 2 || (k >= 0 && t.shape[1] != k)) {
      throw FormatError(fmt::format("{}: the {} weight is not a [out, {}] matrix", ckpt.path(),
                                    key_name(weight_of(role, layer)), k));
    }
    k = t.shape[1];
    n += t.shape[0];
    w.insert(w.end(), t.data.begin(), t.data.end());
    if (with_bias) {
      Tensor tb = ckpt.read(bias_of(role, layer));
      bias.insert(bias.end(), tb.data.begin(), tb.data.end());
    }
  }
  std::string bias_name;
  if (with_bias) bias_name = b.weight_as(base + ".bias" + (act == onnx::TensorProto::FLOAT ? "" : ".fp16"), act, {n}, bias);

  // int4 is for the feed-forward weights (two thirds of a layer's). The attention projections stay int8:
  // their rounding errors pass through the softmax and, measured, cost several times more fidelity.
  WeightFormat format = opt.weights;
  if (format == WeightFormat::Int4 && !is_feed_forward(roles.front())) format = WeightFormat::Int8;
  switch (format) {
    case WeightFormat::Fp32:
    case WeightFormat::Fp16: {
      auto w_t = b.weight_as(base + ".weight.T", act, {k, n}, transposed(w, n, k));
      return with_bias ? b.linear(x, w_t, bias_name) : b.matmul(x, w_t);
    }
    case WeightFormat::Int8:
    case WeightFormat::Int8Dequant: {
      auto q = quantize_int8(w, n, k);
      w.clear();
      w.shrink_to_fit();
      auto qb = b.initializer(base + ".weight.int8", onnx::TensorProto::INT8, {k, n}, q.q.data(), q.q.size());
      auto sc = b.weight(base + ".weight.scale", {n}, q.scale);
      if (format == WeightFormat::Int8Dequant) {
        auto deq = b.node("DequantizeLinear", {qb, sc}, {attr_int("axis", 1)}, "DequantizeLinear");
        return with_bias ? b.linear(x, deq, bias_name) : b.matmul(x, deq);
      }
      const std::vector<int8_t> zeros(static_cast<std::size_t>(n), 0);
      auto zp = b.initializer(base + ".weight.zero_point", onnx::TensorProto::INT8, {n}, zeros.data(), zeros.size());
      std::vector<std::string> inputs{x, qb, sc, zp};
      if (with_bias) inputs.push_back(bias_name);
      return b.node("DynamicQuantizeMatMul", inputs, {}, "DynamicQuantizeMatMul", 1, "com.microsoft");
    }
    case WeightFormat::Int4: {
      const int64_t block = opt.int4_block;
      auto q = quantize_int4(w, n, k, block);
      w.clear();
      w.shrink_to_fit();
      auto qb = b.initializer(base + ".weight.int4", onnx::TensorProto::UINT8, {n, q.blocks, block / 2}, q.packed.data(),
                              q.packed.size());
      auto sc = b.weight(base + ".weight.scales", {n * q.blocks}, q.scale);
      auto zp = b.initializer(base + ".weight.zero_points", onnx::TensorProto::UINT8,
                              {static_cast<int64_t>(q.zero_points.size())}, q.zero_points.data(), q.zero_points.size());
      std::vector<std::string> inputs{x, qb, sc, zp};
      if (with_bias) {
        inputs.push_back("");  // g_idx
        inputs.push_back(bias_name);
      }
      // accuracy_level 4: activations quantized to int8 per block, so the integer (VNNI) kernels run.
      return b.node("MatMulNBits", inputs,
                    {attr_int("K", k), attr_int("N", n), attr_int("bits", 4), attr_int("block_size", block),
                     attr_int("accuracy_level", 4)},
                    "MatMulNBits", 1, "com.microsoft");
    }
  }
  throw UnsupportedError("unknown weight format");
}

}  // namespace esm_onnx::graph
