#pragma once
// File names for labels. A label names its output file, as in esm-extract, but a path component can hold at
// most 255 bytes: a label too long for that gets a name that fits, its first bytes and a hash of all of it,
// and the full label goes into the file and into OUTDIR/long_labels.tsv.
#include <cstddef>
#include <cstdint>
#include <string>

namespace esm_onnx {

struct LabelName {
  std::string relative;  // the path under OUTDIR without extension: the label itself, or its short form
  bool shortened{false};
};

// A 64-bit hash of a label, for names that must stand for it (FNV-1a).
uint64_t label_hash(const std::string& label);

// Why `label` cannot name its record's file under OUTDIR (empty: it can). The accepted labels map to
// distinct files inside OUTDIR and outside its scratch area OUTDIR/.partial: no empty, '.' or '..' part, no
// leading '/', no NUL, not under '.partial/', and not of a shortened name's form.
std::string label_path_problem(const std::string& label);

// `reserved`: bytes the writer appends to the last component (extension, ".partial", libzip's ".XXXXXX").
LabelName label_file_name(const std::string& label, std::size_t reserved);

}  // namespace esm_onnx
