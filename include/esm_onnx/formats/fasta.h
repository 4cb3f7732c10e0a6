#pragma once
// A streaming FASTA reader with fair-esm's conventions: the label is the header line after '>'
// (trimmed; "seqnum<line>" when empty), sequence lines are trimmed and joined.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "esm_onnx/base/record.h"

namespace esm_onnx {

using FastaRecord = SequenceRecord;

// A record's label from its header line (the bytes after '>', trimmed of ASCII whitespace; "seqnum<line - 1>",
// zero-padded to 9 digits, when empty: fair-esm's): the one rule for the reader and the Ray driver's keys.
std::string fasta_label(std::string_view header_line, int64_t line);

class FastaReader {
 public:
  // No line (and no record) of a protein FASTA comes near this; past it the file is not one.
  static constexpr std::size_t kMaxLine = std::size_t{1} << 27;

  // Throws FileError if the file cannot be opened or is a folder, InputError if it is empty or does not start
  // with a '>' header. A FIFO (a pipe from another program) is read as it streams.
  explicit FastaReader(const std::string& path);
  FastaReader(const FastaReader&) = delete;
  FastaReader& operator=(const FastaReader&) = delete;
  ~FastaReader();
  // Next record, or false at the end of the file. A read failure, or a line or record longer than kMaxLine,
  // is a FileError / InputError naming the line, never taken for the end of the file.
  bool next(FastaRecord& record);
  const std::string& path() const { return path_; }

 private:
  // The next line without its '\n' into `line`; false at the end of the file.
  bool read_line(std::string& line);
  std::string path_;
  int fd_{-1};
  std::vector<char> buf_;
  std::size_t pos_{0}, end_{0};
  bool eof_{false};
  std::string pending_header_;
  int64_t pending_line_{0};
  int64_t line_no_{0};
  int64_t count_{0};
  bool done_{false};
};

}  // namespace esm_onnx
