// One HDF5 file, OUTDIR/embeddings.h5, a group per record label; a rerun skips labels already there.
#include <fmt/format.h>
#include <hdf5.h>

#include <filesystem>

#include "esm_onnx/errors.h"
#include "io/writers.h"

namespace esm_onnx {
namespace {

class H5Writer final : public OutputWriter {
 public:
  explicit H5Writer(const std::string& outdir) {
    std::error_code ec;
    std::filesystem::create_directories(outdir, ec);
    if (ec) throw FileError(fmt::format("{}: cannot create the output folder: {}", outdir, ec.message()));
    path_ = (std::filesystem::path(outdir) / "embeddings.h5").string();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions below, not stderr noise
    file_ = std::filesystem::exists(path_, ec) ? H5Fopen(path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                                           : H5Fcreate(path_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) throw FileError(fmt::format("{}: cannot open or create the HDF5 file", path_));
  }
  ~H5Writer() override { close(); }

  bool exists(const std::string& label) const override {
    return H5Lexists(file_, label.c_str(), H5P_DEFAULT) > 0;
  }
  std::string location(const std::string& label) const override { return path_ + ":/" + label; }
  std::string check_label(const std::string& label) const override {
    if (label.empty()) return "empty label";
    if (label.find('/') != std::string::npos) return "HDF5 group names cannot contain '/'";
    if (label == ".") return "'.' is not a valid HDF5 group name";
    return {};
  }

  void write(const RecordOutput& r) override {
    const std::string tmp = r.label + ".partial";
    if (H5Lexists(file_, tmp.c_str(), H5P_DEFAULT) > 0) H5Ldelete(file_, tmp.c_str(), H5P_DEFAULT);
    hid_t g = H5Gcreate2(file_, tmp.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) throw FileError(fmt::format("{}: cannot create group {}", path_, r.label));
    try {
      auto group_of = [&](const char* name, const std::map<int64_t, FloatArray>& m) {
        if (m.empty()) return;
        hid_t sub = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (const auto& [layer, a] : m) dataset(sub, std::to_string(layer), a);
        H5Gclose(sub);
      };
      group_of("representations", r.representations);
      group_of("mean_representations", r.mean_representations);
      group_of("bos_representations", r.bos_representations);
      if (r.contacts) dataset(g, "contacts", *r.contacts);
      if (r.logits) dataset(g, "logits", *r.logits);
      attribute(g, "length", r.length);
    } catch (...) {
      H5Gclose(g);
      throw;
    }
    H5Gclose(g);
    // The group appears under its label only once complete.
    if (H5Lmove(file_, tmp.c_str(), file_, r.label.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0) {
      throw FileError(fmt::format("{}: cannot finish group {}", path_, r.label));
    }
    H5Fflush(file_, H5F_SCOPE_LOCAL);
  }

  void close() override {
    if (file_ >= 0) {
      H5Fclose(file_);
      file_ = -1;
    }
  }

 private:
  void dataset(hid_t parent, const std::string& name, const FloatArray& a) {
    std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t ds = H5Dcreate2(parent, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t st = ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data());
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(space);
    if (st < 0) throw FileError(fmt::format("{}: cannot write dataset {} (disk full?)", path_, name));
  }
  void attribute(hid_t obj, const char* name, int64_t value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (at >= 0) {
      H5Awrite(at, H5T_NATIVE_INT64, &value);
      H5Aclose(at);
    }
    H5Sclose(space);
  }

  std::string path_;
  hid_t file_{-1};
};

}  // namespace

std::unique_ptr<OutputWriter> make_h5_writer(const std::string& outdir) { return std::make_unique<H5Writer>(outdir); }

}  // namespace esm_onnx
