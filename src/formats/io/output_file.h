#pragma once
// The one rule for every file esm-onnx writes (a CSV, npz/pt/h5 outputs, score matrices, a converted model, a
// download, a cache entry): the finished file is written under a scratch name and renamed over its destination,
// so the destination may hold nothing or a regular file, which is replaced. A device, FIFO, socket or folder
// there is refused with a FileError naming it and the option that gave it: a rename over /dev/null replaces the
// device (as root it does), and a folder is no file. A symbolic link is followed: its target obeys the same rule
// and is what gets replaced, so the link stays.
#include <string>

namespace esm_onnx::io {

// The path the finished file will be renamed to: `path`, or the final target of the link at `path`. FileError
// naming `what` (the option or role, "--dms-output") and `path` when the rule refuses it.
std::string output_destination(const std::string& path, const std::string& what);

// A folder esm-onnx writes into (OUTDIR, a matrix folder): nothing yet (made later) or a folder; anything else
// is a FileError naming `what` and `path`.
void check_output_folder(const std::string& path, const std::string& what);

// An output must not be a file the run reads: `convert -o` naming the checkpoint, `--dms-output` naming a model,
// `--output-csv-file` naming the FASTA would each destroy an input (the same file in any spelling: device and
// inode). FileError naming both when `dest` is `input`.
void refuse_input(const std::string& dest, const std::string& what, const std::string& input, const std::string& input_what);

// Renames the finished `tmp` to output_destination(dest), checked again now (a check at the job's start may
// be hours old). On failure `tmp` is removed and the FileError names `dest` and the system's reason.
void publish(const std::string& tmp, const std::string& dest, const std::string& what);

// "<dest>.partial-<host>-<pid>": this process's scratch name for `dest` (for a name too long to take the suffix,
// ".<digest of the name>.partial-<host>-<pid>" beside it).
std::string scratch_name(const std::string& dest);
// Removes the scratch files of `dest` left by processes of this host that no longer run (scratch_name's).
void remove_stale_scratch(const std::string& dest);

// A scratch file removed when it goes out of scope unless published: every exit path, exceptions included,
// leaves nothing behind.
class ScratchFile {
 public:
  // scratch_name of dest (of its link's target), created anew; stale ones of dest removed first. FileError naming
  // `what` when it cannot be created.
  ScratchFile(std::string dest, const std::string& what);
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }
  void publish(const std::string& what);

 private:
  std::string dest_, path_;
  bool published_{false};
};

}  // namespace esm_onnx::io
