#pragma once
// ESMFold's folding head (trunk, structure module, confidence heads): its sizes as the checkpoint's
// configuration gives them, read by convert and written into the converted model's metadata.
#include <cstdint>
#include <map>
#include <string>

namespace esm_onnx {

// esm-fold's defaults, and the fold job's.
inline constexpr int64_t kDefaultFoldTokensPerBatch = 1024;   // --max-tokens-per-batch
inline constexpr int64_t kDefaultResidueIndexOffset = 512;    // between chains of a multimer
inline constexpr const char* kDefaultChainLinker = "GGGGGGGGGGGGGGGGGGGGGGGGG";  // 25 glycines between chains
inline constexpr char kChainSeparator = ':';
// Memory the triangle-attention logits of one chunk may take when no --chunk-size is given.
inline constexpr int64_t kDefaultFoldChunkBytes = int64_t{256} << 20;
inline constexpr int64_t kDefaultFoldReadAhead = 64;  // records read, sorted by length and batched together
inline constexpr int64_t kMaxRecycles = 64;           // far above the 4 cycles the release trains with

struct StructureModuleConfig {
  int64_t sequence_dim{384};
  int64_t pairwise_dim{128};
  int64_t ipa_dim{16};
  int64_t resnet_dim{128};
  int64_t num_heads_ipa{12};
  int64_t num_qk_points{4};
  int64_t num_v_points{8};
  int64_t num_blocks{8};  // iterations, one set of weights
  int64_t num_transition_layers{1};
  int64_t num_resnet_blocks{2};
  int64_t num_angles{7};
  float trans_scale_factor{10};
  float epsilon{1e-8f};
  float inf{1e5f};
};

struct FoldConfig {
  // The stem: an ESM-2 whose every hidden state (embedding and each layer) feeds the trunk.
  int64_t esm_layers{0};
  int64_t esm_dim{0};
  // The trunk.
  int64_t sequence_state_dim{1024};
  int64_t pairwise_state_dim{128};
  int64_t sequence_head_width{32};
  int64_t pairwise_head_width{32};
  int64_t position_bins{32};
  int64_t num_blocks{48};
  int64_t max_recycles{4};  // recycles after the first pass when none is asked for
  int64_t lddt_head_hid_dim{128};
  bool embed_aa{true};
  StructureModuleConfig structure;

  static constexpr int64_t kDistogramBins = 64;  // distogram and pTM heads
  static constexpr int64_t kLddtBins = 50;
  static constexpr int64_t kRecycleBins = 15;
  static constexpr int64_t kAaTokens = 23;  // padding/residues/X/mask of the amino-acid embedding and LM head
  static constexpr float kPaeMaxBin = 31.0f;

  int64_t sequence_heads() const { return sequence_state_dim / sequence_head_width; }
  int64_t pairwise_heads() const { return pairwise_state_dim / pairwise_head_width; }
  // FormatError naming `where` when a size is out of range or the heads do not divide the widths.
  void validate(const std::string& where) const;
  // One JSON object under the metadata key "esm_onnx.fold", and back.
  std::string to_json() const;
  static FoldConfig from_json(const std::string& text, const std::string& where);
};

// What a converted ESMFold says about itself (the folding graph's ONNX metadata): its configuration and the stem
// model beside it. The stem is an ordinary ESM-2 model (every layer's representations), which embed also runs.
inline constexpr int kFoldFormatRevision = 1;
inline constexpr const char* kFoldMetadataKey = "esm_onnx.fold";  // its presence marks a folding model
struct FoldModelInfo {
  int format_revision{kFoldFormatRevision};
  FoldConfig config;
  std::string stem_file;  // a file name in the folding model's folder
  std::string source_file, source_sha256, converter_version;

  std::map<std::string, std::string> to_metadata() const;
  // FormatError naming `path` when the metadata is not a folding model's this version reads.
  static FoldModelInfo from_metadata(const std::map<std::string, std::string>& props, const std::string& path);
  static bool is_fold(const std::map<std::string, std::string>& props) { return props.count(kFoldMetadataKey) > 0; }
};

// The folding graph's inputs and outputs (one recycling cycle: trunk, structure module and, when asked, the heads).
namespace fold_io {
inline constexpr const char* kEsmHidden = "esm_hidden";        // float [layers + 1, B, L + 2, E]: the stem's states
inline constexpr const char* kAatype = "aatype";                // int64 [B, L] residue types (structure.h's order)
inline constexpr const char* kMask = "mask";                    // float [B, L] 1 at residues, 0 at padding
inline constexpr const char* kResidueIndex = "residue_index";   // int64 [B, L]
inline constexpr const char* kRecycleS = "recycle_s";           // float [B, L, c_s] the last cycle's s (zeros first)
inline constexpr const char* kRecycleZ = "recycle_z";           // float [B, L, L, c_z] its z (zeros first)
inline constexpr const char* kRecycleBins = "recycle_bins";     // int64 [B, L, L] its CB distance bins (zeros first)
inline constexpr const char* kChunkSize = "chunk_size";         // int64 scalar: rows per triangle-attention chunk
inline constexpr const char* kWantHeads = "want_heads";         // bool scalar: compute the heads (the last cycle)
inline constexpr const char* kSequenceState = "s_s";            // float [B, L, c_s]
inline constexpr const char* kPairState = "s_z";                // float [B, L, L, c_z]
inline constexpr const char* kRotations = "rotations";          // float [B, L, 3, 3] backbone frames
inline constexpr const char* kTranslations = "translations";    // float [B, L, 3] Angstrom
inline constexpr const char* kAngles = "angles";                // float [B, L, 7, 2] torsions (sin, cos)
// The heads, empty unless want_heads:
inline constexpr const char* kPlddt = "plddt";                  // float [B, L, 37] 0-100
inline constexpr const char* kDistogramLogits = "distogram_logits";  // float [B, L, L, 64]
inline constexpr const char* kPtmLogits = "ptm_logits";         // float [B, L, L, 64]
inline constexpr const char* kLmLogits = "lm_logits";           // float [B, L, 23]
}  // namespace fold_io

}  // namespace esm_onnx
