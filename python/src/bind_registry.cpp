// The output registry and the release catalog, for the package's writers, the drop-in and the Ray parts.
#include "binding.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/option_specs.h"
#include "esm_onnx/base/outputs.h"
#include "esm_onnx/hub/download.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <type_traits>
#include <variant>

namespace esm_onnx::python {

using namespace nb::literals;

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

  // The shared options (esm_onnx/option_specs.h) a job takes, one dict per key (the job's own row where it has
  // one), so that the package's keyword defaults, its argument checks and the Ray command line are the library's.
  m.def("option_specs", [](const std::string& job_name) {
    const OptionJob jobs[] = {OptionJob::Embed, OptionJob::Score, OptionJob::Convert, OptionJob::Fold};
    const auto* job = std::find_if(std::begin(jobs), std::end(jobs),
                                   [&](OptionJob j) { return job_name == option_job_name(j); });
    if (job == std::end(jobs)) throw UsageError(fmt::format("job={}: use embed, score, convert or fold", job_name));
    nb::list out;
    for (const OptionSpec* row : options_for(*job)) {
      const OptionSpec& o = *row;
      nb::dict d;
      d["key"] = std::string(o.key);
      nb::list flags;
      for (auto spelling : o.spellings()) flags.append(std::string(spelling));
      d["flags"] = flags;
      d["default"] = std::visit([](const auto& v) -> nb::object {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::monostate>) return nb::none();
        else if constexpr (std::is_same_v<V, std::string_view>) return nb::cast(std::string(v));
        else return nb::cast(v);
      }, o.value);
      d["shown"] = o.default_text();
      d["help"] = o.help;
      d["minimum"] = o.minimum;
      d["maximum"] = o.maximum;
      d["job"] = o.job ? nb::cast(std::string(option_job_name(*o.job))) : nb::none();
      out.append(d);
    }
    return out;
  }, "job"_a);
  m.attr("TRUNCATION") = kDefaultTruncation;  // what truncation_seq_length None becomes with truncate

  m.def("fair_esm_releases", &fair_esm_releases);
  m.def("esmc_releases", &esmc_releases);
  m.def("fold_releases", &fold_releases);
  m.def("unsupported_releases", &unsupported_releases);
}

}  // namespace esm_onnx::python
