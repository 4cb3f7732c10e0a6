// One HDF5 file, OUTDIR/embeddings.h5, a group per record label; a rerun skips labels already there.
//
// HDF5 is not crash-safe: a process killed while it writes, or a write that fails on a full disk, can leave
// the whole file unreadable (and a failed write makes closing the file, or the library's exit handler, crash).
// So the file is never written in place. During the run each record goes to its own small file in
// OUTDIR/.embeddings.h5.staging/ (complete once renamed); at the end the records are added to a copy of the
// existing file (or a new one), "embeddings.h5.partial", which replaces embeddings.h5 by a rename. A killed
// run loses nothing it staged and leaves embeddings.h5 as the last finished run wrote it; a full disk stops
// the run with a clear error, the staged records kept for the next run.
//
// Several runs may write one OUTDIR at once: each stages into a folder of its own process
// (.embeddings.h5.staging/<host>-<pid>/), and the assembly runs under an exclusive lock
// (.embeddings.h5.lock), from the embeddings.h5 of that moment, taking every finished staged record of
// every run; so no run's records replace another's.
#include <fmt/format.h>
#include <hdf5.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "esm_onnx/base/errors.h"
#include "formats/io/label_names.h"
#include "formats/io/output_file.h"
#include "formats/io/process_tag.h"
#include "formats/io/staged_record.h"
#include "formats/io/writers.h"

namespace esm_onnx {
namespace {

namespace fs = std::filesystem;

// HDF5's exit handler would close (and flush) a file a failed write left open, which crashes; without it an
// abandoned handle is simply dropped at exit. Must run before the library initializes.
void init_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions below, not stderr noise
  });
}

constexpr uint64_t kReserve = uint64_t{16} << 20;  // HDF5's metadata, the copy's slack

uint64_t size_of(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

// An exclusive flock on a file, held for a scope.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw FileError(fmt::format("{}: cannot create the lock file: {}", path.string(), std::strerror(errno)));
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        throw FileError(fmt::format("{}: cannot lock: {}", path.string(), std::strerror(errno)));
      }
    }
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() { ::close(fd_); }  // releases the lock

 private:
  int fd_;
};

class H5Writer final : public OutputWriter {
 public:
  explicit H5Writer(const std::string& outdir) : dir_(outdir) {
    init_hdf5();
    io::check_output_folder(outdir, "the output folder");
    io::output_destination((dir_ / "embeddings.h5").string(), "");
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw FileError(fmt::format("{}: cannot create the output folder: {}", outdir, ec.message()));
    path_ = (dir_ / "embeddings.h5").string();
    tmp_ = path_ + ".partial";
    staging_ = dir_ / ".embeddings.h5.staging";
    mine_ = staging_ / io::process_tag();
    fs::create_directories(mine_, ec);
    if (ec) throw FileError(fmt::format("{}: cannot create the staging folder: {}", mine_.string(), ec.message()));
    // A killed run's records are kept for the next assembly; only what it had not finished goes. The folders
    // are listed once: what runs that start later stage is theirs to skip (the assembly skips a label twice).
    resume_folders_ = staged_folders();
    for (const auto& folder : resume_folders_) {
      if (!io::is_stale_tag(folder.filename().string()) && folder != staging_) continue;
      for (const auto& e : fs::directory_iterator(folder, ec)) {
        if (e.path().extension() == ".tmp") fs::remove(e.path(), ec);
      }
    }
    if (fs::exists(path_, ec)) {
      file_ = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      if (file_ < 0) {
        throw FileError(fmt::format("{}: exists but HDF5 cannot open it (not HDF5, or damaged by an older esm-onnx "
                                    "that wrote it in place); move it aside and run again", path_));
      }
    }
  }
  ~H5Writer() override {
    if (file_ >= 0) H5Fclose(file_);  // read-only: nothing to flush
  }

  bool exists(const std::string& label) const override {
    if (file_ >= 0 && H5Lexists(file_, label.c_str(), H5P_DEFAULT) > 0) return true;
    return std::any_of(resume_folders_.begin(), resume_folders_.end(),
                       [&](const fs::path& folder) { return !staged_path(folder, label, true).empty(); });
  }
  std::string location(const std::string& label) const override { return path_ + ":/" + label; }
  std::string check_label(const std::string& label) const override {
    if (label.empty()) return "empty label";
    if (label.find('/') != std::string::npos) return "HDF5 group names cannot contain '/'";
    if (label == ".") return "'.' is not a valid HDF5 group name";
    return {};
  }

  void write(const RecordOutput& r) override {
    std::error_code ec;
    fs::create_directories(mine_, ec);
    write_staged(staged_from(r), staged_path(mine_, r.label, false));
  }

