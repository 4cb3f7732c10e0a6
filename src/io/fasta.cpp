#include "esm_onnx/fasta.h"

#include <fmt/format.h>

#include "esm_onnx/errors.h"

namespace esm_onnx {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n\v\f");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n\v\f");
  return s.substr(b, e - b + 1);
}

}  // namespace

FastaReader::FastaReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
  if (!in_) throw FileError(fmt::format("{}: cannot open the FASTA file", path));
  std::string line;
  while (std::getline(in_, line)) {
    ++line_no_;
    const std::string t = trim(line);
    if (t.empty()) continue;
    if (t[0] != '>') {
      throw InputError(fmt::format("{}: not a FASTA file: line {} comes before any '>' header line", path, line_no_));
    }
    pending_header_ = line;
    pending_line_ = line_no_;
    return;
  }
  throw InputError(fmt::format("{}: the FASTA file is empty (no '>' record)", path));
}

bool FastaReader::next(FastaRecord& r) {
  if (done_ || pending_line_ == 0) return false;
  // fair-esm strips the header after '>' and names unlabeled records by their 0-based line index.
  r.label = trim(pending_header_.substr(pending_header_.find('>') + 1));
  if (r.label.empty()) r.label = fmt::format("seqnum{:09d}", pending_line_ - 1);
  r.line = pending_line_;
  r.index = count_++;
  r.sequence.clear();
  pending_line_ = 0;
  std::string line;
  while (std::getline(in_, line)) {
    ++line_no_;
    if (!line.empty() && line[0] == '>') {
      pending_header_ = line;
      pending_line_ = line_no_;
      return true;
    }
    r.sequence += trim(line);
  }
  done_ = true;
  return true;
}

}  // namespace esm_onnx
