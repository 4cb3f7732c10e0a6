#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "esm_onnx/writer.h"

namespace esm_onnx {

std::unique_ptr<OutputWriter> make_npz_writer(const std::string& outdir);
std::unique_ptr<OutputWriter> make_pt_writer(const std::string& outdir);
std::unique_ptr<OutputWriter> make_h5_writer(const std::string& outdir);

// One file per record, written under OUTDIR/.partial/<host>-<pid>/ and renamed into place, so a crash
// never leaves a file that a resumed run would take for finished, and several writers may share OUTDIR.
class PerRecordFileWriter : public OutputWriter {
 public:
  PerRecordFileWriter(std::string outdir, std::string extension);
  ~PerRecordFileWriter() override;
  bool exists(const std::string& label) const override;
  std::string location(const std::string& label) const override;
  void write(const RecordOutput& record) override;

 protected:
  // Each file carries its record's full label, since a file name may hold a shortened one.
  virtual void write_file(const RecordOutput& record, const std::string& path) = 0;

 private:
  void remove_stale_partials() const;
  void note_long_label(const std::string& file, const std::string& label) const;
  std::filesystem::path outdir_;
  std::string ext_;
  std::filesystem::path work_;  // OUTDIR/.partial/<host>-<pid>.<writer>
  uint64_t next_{0};
};

}  // namespace esm_onnx
