#pragma once
// Reading back the .npy entries esm-onnx writes (io/npy.cpp writes them; format 1.0): the resume checks of the
// per-record files and of score's matrices read them, one parser for both.
#include <optional>
#include <string>
#include <string_view>

namespace esm_onnx::io {

struct NpyView {
  std::string_view header;   // numpy's dict literal: {'descr': ..., 'fortran_order': ..., 'shape': (...), }
  std::string_view payload;  // the array's bytes
};

// nullopt when `bytes` is not an .npy of format 1.0 whose header fits in it.
std::optional<NpyView> parse_npy(std::string_view bytes);
// The text of a bytes scalar (npy_text_bytes), trailing NULs dropped; empty when `bytes` is no .npy.
std::string npy_text(std::string_view bytes);

}  // namespace esm_onnx::io
