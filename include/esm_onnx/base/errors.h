#pragma once
// Typed exceptions. Library code throws; only the CLI's main (and later the Python binding) turns
// them into messages and exit codes. Every message names the file, record, tensor or option at fault.
#include <stdexcept>
#include <string>

namespace esm_onnx {

// Base class of everything esm-onnx throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The caller asked for something that cannot be done: a bad option, a missing file, a layer that
// does not exist. Fixing the command line fixes it.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A file is not what it claims to be: truncated, corrupt, wrong magic, mis-shaped tensor.
class FormatError : public Error {
 public:
  using Error::Error;
};

// A well-formed input that esm-onnx does not handle (MSA Transformer, ESM-IF, ESMFold, ...).
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

// A file cannot be opened, read, created or written (missing input, unwritable folder, full disk): a
// problem of the run, not of the command line.
class FileError : public Error {
 public:
  using Error::Error;
};

// A download failed: the server refused (404, 401, 403), kept failing, or stalled. The message names the URL
// and says what to do.
class NetworkError : public FileError {
 public:
  using FileError::FileError;
};

// Bad input data inside a FASTA file: the record is named in the message.
class InputError : public Error {
 public:
  using Error::Error;
};

// A bug in esm-onnx itself: a state the code should never reach (an enum value outside its table, a tile stitched
// twice). Nothing the user gave can fix it; the boundary says so and asks for a report (exit 70, EX_SOFTWARE).
class InternalError : public Error {
 public:
  using Error::Error;
};

// ONNX Runtime or the ONNX library failed; the message carries theirs.
class RuntimeFailure : public Error {
 public:
  using Error::Error;
};

}  // namespace esm_onnx
