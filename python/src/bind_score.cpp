// Scoring: the request, mutants and missense matrices in memory, the two file jobs, and the tiling.
#include <nanobind/stl/function.h>

#include <cmath>

#include "binding.h"
#include "esm_onnx/base/tiles.h"
#include "esm_onnx/formats/fasta.h"
#include "esm_onnx/jobs/score.h"

namespace esm_onnx::python {

using namespace nb::literals;

namespace {

nb::dict counters_dict(const PassCounters& c) {
  nb::dict d;
  d["passes"] = c.passes;
  d["tokens"] = c.tokens;
  d["batches"] = c.batches;
  d["seconds"] = c.seconds;
  return d;
}

nb::list skipped_rows(const std::vector<SkippedRow>& rows) {
  nb::list out;
  for (const auto& r : rows) out.append(nb::make_tuple(r.index, r.line, r.mutant, r.reason));
  return out;
}

}  // namespace

void bind_score(nb::module_& m) {
  nb::class_<ScoreRequest>(m, "ScoreRequest")
      .def(
          "__init__",
          [](ScoreRequest* self, const std::string& strategy, int64_t toks_per_batch, const std::string& long_sequences,
             const Tiling& tiling) {
            ScoreRequest r;
            r.strategy = parse_scoring_strategy(strategy, "strategy");
            r.toks_per_batch = toks_per_batch;
            r.long_sequences = parse_long_sequences(long_sequences, "long_sequences");
            r.tiling = tiling;
            r.validate();
            new (self) ScoreRequest(r);
          },
          "strategy"_a = strategy_name(ScoreRequest{}.strategy), "toks_per_batch"_a = kDefaultScoreToksPerBatch,
          "long_sequences"_a = long_sequences_name(ScoreRequest{}.long_sequences),
          "tiling"_a.sig("Tiling()") = Tiling{})
      .def_prop_ro("strategy", [](const ScoreRequest& r) { return std::string(strategy_name(r.strategy)); })
      .def_ro("toks_per_batch", &ScoreRequest::toks_per_batch)
      .def_ro("tiling", &ScoreRequest::tiling)
      .def("__repr__", [](const ScoreRequest& r) { return "ScoreRequest(" + r.to_string() + ")"; });

  m.def("scoring_strategies", [] {
    nb::list out;
    for (const auto& s : scoring_strategies()) {
      nb::dict d;
      d["name"] = std::string(s.name);
      d["formula"] = std::string(s.formula);
      out.append(d);
    }
    return out;
  });
  m.attr("MISSENSE_ORDER") = std::string(kMissenseOrder);
  m.attr("ENSEMBLE_COLUMN") = std::string(kEnsembleColumn);
  m.attr("SCORE_TOKS_PER_BATCH") = kDefaultScoreToksPerBatch;

  m.def("score_mutants",
        [](const Model& model, const std::string& sequence, const std::vector<std::string>& mutants,
           const ScoreRequest& request, int64_t offset, bool strict) {
          MutantScores s;
          {
            nb::gil_scoped_release release;
            s = score_mutants(model, sequence, mutants, request, offset, strict);
          }

          const std::size_t n = s.scores.size();
          double* data = new double[n];
          std::copy(s.scores.begin(), s.scores.end(), data);
          nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<double*>(p); });
          nb::ndarray<nb::numpy, double, nb::ndim<1>> arr(data, {n}, owner);
          return nb::make_tuple(arr, skipped_rows(s.skipped), counters_dict(s.counters));
        },
        "model"_a, "sequence"_a, "mutants"_a, "request"_a, "offset"_a, "strict"_a);

  m.def("score_missense",
        [](const Model& model, const std::string& sequence, const ScoreRequest& request) {
          FloatArray a;
          PassCounters c;
          {
            nb::gil_scoped_release release;
            a = score_missense(model, sequence, request, &c);
          }
          return nb::make_tuple(to_numpy(std::move(a)), counters_dict(c));
        },
        "model"_a, "sequence"_a, "request"_a);

  // The record keys the Ray driver decides duplicates by, from the readers' own rules: bytes in, bytes out, so
  // that labels that are not UTF-8 stay distinct.
  m.def("fasta_label", [](nb::bytes header, int64_t line) {
    const std::string label = fasta_label(std::string_view(header.c_str(), header.size()), line);
    return nb::bytes(label.data(), label.size());
  }, "header"_a, "line"_a);
  m.def("fasta_id", [](nb::bytes label) {
    const std::string id = fasta_id(std::string(label.c_str(), label.size()));
    return nb::bytes(id.data(), id.size());
  }, "label"_a);

  m.def("distinct_models",
        [](const std::vector<std::string>& files, const std::vector<std::string>& columns, nb::object on_message) {
          return distinct_models(files, columns, python_messages(on_message));
        },
        "files"_a, "columns"_a, "on_message"_a);

  m.def("score_missense_file",
        [](const Model& model, const std::string& fasta, const std::string& output_csv, const std::string& matrix_dir,
           const ScoreRequest& request, int64_t read_ahead, bool strict, nb::object on_skip) {
          MissenseOptions o;
          o.fasta = fasta;
          o.output_csv = output_csv;
          o.matrix_dir = matrix_dir;
          o.request = request;
          o.read_ahead = read_ahead;
          o.strict = strict;
          const MessageFn message = python_messages(on_skip);
          MissenseSummary s;
          {
            nb::gil_scoped_release release;
            s = score_missense_file(model, o, {}, message);
          }
          // The job's one report (MissenseSummary::to_json, what `score --json` prints), as a dict; skipped
          // proteins as (label, line, reason) tuples, as every other skipped list of the package.
          nb::dict d = nb::cast<nb::dict>(nb::module_::import_("json").attr("loads")(s.to_json()));
          nb::list skipped;
          for (const auto& k : s.skipped) skipped.append(nb::make_tuple(k.label, k.line, k.reason));
          d["skipped"] = skipped;
          return d;
        },
        "model"_a, "fasta"_a, "output_csv"_a, "matrix_dir"_a, "request"_a, "read_ahead"_a, "strict"_a, "on_skip"_a);

  m.def("tile_sequence",
        [](int64_t length, const Tiling& tiling) {
          const TileLayout t = tile_sequence(length, tiling);
          nb::list out;
          for (std::size_t k = 0; k < t.tiles.size(); ++k) {
            FloatArray w{{t.tiles[k].length}, std::vector<float>(t.weights[k].begin(), t.weights[k].end())};
            out.append(nb::make_tuple(t.tiles[k].start, t.tiles[k].length, to_numpy(std::move(w))));
          }
          return out;
        },
        // `tiling.length` resolved: the package's tile_sequence gives esm-variants' 1,022 for "the model's".
        "length"_a, "tiling"_a);
}

}  // namespace esm_onnx::python
