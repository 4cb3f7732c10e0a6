#include "progress.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>

namespace esm_onnx::cli {

int64_t count_fasta_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) n += !line.empty() && line[0] == '>';
  return n;
}

void ProgressBar::update(const EmbedProgress& p) {
  if (!enabled_) return;
  if (p.seconds - last_ < 0.2 && !(p.input_finished && p.records_done == total_)) return;
  last_ = p.seconds;
  const double rate = esm_onnx::tokens_per_second(p.tokens_done, p.seconds);
  const double frac = total_ > 0 ? static_cast<double>(p.records_done) / static_cast<double>(total_) : 0.0;
  const int width = 30;
  const int filled = static_cast<int>(frac * width);
  std::string eta = "--:--";
  if (frac > 0 && frac < 1) {
    const auto left = static_cast<int64_t>(p.seconds * (1 - frac) / frac);
    eta = fmt::format("{}:{:02}:{:02}", left / 3600, (left / 60) % 60, left % 60);
  }
  fmt::print(stderr, "\r[{}{}] {}/{} {}  {:.0f} tokens/s  ETA {}  skipped {}   ", std::string(filled, '#'),
             std::string(width - filled, '.'), p.records_done, total_, unit_, rate, eta, p.skipped);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) fmt::print(stderr, "\n");
  drawn_ = false;
}

}  // namespace esm_onnx::cli
