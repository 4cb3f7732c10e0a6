// The rows of the shared options (include/esm_onnx/base/option_specs.h). Help texts that mention a default format
// it from its constant, so that no number here is written twice.
#include "esm_onnx/base/option_specs.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/fold_config.h"
#include "esm_onnx/base/options.h"
#include "esm_onnx/base/outputs.h"
#include "esm_onnx/base/runtime_options.h"
#include "esm_onnx/base/tiles.h"
#include "esm_onnx/base/traits.h"

namespace esm_onnx {
namespace {

std::vector<OptionSpec> make_rows() {
  const int64_t esm2_tile = family_traits(Family::Esm2).training_residues;
  const int64_t esmc_tile = family_traits(Family::EsmC).training_residues;
  using J = OptionJob;
  return {
      // What to compute.
      {.key = "include", .flags = "--include", .value = std::string_view(output_name(kDefaultInclude)),
       .help = "outputs: any of " + output_names_text(), .job = J::Embed},
      // Batching and long records.
      {.key = "toks_per_batch", .flags = "--toks-per-batch,--toks_per_batch", .value = kDefaultToksPerBatch,
       .help = "token budget of a batch", .minimum = 1, .job = J::Embed},
      {.key = "toks_per_batch", .flags = "--toks-per-batch,--toks_per_batch", .value = kDefaultScoreToksPerBatch,
       .help = "token budget of a batch", .minimum = 1, .job = J::Score},
      {.key = "truncation_seq_length", .flags = "--truncation-seq-length,--truncation_seq_length", .value = {},
       .help = fmt::format("residues kept per record (0: no truncation); default {} with --long-sequences truncate, "
                           "none with tile and full", kDefaultTruncation),
       .shown = fmt::format("{} (truncate)", kDefaultTruncation), .minimum = 0, .job = J::Embed},
      {.key = "long_sequences", .flags = "--long-sequences", .value = {},
       .help = "records longer than one pass takes: truncate (esm-extract's), tile (esm-variants' overlapping "
               "windows, stitched with their weights) or full (one pass; ESM-2 and ESM C)",
       .shown = "the model's: truncate (ESM C: tile)", .job = J::Embed},
      {.key = "long_sequences", .flags = "--long-sequences", .value = std::string_view("tile"),
       .help = "sequences longer than the tile length: tile (esm-variants' overlapping windows) or full (one pass; "
               "ESM-2 and ESM C only)",
       .job = J::Score},
      {.key = "tile_length", .flags = "--tile-length", .value = Tiling{}.length,
       .help = fmt::format("residues per tile (default: the family's training length, {} (ESM C {}), at most what "
                           "the model's positions take)", esm2_tile, esmc_tile),
       .shown = "model", .minimum = 0},
      {.key = "tile_overlap", .flags = "--tile-overlap", .value = kDefaultTileOverlap,
       .help = "residues neighbouring tiles share at least", .minimum = 1},
      {.key = "tile_sharpness", .flags = "--tile-sharpness", .value = kDefaultTileSharpness,
       .help = "s of the tiles' sigmoid edge weights"},
      {.key = "read_ahead", .flags = "--read-ahead,--window", .value = kDefaultReadAhead,
       .help = "records read ahead, sorted by length and batched together", .minimum = 1, .job = J::Embed},
      {.key = "read_ahead", .flags = "--read-ahead,--window", .value = kDefaultScoreReadAhead,
       .help = "proteins read ahead, sorted by length and batched together", .minimum = 1, .job = J::Score},
      // What runs the model.
      {.key = "threads", .flags = "--threads", .value = int64_t{RuntimeOptions{}.threads},
       .help = "the engine's threads (0: its default, one per core)", .minimum = 0, .maximum = kMaxThreads,
       .folds = true},
      {.key = "device", .flags = "--device", .value = std::string_view(device_name(RuntimeOptions{}.device)),
       .help = "cpu, or cuda (needs an ONNX Runtime with CUDA)", .folds = true},
      {.key = "engine", .flags = "--engine", .value = std::string_view(engine_name(kDefaultEngine)),
       .help = "ort (ONNX Runtime: every graph), or openvino (graphs from convert --engine openvino)"},
      {.key = "compute", .flags = "--compute", .value = std::string_view(compute_name(RuntimeOptions{}.compute)),
       .help = "openvino: bf16 or fp32; auto = bf16 where the CPU has AVX512_BF16 or AMX-BF16, else fp32"},
      {.key = "cache_dir", .flags = "--cache-dir", .value = {},
       .help = "openvino: compiled-model cache (default $ESM_ONNX_CACHE/openvino, else ~/.cache/esm-onnx/openvino)",
       .shown = "$ESM_ONNX_CACHE/openvino"},
      {.key = "cache", .flags = "--no-cache", .value = RuntimeOptions{}.cache,
       .help = "openvino: compile at every start, cache nothing"},
      // The jobs' files and reports.
      {.key = "format", .flags = "--format", .value = std::string_view(format_name(kDefaultFormat)),
       .help = "npz (one file per record), pt (esm-extract's), h5 (one file)", .job = J::Embed},
      {.key = "strict", .flags = "--strict", .value = false,
       .help = "stop at the first bad record instead of skipping it", .job = J::Embed},
      {.key = "strict", .flags = "--strict", .value = false,
       .help = "stop at the first mutation or protein that cannot be scored instead of skipping it", .job = J::Score},
      {.key = "progress", .flags = "--no-progress", .value = true, .help = "no progress bar even on a terminal",
       .folds = true},
      // fold
      {.key = "num_recycles", .flags = "--num-recycles", .value = {},
       .help = "recycles after the first pass through the trunk (esm-fold's; default the model's: 3, 4 passes in all, "
               "as released)",
       .shown = "model", .minimum = 0, .maximum = kMaxRecycles, .job = J::Fold},
      {.key = "chunk_size", .flags = "--chunk-size", .value = {},
       .help = fmt::format("rows per triangle-attention chunk (esm-fold's; exact at any size); default: as many as "
                           "keep the chunk's logits within {} MB", kDefaultFoldChunkBytes >> 20),
       .shown = "auto", .minimum = 1, .job = J::Fold},
      {.key = "max_tokens_per_batch", .flags = "--max-tokens-per-batch", .value = kDefaultFoldTokensPerBatch,
       .help = "residues of a folding batch, padding included (esm-fold's)", .minimum = 1, .job = J::Fold},
      {.key = "read_ahead", .flags = "--read-ahead", .value = kDefaultFoldReadAhead,
       .help = "records read ahead, sorted by length and batched together", .minimum = 1, .job = J::Fold},
      {.key = "strict", .flags = "--strict", .value = false,
       .help = "stop at the first record that cannot be folded instead of skipping it", .job = J::Fold},
      // convert
      {.key = "precision", .flags = "--precision", .value = std::string_view(precision_name(kDefaultPrecision)),
       .help = "fp32; fp16 (GPU); int8 (per-channel weights, dynamic activations); int4 (block-quantized weights)",
       .job = J::Convert},
      {.key = "engine", .flags = "--engine", .value = std::string_view(engine_name(kDefaultEngine)),
       .help = "the engine the graph is for: ort (ONNX Runtime: every precision, fused ops), or openvino (standard "
               "ops, fp32 weights; --verify runs it on OpenVINO)",
       .job = J::Convert},
      {.key = "int4_block", .flags = "--block-size", .value = kDefaultInt4Block, .help = "int4 block size (32 or 128)",
       .minimum = 1, .job = J::Convert},
      {.key = "contacts", .flags = "--no-contacts", .value = true, .help = "leave the contacts output out",
       .job = J::Convert},
      {.key = "optimize", .flags = "--no-optimize", .value = true,
       .help = "standard ONNX ops only (no ONNX Runtime fused attention, rotary, skip-layer-norm, bias-gelu)",
       .job = J::Convert},
  };
}

}  // namespace

const char* option_job_name(OptionJob job) {
  switch (job) {
    case OptionJob::Embed: return "embed";
    case OptionJob::Score: return "score";
    case OptionJob::Convert: return "convert";
    case OptionJob::Fold: return "fold";
  }
  return "embed";
}

std::string_view OptionSpec::name() const { return flags.substr(0, flags.find(',')); }

std::vector<std::string_view> OptionSpec::spellings() const {
  std::vector<std::string_view> out;
  for (std::string_view rest = flags; !rest.empty();) {
    const auto comma = rest.find(',');
    out.push_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return out;
}

bool OptionSpec::applies_to(OptionJob j) const {
  if (job) return *job == j;
  return j == OptionJob::Embed || j == OptionJob::Score || (j == OptionJob::Fold && folds);
}

std::string OptionSpec::default_text() const {
  if (!shown.empty()) return shown;
  struct Text {
    std::string operator()(std::monostate) const { return ""; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t n) const { return std::to_string(n); }
    std::string operator()(double d) const { return fmt::format("{}", d); }
    std::string operator()(std::string_view s) const { return std::string(s); }
  };
  return std::visit(Text{}, value);
}

std::span<const OptionSpec> option_specs() {
  static const std::vector<OptionSpec> rows = make_rows();
  return rows;
}

const OptionSpec& option_spec(std::string_view key, OptionJob job) {
  const OptionSpec* shared = nullptr;
  for (const auto& row : option_specs()) {
    if (row.key != key || !row.applies_to(job)) continue;
    if (row.job) return row;
    shared = &row;
  }
  if (shared == nullptr) throw InternalError(fmt::format("option_spec: no row for '{}' ({})", key, option_job_name(job)));
  return *shared;
}

std::vector<const OptionSpec*> options_for(OptionJob job) {
  std::vector<const OptionSpec*> out;
  for (const auto& row : option_specs()) {
    if (!row.applies_to(job)) continue;
    const OptionSpec* chosen = &option_spec(row.key, job);
    if (std::find(out.begin(), out.end(), chosen) == out.end()) out.push_back(chosen);
  }
  return out;
}

}  // namespace esm_onnx
