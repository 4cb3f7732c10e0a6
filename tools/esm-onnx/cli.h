#pragma once
// The command line, as a function: the `esm-onnx` executable and the Python package's `esm-onnx`
// script both call it, so both take the same options and give the same messages and exit codes.
namespace esm_onnx::cli {

// Exit codes, documented in the README.
inline constexpr int kOk = 0;
inline constexpr int kError = 1;    // the run failed: a bad file, a failed write, a bad record under --strict
inline constexpr int kUsage = 2;    // the command line is wrong
inline constexpr int kSkipped = 3;  // embed finished, but skipped some records
inline constexpr int kInternal = 70;  // a bug in esm-onnx (EX_SOFTWARE): please report it

int main(int argc, const char* const* argv);

}  // namespace esm_onnx::cli
