#pragma once
// A CSV file as a table of text fields (RFC 4180, read with libcsv): what `score` reads from a deep mutational
// scan and writes back with its columns added. Files as real sources make them are read: a UTF-8 byte-order
// mark, CRLF line ends, quoted fields with commas, quotes and line breaks in them, an unnamed first column
// (pandas' index).
#include <cstdint>
#include <string>
#include <vector>

namespace esm_onnx {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as wide as the header
  std::vector<int64_t> lines;                  // the 1-based line each row starts on, for messages

  // The column named `name`; UsageError naming `option` and the columns there are when absent.
  std::size_t column(const std::string& name, const std::string& option) const;
};

// Reads `path`. FileError when it cannot be read; InputError naming the line for a malformed quote or a row
// whose field count differs from the header's; InputError for a file without a header.
CsvTable read_csv(const std::string& path);

// Writes `table` to `path` atomically (a scratch file renamed into place, io/output_file.h's rule), quoting the
// fields that need it; `what` names the option that gave the path in errors.
void write_csv(const CsvTable& table, const std::string& path, const std::string& what);

// One CSV line (with its "\n") of `fields`, quoted where needed.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace esm_onnx
