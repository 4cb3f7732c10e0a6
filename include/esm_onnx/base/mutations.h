#pragma once
// Mutations as deep mutational scans write them: "A24C" (wild type, position, mutant) and ProteinGym's
// multi-mutants "A24C:G30W". A position minus the offset indexes the sequence from 0, as predict.py's
// --offset-idx does (ProteinGym's 1-based positions take an offset of 1).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "esm_onnx/base/alphabet.h"

namespace esm_onnx {

struct Substitution {
  int64_t position{0};  // 0-based index into the sequence
  char wild_type{'A'};
  char mutant{'A'};
};

// The substitutions of one mutant, in the order written. Throws InputError saying what is wrong: not of the
// form A24C, a position outside the sequence, a wild type that is not the sequence's residue there, a residue
// that is not a one-letter token of `alphabet`, one position listed twice.
std::vector<Substitution> parse_mutant(std::string_view text, const std::string& sequence, int64_t offset,
                                       const Alphabet& alphabet);

// `sequence` with the substitutions made.
std::string apply_mutant(const std::string& sequence, const std::vector<Substitution>& mutant);

}  // namespace esm_onnx
