#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "esm_onnx/formats/writer.h"

namespace esm_onnx {

std::unique_ptr<OutputWriter> make_npz_writer(const std::string& outdir);
std::unique_ptr<OutputWriter> make_pt_writer(const std::string& outdir);
std::unique_ptr<OutputWriter> make_h5_writer(const std::string& outdir);

// One file per record in a folder, written under OUTDIR/.partial/<host>-<pid>/ and renamed into place, so a
// crash never leaves a file that a resumed run would take for finished, and several writers may share OUTDIR.
class RecordFiles {
 public:
  RecordFiles(std::string outdir, std::string extension);
  ~RecordFiles();
  RecordFiles(const RecordFiles&) = delete;
  RecordFiles& operator=(const RecordFiles&) = delete;

  bool exists(const std::string& label) const;
  // exists(label), and the npz's text entry `entry` ("sequence" for a fold) is `text`: a record whose input
  // changed under the same label is not taken for done.
  bool exists(const std::string& label, const std::string& entry, const std::string& text) const;
  std::string location(const std::string& label) const;
  // Writes `label`'s file with `write_to(temporary path)`, then renames it into place.
  void commit(const std::string& label, const std::function<void(const std::string&)>& write_to);

 private:
  void remove_stale_partials() const;
  void note_long_label(const std::string& file, const std::string& label) const;
  std::filesystem::path outdir_;
  std::string ext_;
  std::filesystem::path work_;  // OUTDIR/.partial/<host>-<pid>.<writer>
  uint64_t next_{0};
};

// An OutputWriter over RecordFiles: the formats with one file per record (npz, pt).
class PerRecordFileWriter : public OutputWriter {
 public:
  PerRecordFileWriter(std::string outdir, std::string extension) : files_(std::move(outdir), std::move(extension)) {}
  bool exists(const std::string& label) const override { return files_.exists(label); }
  std::string location(const std::string& label) const override { return files_.location(label); }
  void write(const RecordOutput& record) override {
    files_.commit(record.label, [&](const std::string& path) { write_file(record, path); });
  }

 protected:
  // Each file carries its record's full label, since a file name may hold a shortened one.
  virtual void write_file(const RecordOutput& record, const std::string& path) = 0;

 private:
  RecordFiles files_;
};

}  // namespace esm_onnx
