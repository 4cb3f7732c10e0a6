#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "esm_onnx/formats/writer.h"
#include "formats/io/npy_read.h"

namespace esm_onnx {

namespace {

std::string npy_header(const std::string& descr, const std::vector<int64_t>& dims) {
  // numpy's own spelling: () for scalars, (5,) for one dimension, (5, 3) beyond.
  std::string shape;
  for (std::size_t k = 0; k < dims.size(); ++k) shape += (k ? ", " : "") + std::to_string(dims[k]);
  if (dims.size() == 1) shape += ",";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, shape);
  // magic(6) + version(2) + header length(2) + header, padded with spaces to a multiple of 64, ending in \n.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back('\x01');
  out.push_back('\x00');
  const auto hlen = static_cast<uint16_t>(header.size());
  out.push_back(static_cast<char>(hlen & 0xFF));
  out.push_back(static_cast<char>(hlen >> 8));
  out += header;
  return out;
}

}  // namespace

std::string npy_text_bytes(const std::string& text) {
  return npy_header(fmt::format("|S{}", std::max<std::size_t>(1, text.size())), {}) + (text.empty() ? std::string(1, '\0') : text);
}

std::string npy_bytes(const FloatArray& a) {
  std::string out = npy_header("<f4", a.shape);
  const std::size_t off = out.size();
  out.resize(off + a.data.size() * sizeof(float));
  std::memcpy(out.data() + off, a.data.data(), a.data.size() * sizeof(float));
  return out;
}

std::string npy_int64_bytes(const std::vector<int64_t>& shape, const std::vector<int64_t>& data) {
  std::string out = npy_header("<i8", shape);
  const std::size_t off = out.size();
  out.resize(off + data.size() * sizeof(int64_t));
  std::memcpy(out.data() + off, data.data(), data.size() * sizeof(int64_t));
  return out;
}

namespace io {

std::optional<NpyView> parse_npy(std::string_view bytes) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != "\x93NUMPY" || bytes[6] != '\x01') return std::nullopt;
  const std::size_t header =
      static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  if (10 + header > bytes.size()) return std::nullopt;
  return NpyView{bytes.substr(10, header), bytes.substr(10 + header)};
}

std::string npy_text(std::string_view bytes) {
  const auto v = parse_npy(bytes);
  if (!v) return {};
  std::string_view s = v->payload;
  while (!s.empty() && s.back() == '\0') s.remove_suffix(1);
  return std::string(s);
}

}  // namespace io

}  // namespace esm_onnx
