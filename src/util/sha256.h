#pragma once
#include <string>

namespace esm_onnx {
// Hex SHA-256 of a file, read in chunks (checkpoints can be many GB).
std::string sha256_file(const std::string& path);
// Hex SHA-256 of bytes in memory.
std::string sha256_bytes(const std::string& bytes);
}  // namespace esm_onnx
