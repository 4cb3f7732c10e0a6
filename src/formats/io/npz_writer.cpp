#include <fmt/format.h>
#include <zip.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "formats/io/label_names.h"
#include "formats/io/npy_read.h"
#include "formats/io/output_file.h"
#include "formats/io/process_tag.h"
#include "formats/io/stored_zip.h"
#include "formats/io/writers.h"
#include "formats/io/zip_entry.h"

namespace esm_onnx {

RecordFiles::RecordFiles(std::string outdir, std::string extension)
    : outdir_(std::move(outdir)), ext_(std::move(extension)) {
  io::check_output_folder(outdir_.string(), "the output folder");
  std::error_code ec;
  std::filesystem::create_directories(outdir_, ec);
  if (ec || !std::filesystem::is_directory(outdir_, ec)) {
    throw FileError(fmt::format("{}: cannot create the output folder: {}", outdir_.string(), ec.message()));
  }
  remove_stale_partials();
  // One folder per writer: two writers of one process (two threads) may share OUTDIR too.
  static std::atomic<uint64_t> instances{0};
  work_ = outdir_ / ".partial" / fmt::format("{}.{}", io::process_tag(), instances++);
}

// OUTDIR/long_labels.tsv: the file each shortened name stands for, and the full label (tabs, newlines and
// backslashes escaped).
void RecordFiles::note_long_label(const std::string& file, const std::string& label) const {
  std::string escaped;
  for (char c : label) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '\t') escaped += "\\t";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
  }
  const auto index = outdir_ / "long_labels.tsv";
  std::error_code ec;
  const bool fresh = !std::filesystem::exists(index, ec);
  std::ofstream out(index, std::ios::app);
  if (fresh) out << "file\tlabel\n";
  out << file << '\t' << escaped << '\n';
  if (!out) throw FileError(fmt::format("{}: cannot record the long label of {}", index.string(), file));
}

// Files are written in OUTDIR/.partial/<host>-<pid>.<n>/ and renamed into place, so that several writers can
// share one OUTDIR (the Ray workers do); a folder whose process is gone is what a killed run left.
void RecordFiles::remove_stale_partials() const {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(outdir_ / ".partial", ec)) {
    if (!io::is_stale_tag(e.path().filename().string())) continue;
    std::error_code rm;
    std::filesystem::remove_all(e.path(), rm);
  }
}

RecordFiles::~RecordFiles() {
  std::error_code ec;
  std::filesystem::remove_all(work_, ec);
  std::filesystem::remove(outdir_ / ".partial", ec);  // only when no other writer uses it
}

namespace {
// What the writer adds to a record's file name: the extension (with room to spare, as before).
constexpr std::size_t kSuffixes = 4 + 8 + 7;
}  // namespace

std::string RecordFiles::location(const std::string& label) const {
  return (outdir_ / (label_file_name(label, kSuffixes).relative + ext_)).string();
}

namespace {

// Whether the zip holds `label`'s record as this writer makes it: npz's label.npy is the label; pt's data.pkl
// pickles the dict {"label": <label>, ...} first (Pickler::string: 'X', a 4-byte length, the bytes).
bool holds_label(zip_t* z, const std::string& ext, const std::string& label) {
  constexpr uint64_t kLimit = uint64_t{1} << 20;
  std::string why;  // what is wrong with an entry: here, only that the record is not taken for done
  if (ext == ".npz") {
    const auto npy = io::read_zip_entry(z, "label.npy", kLimit + 128, why);
    return npy && io::parse_npy(*npy) && io::npy_text(*npy) == label;
  }
  for (zip_int64_t i = 0, n = zip_get_num_entries(z, 0); i < n; ++i) {
    const char* name = zip_get_name(z, static_cast<zip_uint64_t>(i), 0);
    const std::string_view entry = name ? name : "";
    if (entry.size() < 8 || entry.substr(entry.size() - 8) != "data.pkl") continue;
    const auto pkl = io::read_zip_entry(z, std::string(entry), kLimit * 16, why);
    if (!pkl) return false;
    auto pickled = [](const std::string& text) {
      std::string out(1, 'X');
      const auto n32 = static_cast<uint32_t>(text.size());
      for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((n32 >> (8 * b)) & 0xff));
      return out + text;
    };
    return pkl->find(pickled("label") + pickled(label)) != std::string::npos;
  }
  return false;
}

}  // namespace

