#pragma once
// The options that travel through the library as types. Text is parsed once, at the boundary (the CLI,
// the Python package, model metadata), by the parse_* functions here; everything behind them compares
// enums. Each parse_* throws UsageError naming `option` and the accepted values.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "esm_onnx/base/outputs.h"  // Output and Includes

namespace esm_onnx {

// How a converted model stores its weights and computes.
enum class Precision {
  Fp32,  // the reference
  Fp16,  // fp16 weights and activations (GPUs); LayerNorm and softmax accumulate in fp32
  Int8,  // per-channel int8 weights, dynamically quantized activations
  Int4,  // MatMulNBits block-quantized weights
};
Precision parse_precision(std::string_view text, std::string_view option = "--precision");
const char* precision_name(Precision precision);  // "fp32", "fp16", "int8", "int4"

// Where ONNX Runtime runs the model.
enum class Device { Cpu, Cuda };
Device parse_device(std::string_view text, std::string_view option = "--device");
const char* device_name(Device device);

// What runs a converted model.
enum class Engine {
  OnnxRuntime,  // "ort": every graph convert writes; the fused and quantized ops are ONNX Runtime's
  OpenVino,     // "openvino": standard-op graphs only (convert --engine openvino); bf16 compute on CPUs with it
};
Engine parse_engine(std::string_view text, std::string_view option = "--engine");
const char* engine_name(Engine engine);  // "ort", "openvino"

// The arithmetic an engine uses for a graph's fp32 weights and activations.
enum class Compute {
  Auto,  // OpenVINO: bf16 where the CPU has AVX512_BF16 or AMX-BF16, else fp32; ONNX Runtime: the graph's own
  Fp32,
  Bf16,  // OpenVINO only: bf16 matrix products, fp32 accumulation, LayerNorm and softmax in fp32
};
Compute parse_compute(std::string_view text, std::string_view option = "--compute");
const char* compute_name(Compute compute);  // "auto", "fp32", "bf16"

// The attention a converted graph uses.
enum class Attention {
  Explicit,  // standard ops; the attention maps exist, so contacts can be computed
  Fused,     // ONNX Runtime's com.microsoft fused attention, rotary, skip-layer-norm
};
Attention parse_attention(std::string_view text, std::string_view option);
const char* attention_name(Attention attention);  // "explicit", "fused"

// The batching defaults, one value each: EmbedRequest, EmbedOptions, StreamOptions, the CLI and the Python
// package (as _core.DEFAULTS) take them from here.
// What convert writes unless told, and what runs a model unless told.
inline constexpr Precision kDefaultPrecision = Precision::Fp32;
inline constexpr Engine kDefaultEngine = Engine::OnnxRuntime;
inline constexpr int64_t kDefaultInt4Block = 128;  // int4 block size: 128 (faster kernels) or 32 (closer)

inline constexpr Output kDefaultInclude = Output::Mean;  // what embed computes unless told: mean representations
inline constexpr int64_t kDefaultToksPerBatch = 1024;  // esm-extract's is 4096; smaller batches stay in cache
inline constexpr int64_t kDefaultTruncation = 1022;    // residues kept per record: fair-esm's 1,024 positions less BOS/EOS
inline constexpr int64_t kDefaultReadAhead = 20000;    // records read ahead, sorted by length and batched together

// The token budget of a scoring batch. Every pass of a scan has the same length, so there is no padding to save;
// measured on a 263-residue scan (ESM-2 35M size, 2 threads), 1,024 to 4,096 tokens run alike and 8,192 is
// slower in fp32, while memory grows with the budget: 2,048 (seven masked copies of such a protein).
inline constexpr int64_t kDefaultScoreToksPerBatch = 2048;
// Proteins read ahead, sorted by length and batched together, in the every-missense job.
inline constexpr int64_t kDefaultScoreReadAhead = 256;

// The rate every report gives (summaries, progress bars): tokens over seconds, 0 before any time has passed.
inline double tokens_per_second(int64_t tokens, double seconds) {
  return seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0;
}

// The files `embed` writes.
enum class OutputFormat { Npz, Pt, H5 };
OutputFormat parse_output_format(std::string_view text, std::string_view option = "--format");
const char* format_name(OutputFormat format);       // "npz", "pt", "h5"
const char* format_extension(OutputFormat format);  // ".npz", ".pt", ".h5"
inline constexpr OutputFormat kDefaultFormat = OutputFormat::Npz;  // one file per record

// What a job does with a record longer than the model's window.
enum class LongSequences {
  Truncate,  // keep the first residues (esm-extract's)
  Tile,      // overlapping windows, stitched with weights (tiles.h)
  Full,      // one pass over the whole record (rotary positions only: ESM-2, ESM C)
};
LongSequences parse_long_sequences(std::string_view text, std::string_view option = "--long-sequences");
const char* long_sequences_name(LongSequences mode);  // "truncate", "tile", "full"

}  // namespace esm_onnx
