#include "util/sha256.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "esm_onnx/errors.h"

namespace esm_onnx {
namespace {

using Digest = std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)>;

Digest start() {
  Digest md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
  return md;
}

std::string finish(Digest& md) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md.get(), digest, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(fmt::format("{}: cannot open: check that the file exists and is readable", path));
  auto md = start();
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(md.get(), buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  return finish(md);
}

std::string sha256_bytes(const std::string& bytes) {
  auto md = start();
  EVP_DigestUpdate(md.get(), bytes.data(), bytes.size());
  return finish(md);
}

std::string sha256_files(const std::vector<std::string>& paths) {
  std::string all;
  for (const auto& p : paths) all += sha256_file(p) + "  " + std::filesystem::path(p).filename().string() + "\n";
  return sha256_bytes(all);
}

}  // namespace esm_onnx
