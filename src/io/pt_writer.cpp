// esm-extract's output: torch.save({"label", "representations": {layer: [L, E]}, ...}) per record.
#include <fmt/format.h>

#include "esm_onnx/errors.h"
#include "io/stored_zip.h"
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

    StoredZipWriter zip(path);
    static const std::string version = "3\n";
    static const std::string byteorder = "little";
    zip.add("archive/data.pkl", pkl.data(), pkl.size());
    zip.add("archive/byteorder", byteorder.data(), byteorder.size());
    for (std::size_t k = 0; k < storages.size(); ++k) {
      zip.add(fmt::format("archive/data/{}", k), storages[k]->data.data(), storages[k]->data.size() * sizeof(float));
    }
    zip.add("archive/version", version.data(), version.size());
    zip.close();
  }
};

}  // namespace

std::unique_ptr<OutputWriter> make_pt_writer(const std::string& outdir) { return std::make_unique<PtWriter>(outdir); }

}  // namespace esm_onnx
