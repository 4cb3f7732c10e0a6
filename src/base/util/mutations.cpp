#include "esm_onnx/base/mutations.h"

#include <fmt/format.h>

#include <charconv>
#include <set>

#include "esm_onnx/base/errors.h"

namespace esm_onnx {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A residue a mutation may name: an upper-case letter the alphabet has as a token of its own (X, B, U, Z, O
// included where the alphabet has them; gaps, chain breaks and special tokens are not residues).
bool is_residue(char c, const Alphabet& alphabet) {
  return c >= 'A' && c <= 'Z' && alphabet.index(std::string_view(&c, 1)) >= 0;
}

Substitution parse_one(std::string_view text, const std::string& sequence, int64_t offset, const Alphabet& alphabet) {
  if (text.size() < 3) throw InputError(fmt::format("'{}' is not a mutation of the form A24C", text));
  const char wt = text.front(), mt = text.back();
  const std::string_view digits = text.substr(1, text.size() - 2);
  int64_t pos = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pos);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.front() == '+' || digits.front() == '-') {
    throw InputError(fmt::format("'{}' is not a mutation of the form A24C (wild type, position, mutant)", text));
  }
  for (char c : {wt, mt}) {
    if (!is_residue(c, alphabet)) {
      throw InputError(fmt::format("'{}': '{}' is not an amino acid of the {} alphabet", text, c, alphabet.name()));
    }
  }
  const int64_t index = pos - offset;
  if (index < 0 || index >= static_cast<int64_t>(sequence.size())) {
    throw InputError(fmt::format("'{}': position {} less the offset {} is {}, outside the sequence (0 to {})", text, pos,
                                 offset, index, static_cast<int64_t>(sequence.size()) - 1));
  }
  const char there = sequence[static_cast<std::size_t>(index)];
  if (there != wt) {
    throw InputError(fmt::format("'{}': the wild type {} does not match the sequence, which has {} at index {} "
                                 "(position {} with offset {}; is --offset-idx right?)",
                                 text, wt, there, index, pos, offset));
  }
  return {index, wt, mt};
}

}  // namespace

std::vector<Substitution> parse_mutant(std::string_view text, const std::string& sequence, int64_t offset,
                                       const Alphabet& alphabet) {
  text = trim(text);
  if (text.empty()) throw InputError("an empty mutation");
  std::vector<Substitution> out;
  std::set<int64_t> positions;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t colon = text.find(':', start);
    const std::string_view part = trim(text.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    Substitution s = parse_one(part, sequence, offset, alphabet);
    if (!positions.insert(s.position).second) {
      throw InputError(fmt::format("'{}': position {} is mutated twice", text, s.position + offset));
    }
    out.push_back(s);
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  return out;
}

std::string apply_mutant(const std::string& sequence, const std::vector<Substitution>& mutant) {
  std::string out = sequence;
  for (const auto& s : mutant) out[static_cast<std::size_t>(s.position)] = s.mutant;
  return out;
}

}  // namespace esm_onnx
