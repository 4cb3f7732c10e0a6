#pragma once
// A converted model, loaded once, that embeds sequences in memory: sequences in, per-record arrays out.
//
// Thread safety: every const member of Model may be called from several threads at once on the same
// Model (ONNX Runtime's Session::Run is thread-safe, and Model keeps no state between calls). An
// EmbedStream is used by one thread at a time; several streams may share one Model.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "esm_onnx/base/alphabet.h"
#include "esm_onnx/base/model_info.h"
#include "esm_onnx/base/options.h"
#include "esm_onnx/base/record.h"
#include "esm_onnx/base/runtime_options.h"
#include "esm_onnx/base/tiles.h"

namespace esm_onnx {
namespace runtime {
struct LoadedModel;  // src/engines/runtime/loaded_model.h
}  // namespace runtime

// What to compute for each record, with esm-extract's batching and truncation.
struct EmbedRequest {
  Includes include{kDefaultInclude};
  std::vector<int64_t> repr_layers;     // fair-esm numbering, negatives from the end; empty = every exported layer
  int64_t toks_per_batch{kDefaultToksPerBatch};         // token budget of a batch
  // Residues kept per record; 0 = no truncation. Unset: kDefaultTruncation with Truncate, none with Tile and Full.
  std::optional<int64_t> truncation_seq_length;
  // Records longer than one pass takes: truncate (esm-extract's), tile (tiles.h, stitched as OutputSpec::tile
  // says) or full (one pass). Unset: the family's default (FamilyTraits::long_sequences).
  std::optional<LongSequences> long_sequences;
  Tiling tiling;  // length 0: the family's training length, at most the model's positions

  void validate() const;  // UsageError naming the option
  std::string to_string() const;
};

// What a request does with long records on one model: the resolved mode, truncation (0 = none) and tiles.
struct LongSequencePlan {
  LongSequences mode{LongSequences::Truncate};
  int64_t truncate{kDefaultTruncation};
  Tiling tiling;  // length resolved; used with Tile
  std::string to_string() const;  // "tile (1022-residue tiles, overlap >= 512, s = 20)"
};
LongSequencePlan plan_long_sequences(const ModelInfo& info, const EmbedRequest& request);

// fair-esm's `model(tokens, repr_layers, need_head_weights, return_contacts)` on one padded batch, every
// position kept.
struct ForwardOutputs {
  std::vector<int64_t> layers;  // the layers `representations` holds, in order
  // Each graph output asked for, in the layout GraphOutputSpec::layout gives; representations as
  // [layers, batch, length, E] with only `layers`.
  std::map<GraphOutput, FloatArray> outputs;
  const FloatArray* find(GraphOutput output) const {
    auto it = outputs.find(output);
    return it == outputs.end() ? nullptr : &it->second;
  }
};

// The layers `request` yields from the model `info` describes (read from `path`), sorted; UsageError when a
// layer was not exported or contacts are asked of a model without them. Needs only the metadata, so a
// driver can check a request without loading the model.
std::vector<int64_t> resolve_request(const ModelInfo& info, const std::string& path, const EmbedRequest& request);

// Reads the metadata of an .onnx file without loading its weights (engines/runtime/model_info_file.cpp).
ModelInfo read_model_info(const std::string& onnx_path);
// The digest of the checkpoint an .onnx was converted from, for an embedding model or a folding model alike.
std::string read_source_sha256(const std::string& onnx_path);

class Model {
 public:
  // Loads `path` (an .onnx written by esm-onnx convert). Throws FileError when it cannot be read,
  // FormatError when it was not written by a compatible esm-onnx, UsageError for bad options.
  explicit Model(const std::string& path, const RuntimeOptions& options = {});
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const std::string& path() const;
  const ModelInfo& info() const;
  const Alphabet& alphabet() const;
  const RuntimeOptions& options() const;
  double load_seconds() const;  // reading and compiling the model (or loading it from OpenVINO's cache)
  const EngineInfo& engine() const;

  // resolve_request() for this model.
  std::vector<int64_t> resolve(const EmbedRequest& request) const;

  // One output per record, in input order. A record that cannot be embedded (a character outside the
  // alphabet, no residues, longer than the model allows) throws InputError naming it; nothing is skipped.
  std::vector<RecordOutput> embed(const std::vector<SequenceRecord>& records, const EmbedRequest& request) const;
  // The same for bare sequences; each label is the sequence's position in the list ("0", "1", ...).
  std::vector<RecordOutput> embed(const std::vector<std::string>& sequences, const EmbedRequest& request) const;

  // Runs one batch of token ids ([batch, length], row-major, fair-esm's layout: BOS, ids, EOS, padding).
  // `layers` as in EmbedRequest::repr_layers; representations are computed only when `include` asks for
  // any of mean, per_tok or bos.
  ForwardOutputs forward(const std::vector<int64_t>& tokens, int64_t batch, int64_t length, Includes include,
                         const std::vector<int64_t>& layers = {}) const;

  const runtime::LoadedModel& impl() const { return *impl_; }

 private:
  std::unique_ptr<runtime::LoadedModel> impl_;
};

// Where an EmbedStream reads its records.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  virtual bool next(SequenceRecord& record) = 0;  // false at the end
  virtual std::string name() const = 0;           // for messages: the file, or "input"
};

// Records from a FASTA file, read as they are needed.
std::unique_ptr<RecordSource> fasta_source(const std::string& path);
// Records from memory (the vector must outlive the source).
std::unique_ptr<RecordSource> vector_source(const std::vector<SequenceRecord>& records);

// How the stream treats bad records and how many it reads ahead: what a job passes on (EmbedOptions::stream).
struct StreamSettings {
  bool strict{false};     // throw InputError at the first bad record instead of skipping it
  std::string strict_note{" (strict mode stops at the first bad record)"};  // appended to that error
  int64_t read_ahead{kDefaultReadAhead};  // records read, sorted by length and batched together

  void validate() const;  // UsageError naming --read-ahead
};

// The settings and the job's hooks into the stream.
struct StreamOptions : StreamSettings {
  // Optional: a reason to skip a record (empty = fine), checked before it is tokenized.
  std::function<std::string(const SequenceRecord&)> check;
  // Optional: true when the record's output exists already (a resumed run); it is counted, not run.
  std::function<bool(const SequenceRecord&)> done;
  // Optional: told of every skipped record as it happens.
  std::function<void(const SkippedRecord&)> on_skip;
};

struct StreamCounters {
  int64_t records_seen{0};     // read from the source so far
  int64_t written{0};          // embedded and handed out
  int64_t already_present{0};  // `done` said so
  int64_t tokens{0};           // BOS/EOS included
  int64_t batches{0};
  bool input_finished{false};
};

// The esm-extract loop over any record source: read a window, tokenize and check each record, sort by
// length, batch by token budget, run, slice. Memory is bounded by the window's token ids and one batch.
class EmbedStream {
 public:
  EmbedStream(const Model& model, RecordSource& source, const EmbedRequest& request, StreamOptions options = {});
  ~EmbedStream();
  EmbedStream(const EmbedStream&) = delete;
  EmbedStream& operator=(const EmbedStream&) = delete;

  // The next batch's records (shortest first within a window; at least one); false once the input is exhausted.
  bool next(std::vector<RecordOutput>& batch);

  const std::vector<int64_t>& layers() const;
  const StreamCounters& counters() const;
  const std::vector<SkippedRecord>& skipped() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace esm_onnx
