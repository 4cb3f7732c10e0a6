#pragma once
#include <string>
#include <vector>

namespace esm_onnx {
// Hex SHA-256 of a file, read in chunks (checkpoints can be many GB).
std::string sha256_file(const std::string& path);
// Hex SHA-256 of bytes in memory.
std::string sha256_bytes(const std::string& bytes);
// Hex SHA-256 of several files together: of "<sha256>  <file name>" lines in the order given, so that an
// edit to any of them changes it (a model folder's identity).
std::string sha256_files(const std::vector<std::string>& paths);
}  // namespace esm_onnx
