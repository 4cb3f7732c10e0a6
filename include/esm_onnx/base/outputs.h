#pragma once
// Every output esm-onnx computes, declared once (src/base/outputs/registry.cpp). Two tables:
//  - the graph outputs a converted ONNX model can have (what convert builds and the metadata flags),
//  - the per-record arrays `embed` cuts from them (what users name with --include, and the array names
//    every writer, the Python package, the drop-in and the Ray parts use).
// Code that handles outputs enumerates these tables; adding an output is an entry here, its graph hook
// (src/engines/graph/output_hooks.cpp) and its slicing rule when it needs a new one (src/engines/runtime/slicing.cpp).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace esm_onnx {

// The outputs of a converted ONNX graph.
enum class GraphOutput : unsigned { Representations, Logits, Contacts, Attentions };

// Whether convert builds a graph output.
enum class ConvertRule {
  Always,        // every graph has it (representations)
  WithHead,      // when the checkpoint has the weights it needs (logits: a head; contacts: the regression)
  OnRequest,     // only when asked for (convert --attentions): it costs memory even when not fetched
};

struct GraphOutputSpec {
  GraphOutput id;
  std::string_view name;          // the ONNX output's name, and the key in forward()'s results
  std::string_view metadata_key;  // its flag in the model's metadata ("has_contacts"); empty: always present
  bool metadata_optional;         // added after format revision 1: a model without the flag lacks the output
  std::string_view layout;        // the whole batch, fair-esm's layout: "[B, layers, H, T, T]"
  ConvertRule convert;
  bool needs_attention_maps;      // built from the attention probabilities
  // The fused layers can have it: a side branch recomputes each layer's maps from q and k, only on runs that
  // fetch it (the graph input kContactsWantedInput), so runs without it keep the fused layers' linear memory.
  bool fused_side_branch;
  std::string_view missing_hint;  // why a model lacks it, for the error when it is asked of such a model
};

// One per-record output of embed. The values are bits of an Includes set.
enum class Output : unsigned {
  Mean = 1u << 0,        // mean over residues of each requested layer: [E]
  PerTok = 1u << 1,      // every residue of each requested layer: [L, E]
  Bos = 1u << 2,         // the BOS token of each requested layer: [E]
  Contacts = 1u << 3,    // [L, L]
  Logits = 1u << 4,      // [L, vocab], or [labels] for a sequence classifier
  Attentions = 1u << 5,  // [layers, heads, t, t], t = the record's tokens with BOS and EOS
};

// How a record's arrays are cut from the batch's graph output (the rules live in runtime/slicing.cpp).
enum class SliceRule {
  ResidueRows,    // [layers, B, T, E] -> [L, E] per layer: the residues, without BOS/EOS/padding
  ResidueMean,    // -> [E] per layer, the mean of those rows
  FirstToken,     // -> [E] per layer: BOS
  ResidueSquare,  // [B, C, C] -> [L, L]
  HeadRows,       // [B, T, V] -> [L, V], or [B, V] -> [V] for a sequence classifier
  TokenSquares,   // [B, layers, H, T, T] -> [layers, H, t, t]: the record's tokens, BOS and EOS kept
};

// How `embed --long-sequences tile` stitches a record's tiles into its array (runtime/tile_stitch.cpp). Each
// residue i has a weight w_k(i) in each tile k that holds it, summing to 1 (tiles.h).
enum class TileRule {
  WeightedRows,  // row i = sum_k w_k(i) row_k(i)
  MeanOfRows,    // the mean over residues of the stitched rows
  FirstTile,     // the first tile's (the one that starts at the record's start)
  WeightedPairs, // (i, j) = sum_k w_k(i) w_k(j) c_k(i, j) / sum_k w_k(i) w_k(j) over the tiles holding both; NaN
                 // where no tile holds both
  HeadRows,      // as WeightedRows; a sequence classifier's [labels]: the mean over tiles
  OnePass,       // no stitching: a record that needs tiles is skipped, with the reason
};

struct OutputSpec {
  Output id;
  std::string_view name;  // as users write it: --include, include= in Python, the Embedding attribute, Parquet columns
  GraphOutput source;
  SliceRule slice;
  std::string_view key;   // the array name in npz, pt and h5 (esm-extract's), followed by "/<layer>" when per_layer
  bool per_layer;         // one array per requested layer
  std::string_view shape;  // per record, for documentation and --help
  TileRule tile;
};

// In the order writers store them (esm-extract's: representations, then contacts) and messages list them.
std::span<const OutputSpec> output_specs();
const OutputSpec& output_spec(Output output);
std::span<const GraphOutputSpec> graph_output_specs();
const GraphOutputSpec& graph_output_spec(GraphOutput output);
// The array name of one record array: "mean_representations/6", "contacts".
std::string array_key(Output output, int64_t layer);
// "mean, per_tok, bos, contacts, logits, attentions"
std::string output_names_text();

Output parse_output(std::string_view text, std::string_view option = "--include");
const char* output_name(Output output);

// A set of outputs.
class Includes {
 public:
  constexpr Includes() = default;
  constexpr Includes(Output o) : bits_(static_cast<unsigned>(o)) {}  // NOLINT: a single output is a set
  // Parses names such as {"mean", "per_tok"}; throws UsageError naming `option` for an unknown one or none.
  static Includes parse(const std::vector<std::string>& names, std::string_view option = "--include");

  constexpr bool has(Output o) const { return (bits_ & static_cast<unsigned>(o)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  // Whether any output cut from `source` is wanted.
  bool needs(GraphOutput source) const;
  // The graph outputs a run must fetch for these outputs, by ONNX name, in the registry's order.
  std::vector<std::string> graph_output_names() const;
  // Whether any representation (mean, per_tok, bos) is wanted.
  bool representations() const { return needs(GraphOutput::Representations); }
  constexpr Includes& add(Output o) {
    bits_ |= static_cast<unsigned>(o);
    return *this;
  }
  constexpr Includes operator|(Output o) const { return Includes(*this).add(o); }
  constexpr bool operator==(const Includes&) const = default;
  std::vector<std::string> names() const;  // in output_specs() order
  std::string to_string() const;           // "mean,per_tok"

 private:
  unsigned bits_{0};
};

inline Includes operator|(Output a, Output b) { return Includes(a) | b; }

// A set of graph outputs (what a converted model has).
class GraphOutputs {
 public:
  constexpr GraphOutputs() = default;
  constexpr bool has(GraphOutput g) const { return (bits_ & bit(g)) != 0; }
  constexpr GraphOutputs& set(GraphOutput g, bool on = true) {
    bits_ = on ? (bits_ | bit(g)) : (bits_ & ~bit(g));
    return *this;
  }
  constexpr bool operator==(const GraphOutputs&) const = default;
  std::vector<std::string> names() const;  // in graph_output_specs() order

 private:
  static constexpr unsigned bit(GraphOutput g) { return 1u << static_cast<unsigned>(g); }
  unsigned bits_{0};
};

// Whether any of `outputs` is built from the attention probabilities.
bool needs_attention_maps(const GraphOutputs& outputs);
// Whether any of `outputs` needs the explicit layers (attention maps the fused layers cannot give).
bool needs_explicit_layers(const GraphOutputs& outputs);

}  // namespace esm_onnx
