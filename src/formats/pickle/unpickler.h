#pragma once
// A pickle interpreter for the subset torch checkpoints use (protocols 0-5 opcodes that build data,
// no code execution). Globals are never imported: known constructors are interpreted, unknown ones
// become generic Objects.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "formats/pickle/value.h"

namespace esm_onnx::pickle {

// Called for BINPERSID / PERSID with the persistent id; returns the object it stands for.
using PersistentLoader = std::function<ValuePtr(const ValuePtr& pid)>;

struct UnpickleResult {
  ValuePtr value;
  std::size_t end{0};  // offset just past the STOP opcode
};

// Interprets one pickle starting at `offset` in `data`. `what` names the source in errors.
UnpickleResult unpickle(std::string_view data, std::size_t offset, const PersistentLoader& persistent,
                        const std::string& what);

// Storage class name (e.g. "torch.FloatStorage") to dtype; throws FormatError for unknown names.
DType storage_dtype(const std::string& global_name, const std::string& what);

}  // namespace esm_onnx::pickle
