#pragma once
// What the binding's files share: the type conversions between the library and Python, and one bind_*
// function per part of the module (module.cpp calls them in order).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "esm_onnx/base/record.h"
#include "esm_onnx/engines/model.h"
#include "esm_onnx/jobs/embed.h"

namespace esm_onnx::python {

namespace nb = nanobind;

// A FloatArray's buffer handed to numpy without a copy: the array owns the moved vector.
nb::object to_numpy(FloatArray&& a);

// One record's outputs, enumerated from the output registry: `outputs[name]` is a {layer: array} dict for a
// per-layer output (empty when not asked for), else an array or None. The class has one attribute per output.
struct Embedding {
  std::string label;
  int64_t index{0};
  int64_t length{0};
  nb::dict outputs;

  static Embedding from(RecordOutput&& r);
};

// An EmbedRequest from the Python API's spellings; every text parsed here once.
EmbedRequest make_request(const std::vector<std::string>& include, const std::vector<int64_t>& repr_layers,
                          int64_t toks_per_batch, std::optional<int64_t> truncation_seq_length,
                          const std::optional<std::string>& long_sequences, const Tiling& tiling);
nb::dict engine_dict(const EngineInfo& e);
// The job's messages (skipped records, notes) handed to a Python callable, from whatever thread.
MessageFn python_messages(nb::object callback);

void bind_errors(nb::module_& m);    // errors.cpp: C++ errors as the package's exception classes
void bind_options(nb::module_& m);   // bind_options.cpp: RuntimeOptions, EmbedRequest, EmbedOptions, ConvertOptions
void bind_model(nb::module_& m);     // bind_model.cpp: Alphabet, ModelInfo, Embedding, FastaEmbeddings, Model
void bind_jobs(nb::module_& m);      // bind_jobs.cpp: the embed job, convert, download, inspect, the CLI
void bind_registry(nb::module_& m);  // bind_registry.cpp: the output registry and the release catalog
void bind_score(nb::module_& m);     // bind_score.cpp: scoring requests, mutants, missense matrices, tiles
void bind_structure(nb::module_& m); // bind_structure.cpp: protein geometry (residue tables, atoms, PDB text)
void bind_fold(nb::module_& m);      // bind_fold.cpp: ESMFold's FoldModel, its results and the fold job

}  // namespace esm_onnx::python
