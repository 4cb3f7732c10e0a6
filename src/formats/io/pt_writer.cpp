// esm-extract's output: torch.save({"label", "representations": {layer: [L, E]}, ...}) per record.
#include <fmt/format.h>

#include "esm_onnx/base/errors.h"
#include "formats/io/stored_zip.h"
#include "formats/io/writers.h"
#include "formats/pickle/pickler.h"

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
    p.empty_dict();
    p.mark();
    p.string("label");
    p.string(r.label);
    // esm-extract's keys: a {layer: tensor} dict per per-layer output, a tensor for the others.
    for (const auto& spec : output_specs()) {
      const auto layers = r.layers(spec.id);
      if (layers.empty()) continue;
      p.string(std::string(spec.key));
      if (!spec.per_layer) {
        tensor(*layers.begin()->second);
        continue;
      }
      p.empty_dict();
      p.mark();
      for (const auto& [layer, a] : layers) {
        p.integer(layer);
        tensor(*a);
      }
      p.set_items();
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
