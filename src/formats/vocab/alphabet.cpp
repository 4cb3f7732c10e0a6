#include "esm_onnx/base/alphabet.h"

#include <algorithm>
#include <fmt/format.h>

#include <cctype>

#include "esm_onnx/base/errors.h"

namespace esm_onnx {
namespace {

// fair-esm's proteinseq_toks, in order: ids 4..28 of both alphabets.
const char* const kResidues[] = {"L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q",
                                 "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-"};

}  // namespace

Alphabet Alphabet::for_kind(AlphabetKind kind) {
  Alphabet a;
  a.kind_ = kind;
  if (kind == AlphabetKind::Esm1) {
    a.tokens_ = {"<null_0>", "<pad>", "<eos>", "<unk>"};
  } else {
    a.tokens_ = {"<cls>", "<pad>", "<eos>", "<unk>"};
  }
  for (const char* r : kResidues) a.tokens_.emplace_back(r);
  if (kind == AlphabetKind::EsmC) {
    // ESM C's tokenizer: the chain break where ESM-1b pads, then <mask>; the embedding has 64 rows, and
    // the unnamed ones (empty names, which no input can spell) are never produced.
    a.tokens_.insert(a.tokens_.end(), {"|", "<mask>"});
    a.tokens_.resize(64);
    a.prepend_bos_ = true;
    a.append_eos_ = true;
  }
  // fair-esm pads the vocabulary to a multiple of 8 with <null_i> before the appended tokens.
  for (int i = 0; a.tokens_.size() % 8 != 0; ++i) a.tokens_.push_back(fmt::format("<null_{}>", i + 1));
  if (kind == AlphabetKind::Esm1b) {
    a.tokens_.emplace_back("<mask>");
    a.prepend_bos_ = true;
    a.append_eos_ = true;
  } else if (kind == AlphabetKind::Esm1) {
    a.tokens_.insert(a.tokens_.end(), {"<cls>", "<mask>", "<sep>"});
    a.prepend_bos_ = true;
    a.append_eos_ = false;
  }
  a.padding_idx_ = a.index("<pad>");
  a.cls_idx_ = a.index("<cls>");
  a.eos_idx_ = a.index("<eos>");
  a.mask_idx_ = a.index("<mask>");
  a.unk_idx_ = a.index("<unk>");
  a.chain_break_idx_ = a.index("|");
  for (std::size_t i = 0; i < a.tokens_.size(); ++i) {
    if (a.tokens_[i].size() == 1) {
      a.single_char_[static_cast<unsigned char>(a.tokens_[i][0])] = static_cast<int16_t>(i + 1);
    }
  }
  return a;
}

Alphabet Alphabet::from_name(std::string_view name) {
  if (name == "ESM-1b") return for_kind(AlphabetKind::Esm1b);
  if (name == "ESM-1") return for_kind(AlphabetKind::Esm1);
  if (name == "ESM C") return for_kind(AlphabetKind::EsmC);
  throw FormatError(fmt::format("unknown alphabet '{}' (expected ESM-1b, ESM-1 or ESM C)", name));
}

std::string Alphabet::name() const {
  switch (kind_) {
    case AlphabetKind::Esm1b: return "ESM-1b";
    case AlphabetKind::Esm1: return "ESM-1";
    case AlphabetKind::EsmC: return "ESM C";
  }
  return "?";
}

int64_t Alphabet::index(std::string_view token) const {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i] == token) return static_cast<int64_t>(i);
  }
  return -1;
}

std::vector<int64_t> Alphabet::encode(std::string_view seq) const {
  std::vector<int64_t> out;
  out.reserve(seq.size());
  for (std::size_t i = 0; i < seq.size();) {
    const unsigned char c = static_cast<unsigned char>(seq[i]);
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    if (c == '<') {
      bool matched = false;
      for (std::size_t t = 0; t < tokens_.size(); ++t) {
        const std::string& tok = tokens_[t];
        if (tok.size() > 1 && seq.substr(i, tok.size()) == tok) {
          out.push_back(static_cast<int64_t>(t));
          i += tok.size();
          matched = true;
          break;
        }
      }
      if (matched) continue;
      const auto close = seq.find('>', i);
      throw InputError(fmt::format("'{}' at position {} is not a token of the {} alphabet",
                                   seq.substr(i, close == std::string_view::npos ? 1 : close - i + 1),
                                   i + 1, name()));
    }
    if (single_char_[c] == 0) {
      std::string shown = std::isprint(c) ? fmt::format("'{}'", static_cast<char>(c))
                                          : fmt::format("byte 0x{:02x}", static_cast<unsigned>(c));
      std::string hint = std::islower(c) ? " (fair-esm is case-sensitive: write residues in upper case)" : "";
      throw InputError(fmt::format("character {} at position {} is outside the {} alphabet{}", shown,
                                   i + 1, name(), hint));
    }
    out.push_back(single_char_[c] - 1);
    ++i;
  }
  return out;
}

std::vector<int64_t> Alphabet::pad_batch(const std::vector<const std::vector<uint8_t>*>& rows, int64_t& length) const {
  const Alphabet& a = *this;
  const int64_t n_bos = a.prepend_bos() ? 1 : 0, n_eos = a.append_eos() ? 1 : 0;
  std::size_t longest = 0;
  for (const auto* r : rows) longest = std::max(longest, r->size());
  length = static_cast<int64_t>(longest) + n_bos + n_eos;
  std::vector<int64_t> tokens(rows.size() * static_cast<std::size_t>(length), a.padding_idx());
  for (std::size_t b = 0; b < rows.size(); ++b) {
    int64_t* row = tokens.data() + static_cast<int64_t>(b) * length;
    if (n_bos) row[0] = a.cls_idx();
    std::copy(rows[b]->begin(), rows[b]->end(), row + n_bos);
    if (n_eos) row[n_bos + static_cast<int64_t>(rows[b]->size())] = a.eos_idx();
  }
  return tokens;
}

}  // namespace esm_onnx
