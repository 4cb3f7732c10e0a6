#pragma once
// What a converted model says about itself (ONNX metadata_props), read and checked in one place.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "esm_onnx/base/alphabet.h"
#include "esm_onnx/base/architecture.h"
#include "esm_onnx/base/options.h"
#include "esm_onnx/base/outputs.h"

namespace esm_onnx {

// Revision of the metadata layout below; `embed` refuses models with another one.
inline constexpr int kModelFormatRevision = 1;

// A bool scalar input of fused models with contacts, true by default (an initializer): whether the run computes
// contacts. The engines feed false when contacts are not fetched, so those runs skip the attention maps.
inline constexpr const char* kContactsWantedInput = "contacts_wanted";

// What a model's classifier labels may be: convert refuses a checkpoint beyond these, and embed a model,
// so that what convert writes embed loads. Far above any real classifier.
inline constexpr std::size_t kMaxLabels = std::size_t{1} << 16;
inline constexpr std::size_t kMaxLabelBytes = 4096;          // one label name
inline constexpr std::size_t kMaxLabelsText = std::size_t{1} << 22;  // all of them, as the metadata's JSON list
// FormatError naming `where` when `labels` break those limits.
void check_labels(const std::vector<std::string>& labels, const std::string& where);

struct ModelInfo {
  int format_revision{0};
  Family family{Family::Esm2};
  std::string variant;      // the name to show: ESM-1, ESM-1b, ESM-1v, ESM-2, ESM C (ESM-1v is ESM-1b's family)
  AlphabetKind alphabet{AlphabetKind::Esm1b};
  int64_t num_layers{0};
  int64_t embed_dim{0};
  int64_t attention_heads{0};
  int64_t vocab_size{0};
  std::vector<int64_t> repr_layers;  // the layers the `representations` output holds, in order
  // The graph outputs the model has (representations always); each is a metadata flag (outputs.h).
  GraphOutputs outputs{GraphOutputs().set(GraphOutput::Representations).set(GraphOutput::Logits)};
  bool has(GraphOutput output) const { return outputs.has(output); }
  OutputHead head{OutputHead::LanguageModel};  // what `logits` holds (None: no logits output)
  std::vector<std::string> labels;             // classifier heads: the name of each logit, in order
  int64_t max_tokens{0};             // per sequence, BOS/EOS included; 0 = unlimited
  Precision precision{Precision::Fp32};
  Attention attention{Attention::Explicit};  // Explicit: attention maps exist (contacts need them)
  int64_t int4_block{0};             // MatMulNBits block size of int4 models
  std::string source_file;
  std::string source_sha256;
  std::string converter_version;
  int64_t padding_idx{1}, cls_idx{0}, eos_idx{2}, mask_idx{32};
  bool prepend_bos{true}, append_eos{true};

  static ModelInfo from_metadata(const std::map<std::string, std::string>& props, const std::string& path);
  std::map<std::string, std::string> to_metadata() const;
  Alphabet make_alphabet() const { return Alphabet::for_kind(alphabet); }
  // Residues one record may have before it is refused (after truncation); 0 = unlimited.
  int64_t max_residues() const;
  std::string to_string() const;
};

}  // namespace esm_onnx
