#pragma once
// fair-esm's token vocabularies and tokenizer.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace esm_onnx {

enum class AlphabetKind {
  Esm1b,  // ESM-1b, ESM-1v, ESM-2: <cls> <pad> <eos> <unk> ... <mask>, BOS and EOS
  Esm1,   // ESM-1: <null_0> <pad> <eos> <unk> ... <cls> <mask> <sep>, BOS only
  EsmC,   // ESM C: ESM-1b's ids 0-30, '|' (chain break) at 31, <mask> at 32, 64 rows in all
};

class Alphabet {
 public:
  static Alphabet for_kind(AlphabetKind kind);
  static Alphabet from_name(std::string_view name);  // "ESM-1b", "ESM-1" or "ESM C"

  AlphabetKind kind() const { return kind_; }
  std::string name() const;
  const std::vector<std::string>& tokens() const { return tokens_; }
  std::size_t size() const { return tokens_.size(); }
  int64_t index(std::string_view token) const;  // -1 if absent

  int64_t padding_idx() const { return padding_idx_; }
  int64_t cls_idx() const { return cls_idx_; }
  int64_t eos_idx() const { return eos_idx_; }
  int64_t mask_idx() const { return mask_idx_; }
  int64_t unk_idx() const { return unk_idx_; }
  int64_t chain_break_idx() const { return chain_break_idx_; }  // -1 when the alphabet has none
  bool prepend_bos() const { return prepend_bos_; }
  bool append_eos() const { return append_eos_; }

  // fair-esm's Alphabet.encode: special tokens written inline (`<mask>`) are one token, whitespace
  // is dropped, and any other character outside the alphabet throws InputError naming it.
  std::vector<int64_t> encode(std::string_view sequence) const;

  // fair-esm's BatchConverter layout for encoded rows (kept as bytes: every vocabulary has fewer than 256
  // tokens): BOS, the ids, EOS, then padding up to the longest. Returns the [rows, length] matrix
  // row-major and sets `length`.
  std::vector<int64_t> pad_batch(const std::vector<const std::vector<uint8_t>*>& rows, int64_t& length) const;

 private:
  AlphabetKind kind_{AlphabetKind::Esm1b};
  std::vector<std::string> tokens_;
  int64_t padding_idx_{1}, cls_idx_{0}, eos_idx_{2}, mask_idx_{32}, unk_idx_{3}, chain_break_idx_{-1};
  bool prepend_bos_{true}, append_eos_{true};
  int16_t single_char_[256]{};  // token id + 1 for one-character tokens, 0 if none
};

}  // namespace esm_onnx
