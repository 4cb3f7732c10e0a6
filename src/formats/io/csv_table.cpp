#include "formats/io/csv_table.h"

#include <csv.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "esm_onnx/base/errors.h"
#include "formats/io/output_file.h"

namespace esm_onnx {

std::size_t CsvTable::column(const std::string& name, const std::string& option) const {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  throw UsageError(fmt::format("{} {}: no such column (the columns are: {})", option, name, fmt::join(header, ", ")));
}

namespace {

// No row of a mutation table comes near this; past it the file is not one (/dev/zero, a binary), and reading on
// would only fill memory.
constexpr std::size_t kMaxCsvRow = std::size_t{1} << 24;

// The parser's callbacks fill this; libcsv reports a field, then the end of its row.
struct Reader {
  CsvTable table;
  std::vector<std::string> row;
  int64_t line{1};        // the line the parser has reached (counted from the bytes fed)
  int64_t row_line{1};    // where the current row started
  std::string error;
  std::string path;

  void field(const char* data, std::size_t size) { row.emplace_back(data ? data : "", data ? size : 0); }
  void end_row() {
    if (!error.empty()) return;
    if (table.header.empty() && table.rows.empty() && row.empty()) return;
    if (table.header.empty()) {
      table.header = std::move(row);
    } else if (row.size() == 1 && row[0].empty()) {
      // a blank line: pandas skips it too
    } else if (row.size() != table.header.size()) {
      error = fmt::format("{}: line {}: {} fields where the header has {}", path, row_line, row.size(),
                          table.header.size());
    } else {
      table.rows.push_back(std::move(row));
      table.lines.push_back(row_line);
    }
    row.clear();
  }
};

}  // namespace

CsvTable read_csv(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw FileError(fmt::format("{}: is a folder, not a CSV file", path));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw FileError(fmt::format("{}: cannot open the CSV file: {}", path, std::strerror(errno)));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(f, &std::fclose);
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_APPEND_NULL) != 0) throw std::bad_alloc();
  std::unique_ptr<csv_parser, void (*)(csv_parser*)> guard(&parser, &csv_free);
  Reader r;
  r.path = path;
  auto on_field = [](void* data, std::size_t size, void* self) {
    static_cast<Reader*>(self)->field(static_cast<const char*>(data), size);
  };
  auto on_row = [](int, void* self) { static_cast<Reader*>(self)->end_row(); };
  char buf[1 << 16];
  std::size_t got;
  bool first = true, in_quotes = false;
  std::size_t row_bytes = 0;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) {
    std::size_t start = 0;
    // A UTF-8 byte-order mark (Excel's "CSV UTF-8") before the header; it would break a quoted first field.
    if (first && got >= 3 && std::memcmp(buf, "\xEF\xBB\xBF", 3) == 0) start = 3;
    first = false;
    // Rows are reported as the parser meets their ends; the line a row starts on is tracked here: a line break
    // ends a row unless it falls inside quotes (an odd count of '"' since the row began, as RFC 4180 doubles them).
    while (start < got) {
      const char* nl = static_cast<const char*>(std::memchr(buf + start, '\n', got - start));
      const std::size_t end = nl ? static_cast<std::size_t>(nl - buf) + 1 : got;
      for (std::size_t i = start; i < end; ++i) in_quotes ^= buf[i] == '"';
      row_bytes += end - start;
      if (row_bytes > kMaxCsvRow) {
        throw InputError(fmt::format("{}: line {}: a row longer than {} MiB; this is not a table of mutations", path,
                                     r.row_line, kMaxCsvRow >> 20));
      }
      if (csv_parse(&parser, buf + start, end - start, on_field, on_row, &r) != end - start) {
        throw InputError(fmt::format("{}: line {}: {} (a quote inside an unquoted field, or text after a closing "
                                     "quote)", path, r.line, csv_strerror(csv_error(&parser))));
      }
      if (!r.error.empty()) throw InputError(r.error);
      if (nl) {
        ++r.line;
        if (!in_quotes) {
          r.row_line = r.line;
          row_bytes = 0;
        }
      }
      start = end;
    }
  }
  if (std::ferror(f)) throw FileError(fmt::format("{}: read failed", path));
  if (in_quotes) {
    throw InputError(fmt::format("{}: line {}: a quote opened on this line is never closed", path, r.row_line));
  }
  if (csv_fini(&parser, on_field, on_row, &r) != 0) {
    throw InputError(fmt::format("{}: line {}: {}", path, r.line, csv_strerror(csv_error(&parser))));
  }
  if (!r.error.empty()) throw InputError(r.error);
  if (r.table.header.empty()) throw InputError(fmt::format("{}: empty CSV file (a header line is needed)", path));
  return std::move(r.table);
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    const std::string& f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      out += f;
      continue;
    }
    out += '"';
    for (char c : f) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  out += '\n';
  return out;
}

void write_csv(const CsvTable& table, const std::string& path, const std::string& what) {
  io::ScratchFile tmp(path, what);  // the output rule: refused before a byte is written
  {
    std::ofstream out(tmp.path(), std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(fmt::format("{} {}: cannot create the CSV file: {}", what, path, std::strerror(errno)));
    out << csv_line(table.header);
    for (const auto& row : table.rows) out << csv_line(row);
    out.flush();
    if (!out) throw FileError(fmt::format("{}: write failed: {}", tmp.path(), std::strerror(errno)));
  }
  tmp.publish(what);
}

}  // namespace esm_onnx