  // Adds the staged records of every run to embeddings.h5 (through a copy and a rename), then removes them.
  void close() override {
    const FileLock lock(dir_ / ".embeddings.h5.lock");
    std::error_code ec;
    // Under the lock no other run assembles: a leftover copy is a killed assembly's, and embeddings.h5 is
    // read as it is now (another run may have replaced it since this one started).
    fs::remove(tmp_, ec);
    if (file_ >= 0) H5Fclose(file_);
    file_ = -1;
    if (fs::exists(path_, ec)) {
      file_ = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      if (file_ < 0) fail("exists but HDF5 cannot open it");
    }
    std::vector<fs::path> staged;
    for (const auto& folder : staged_folders()) {
      for (const auto& e : fs::directory_iterator(folder, ec)) {
        if (e.path().extension() == ".rec") staged.push_back(e.path());
      }
    }
    std::sort(staged.begin(), staged.end());
    const bool had_file = file_ >= 0;
    if (staged.empty() && had_file) {
      remove_staging();
      return;
    }
    uint64_t need = kReserve + (had_file ? size_of(path_) : 0);
    for (const auto& p : staged) need += size_of(p);
    struct statvfs st {};
    if (statvfs(dir_.c_str(), &st) == 0) {
      const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
      if (free_bytes < need) {
        throw FileError(fmt::format("{}: the disk is full: adding {} records needs about {} bytes, {} are free; the "
                                    "records are kept in {}: free space and run again", path_, staged.size(), need,
                                    free_bytes, staging_.string()));
      }
    }
    if (had_file) {
      H5Fclose(file_);
      file_ = -1;
      fs::copy_file(path_, tmp_, fs::copy_options::overwrite_existing, ec);
      if (ec) fail(fmt::format("cannot copy it to {}: {}", tmp_, ec.message()));
    }
    hid_t out = had_file ? H5Fopen(tmp_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                         : H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (out < 0) fail(fmt::format("cannot open {}", tmp_));
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (const auto& p : staged) {
      StagedRecord rec;
      try {
        rec = read_staged(p.string());
      } catch (const FormatError&) {  // damaged: its record was done again by a run that found it so (exists())
        fs::remove(p, ec);
        continue;
      }
      if (H5Lexists(out, rec.label.c_str(), H5P_DEFAULT) > 0) continue;
      if (!add_group(out, lcpl, rec)) {
        // The handle is dropped, not closed: after a failed write HDF5 crashes closing it.
        H5Pclose(lcpl);
        fail(fmt::format("cannot add record {} (disk full?)", rec.label));
      }
    }
    H5Pclose(lcpl);
    if (H5Fclose(out) < 0) fail("cannot finish writing it (disk full?)");
    try {
      io::publish(tmp_, path_, "");
    } catch (const FileError& e) {
      fail(e.what());
    }
    for (const auto& p : staged) fs::remove(p, ec);
    remove_staging();
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    std::error_code ec;
    fs::remove(tmp_, ec);
    throw FileError(fmt::format("{}: {}; it is unchanged and the new records are kept in {}: free space and run "
                                "again", path_, what, staging_.string()));
  }

  // This run's folder, then the staging folder itself (if no other run uses it); a killed run's empty
  // folder too.
  void remove_staging() const {
    std::error_code ec;
    for (const auto& folder : staged_folders()) {
      if (folder == mine_ || io::is_stale_tag(folder.filename().string())) fs::remove(folder, ec);  // only if empty
    }
    fs::remove(staging_, ec);
  }

  // The folders records are staged in: each run's, and the staging folder itself (where earlier versions
  // staged).
  std::vector<fs::path> staged_folders() const {
    std::vector<fs::path> out{staging_};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(staging_, ec)) {
      if (e.is_directory(ec)) out.push_back(e.path());
    }
    return out;
  }

  // The staged file in `folder` holding `label` (existing), or the free name for it (!existing). Names are a
  // hash of the label; the label inside tells a rare collision apart.
  static std::string staged_path(const fs::path& folder, const std::string& label, bool existing) {
    const std::string base = fmt::format("{:016x}", label_hash(label));
    for (int i = 0;; ++i) {
      const fs::path p = folder / (base + (i ? fmt::format("-{}", i) : std::string()) + ".rec");
      std::error_code ec;
      if (!fs::exists(p, ec)) return existing ? std::string() : p.string();
      // A staged file is trusted only whole (a killed run's, cut by a full disk or by hand, is done again); one
      // whose label cannot even be read is no record's.
      std::string held;
      try {
        held = read_staged_label(p.string());
      } catch (const FormatError&) {
        continue;
      }
      if (held != label) continue;
      if (!existing) return p.string();
      try {
        (void)read_staged(p.string());
        return p.string();
      } catch (const FormatError&) {
        return std::string();
      }
    }
  }

  static bool add_group(hid_t file, hid_t lcpl, const StagedRecord& rec) {
    hid_t g = H5Gcreate2(file, rec.label.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return false;
    bool ok = true;
    for (const auto& a : rec.arrays) {
      std::vector<hsize_t> dims(a.array.shape.begin(), a.array.shape.end());
      hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
      hid_t ds = H5Dcreate2(g, a.name.c_str(), H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
      ok = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.array.data.data()) >= 0;
      if (ds >= 0) H5Dclose(ds);
      H5Sclose(space);
      if (!ok) break;
    }
    if (ok) {
      hid_t space = H5Screate(H5S_SCALAR);
      hid_t at = H5Acreate2(g, "length", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
      ok = at >= 0 && H5Awrite(at, H5T_NATIVE_INT64, &rec.length) >= 0;
      if (at >= 0) H5Aclose(at);
      H5Sclose(space);
    }
    H5Gclose(g);
    return ok;
  }

  fs::path dir_;
  std::string path_, tmp_;
  fs::path staging_, mine_;
  std::vector<fs::path> resume_folders_;  // where exists() looks: every run's staging folder at the start
  hid_t file_{-1};
};

}  // namespace

std::unique_ptr<OutputWriter> make_h5_writer(const std::string& outdir) { return std::make_unique<H5Writer>(outdir); }

}  // namespace esm_onnx