// A record's file counts as done only when it is one this writer made for this record: a regular file, a whole
// zip (npz and pt are both zips; the central directory is at the end, so a cut file fails) holding the record's
// label (a file copied from another record, or a checkpoint named like a record, is not it). Anything else is
// done again, and the output rule then replaces or refuses it by name. The arrays are not read back: a byte
// changed inside them, at the same size, is not seen (reading every output on every resume would cost a run).
bool RecordFiles::exists(const std::string& label) const {
  const std::string path = location(label);
  if (files::path_kind(path) != files::PathKind::Regular) return false;
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!z) return false;
  const bool ok = zip_get_num_entries(z, 0) > 0 && holds_label(z, ext_, label);
  zip_discard(z);
  return ok;
}

bool RecordFiles::exists(const std::string& label, const std::string& entry, const std::string& text) const {
  if (ext_ != ".npz" || !exists(label)) return false;
  int err = 0;
  zip_t* z = zip_open(location(label).c_str(), ZIP_RDONLY, &err);
  if (!z) return false;
  std::string why;
  const auto npy = io::read_zip_entry(z, entry + ".npy", text.size() * 4 + 256, why);
  const bool ok = npy && io::parse_npy(*npy) && io::npy_text(*npy) == text;
  zip_discard(z);
  return ok;
}

void RecordFiles::commit(const std::string& label, const std::function<void(const std::string&)>& write_to) {
  const LabelName name = label_file_name(label, kSuffixes);
  const std::filesystem::path final_path = outdir_ / (name.relative + ext_);
  if (name.shortened) note_long_label(name.relative + ext_, label);
  std::error_code ec;
  std::filesystem::create_directories(final_path.parent_path(), ec);
  if (ec) throw FileError(fmt::format("{}: cannot create the folder for record '{}': {}", final_path.parent_path().string(), label, ec.message()));
  // Another writer sharing OUTDIR removes the empty .partial folder when it closes; a create that loses that
  // race sees ENOENT for the parent, and simply tries again.
  for (int attempt = 0; attempt < 100; ++attempt) {
    ec.clear();
    std::filesystem::create_directories(work_, ec);
    if (ec != std::errc::no_such_file_or_directory) break;
  }
  if (ec) throw FileError(fmt::format("{}: cannot create the folder for unfinished files: {}", work_.string(), ec.message()));
  const std::string tmp = (work_ / fmt::format("{}{}", next_++, ext_)).string();
  try {
    write_to(tmp);
    io::publish(tmp, final_path.string(), fmt::format("the output of record '{}',", label));
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

namespace {

class NpzWriter final : public PerRecordFileWriter {
 public:
  explicit NpzWriter(const std::string& outdir) : PerRecordFileWriter(outdir, ".npz") {}

 protected:
  void write_file(const RecordOutput& r, const std::string& path) override {
    StoredZipWriter zip(path);
    // The zip reads the buffers at close(), so they must outlive it.
    std::vector<std::string> buffers;
    buffers.reserve(r.arrays.size() + 1);
    // Every file says which record it holds (as esm-extract's .pt does), whatever its name.
    buffers.push_back(npy_text_bytes(r.label));
    zip.add("label.npy", buffers.back().data(), buffers.back().size());
    for (const auto& a : r.arrays) {
      buffers.push_back(npy_bytes(a.array));
      zip.add(array_key(a.output, a.layer) + ".npy", buffers.back().data(), buffers.back().size());
    }
    zip.close();
  }
};

}  // namespace

std::unique_ptr<OutputWriter> make_npz_writer(const std::string& outdir) { return std::make_unique<NpzWriter>(outdir); }

}  // namespace esm_onnx
