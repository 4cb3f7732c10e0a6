// The output registry and the release catalog, for the package's writers, the drop-in and the Ray parts.
#include "binding.h"
#include "esm_onnx/download.h"
#include "esm_onnx/outputs.h"

namespace esm_onnx::python {

void bind_registry(nb::module_& m) {
  m.def("output_specs", [] {
    nb::list out;
    for (const auto& s : output_specs()) {
      nb::dict d;
      d["name"] = std::string(s.name);
      d["source"] = std::string(graph_output_spec(s.source).name);
      d["key"] = std::string(s.key);
      d["per_layer"] = s.per_layer;
      d["shape"] = std::string(s.shape);
      out.append(d);
    }
    return out;
  });
  m.def("graph_output_specs", [] {
    nb::list out;
    for (const auto& g : graph_output_specs()) {
      nb::dict d;
      d["name"] = std::string(g.name);
      d["layout"] = std::string(g.layout);
      d["on_request"] = g.convert == ConvertRule::OnRequest;
      d["needs_attention_maps"] = g.needs_attention_maps;
      d["fused_side_branch"] = g.fused_side_branch;
      out.append(d);
    }
    return out;
  });

  // The batching defaults, so that the package's keyword defaults are the library's.
  nb::dict defaults;
  defaults["toks_per_batch"] = kDefaultToksPerBatch;
  defaults["truncation_seq_length"] = nb::none();  // kDefaultTruncation with truncate, none with tile and full
  defaults["truncation"] = kDefaultTruncation;
  defaults["window"] = kDefaultWindow;
  m.attr("DEFAULTS") = defaults;

  m.def("fair_esm_releases", &fair_esm_releases);
  m.def("esmc_releases", &esmc_releases);
  m.def("unsupported_releases", &unsupported_releases);
}

}  // namespace esm_onnx::python
