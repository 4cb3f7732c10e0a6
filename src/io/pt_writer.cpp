// esm-extract's output: torch.save({"label", "representations": {layer: [L, E]}, ...}) per record.
#include <fmt/format.h>
#include <zip.h>

#include "esm_onnx/errors.h"
#include "io/writers.h"
#include "pickle/pickler.h"

namespace esm_onnx {
namespace {

class PtWriter final : public PerRecordFileWriter {
 public:
  explicit PtWriter(const std::string& outdir) : PerRecordFileWriter(outdir, ".pt") {}

 protected:
  void write_file(const RecordOutput& r, const std::string& path) override {
    std::vector<const FloatArray*> storages;
    pickle::Pickler p;
    auto tensor = [&](const FloatArray& a) {
      p.float_tensor(std::to_string(storages.size()), a.shape);
      storages.push_back(&a);
    };
    auto layer_dict = [&](const char* key, const std::map<int64_t, FloatArray>& m) {
      p.string(key);
      p.empty_dict();
      p.mark();
      for (const auto& [layer, a] : m) {
        p.integer(layer);
        tensor(a);
      }
      p.set_items();
    };
    p.empty_dict();
    p.mark();
    p.string("label");
    p.string(r.label);
    if (!r.representations.empty()) layer_dict("representations", r.representations);
    if (!r.mean_representations.empty()) layer_dict("mean_representations", r.mean_representations);
    if (!r.bos_representations.empty()) layer_dict("bos_representations", r.bos_representations);
    if (r.contacts) {
      p.string("contacts");
      tensor(*r.contacts);
    }
    if (r.logits) {
      p.string("logits");
      tensor(*r.logits);
    }
    p.set_items();
    const std::string pkl = p.finish();

    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z) throw UsageError(fmt::format("{}: cannot create the file", path));
    auto add = [&](const std::string& name, const void* data, std::size_t size) {
      zip_source_t* src = zip_source_buffer(z, data, size, 0);
      const zip_int64_t idx = src ? zip_file_add(z, name.c_str(), src, 0) : -1;
      if (idx < 0) {
        if (src) zip_source_free(src);
        zip_discard(z);
        throw UsageError(fmt::format("{}: cannot add {}", path, name));
      }
      zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
    };
    static const std::string version = "3\n";
    static const std::string byteorder = "little";
    add("archive/data.pkl", pkl.data(), pkl.size());
    add("archive/byteorder", byteorder.data(), byteorder.size());
    for (std::size_t k = 0; k < storages.size(); ++k) {
      add(fmt::format("archive/data/{}", k), storages[k]->data.data(), storages[k]->data.size() * sizeof(float));
    }
    add("archive/version", version.data(), version.size());
    if (zip_close(z) != 0) {
      std::string msg = zip_strerror(z);
      zip_discard(z);
      throw UsageError(fmt::format("{}: writing failed: {}", path, msg));
    }
  }
};

}  // namespace

std::unique_ptr<OutputWriter> make_pt_writer(const std::string& outdir) { return std::make_unique<PtWriter>(outdir); }

}  // namespace esm_onnx
