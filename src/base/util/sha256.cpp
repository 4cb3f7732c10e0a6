#include "base/util/sha256.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <memory>
#include <vector>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"

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
  // Through the untrusted-file helper: a FIFO or a device would block or never end, and a read error must
  // not pass for the end of the file (a digest of part of it).
  const files::RegularFile f = files::RegularFile::open(path, "the file");
  auto md = start();
  std::vector<char> buf(1 << 20);
  while (true) {
    const auto n = ::read(f.fd(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    if (n == 0) break;
    EVP_DigestUpdate(md.get(), buf.data(), static_cast<std::size_t>(n));
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
