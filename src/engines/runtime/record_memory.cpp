#include "engines/runtime/record_memory.h"

#include <fmt/format.h>
#include <unistd.h>

namespace esm_onnx::runtime {

uint64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(size) : 0;
}

std::string pair_memory_problem(const ModelInfo& info, Includes include, int64_t length, bool one_pass, int64_t tile,
                                uint64_t memory) {
  if (memory == 0 || !(include.has(Output::Contacts) || include.has(Output::Attentions))) return {};
  const auto sq = [](int64_t n) { return static_cast<double>(n) * static_cast<double>(n) * 4.0; };  // fp32 [n, n]
  const auto heads = static_cast<double>(info.attention_heads), layers = static_cast<double>(info.num_layers);
  const int64_t pass = (one_pass ? length : tile) + 2;
  // A pass holds about three of one layer's [heads, T, T] maps (scores, probabilities, a product) for contacts and
  // every layer's for attentions; the record's [L, L] arrays are the output, its copy for the writer, and with
  // tiles the weights beside the sums.
  double need = 3.0 * heads * sq(pass) + (one_pass ? 2.0 : 3.0) * sq(length);
  if (include.has(Output::Attentions)) need += 2.0 * layers * heads * sq(pass);
  if (need <= 0.8 * static_cast<double>(memory)) return {};
  // Named as the registry names them; only contacts can come from tiles (attentions are one pass's maps).
  const Output biggest = include.has(Output::Attentions) ? Output::Attentions : Output::Contacts;
  const char* what = output_name(biggest);
  return fmt::format("{} residues: its {} would need about {:.0f} GB, more than this machine's {:.0f} GB; leave {} out "
                     "(--include) or embed fewer residues (--truncation-seq-length{})", length, what, need / 1e9,
                     static_cast<double>(memory) / 1e9, what,
                     one_pass && output_spec(biggest).tile != TileRule::OnePass ? ", or --long-sequences tile" : "");
}

}  // namespace esm_onnx::runtime
