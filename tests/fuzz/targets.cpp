#include "targets.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engines/runtime/onnx_header.h"
#include "esm_onnx/base/alphabet.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/model_info.h"
#include "esm_onnx/base/mutations.h"
#include "esm_onnx/checkpoint/checkpoint.h"
#include "esm_onnx/formats/fasta.h"
#include "formats/io/csv_table.h"
#include "formats/io/label_names.h"
#include "formats/pickle/unpickler.h"
#include "formats/source/safetensors.h"
#include "formats/torch/torch_file.h"
#include "tensors/tensor_specs.h"

namespace esm_onnx::fuzz {
namespace {

// The readers take paths: each input goes to one file per process, rewritten for every input.
std::string as_file(const uint8_t* data, std::size_t size, const char* suffix) {
  const std::string path = "/tmp/esm_onnx_fuzz_" + std::to_string(getpid()) + suffix;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                               static_cast<std::streamsize>(size));
  return path;
}

// Every tensor reachable from `root`, visited once (pickles can hold cycles), without recursion.
void read_tensors(const torchfile::TorchFile& f, const pickle::ValuePtr& root) {
  std::vector<pickle::ValuePtr> work{root};
  std::unordered_set<const pickle::Value*> seen;
  while (!work.empty()) {
    auto v = work.back();
    work.pop_back();
    if (!v || !seen.insert(v.get()).second) continue;
    if (v->tensor) f.read_float(*v->tensor, "fuzz");
    for (const auto& c : v->items) work.push_back(c);
    for (const auto& [k, val] : v->dict) work.push_back(val);
    work.push_back(v->state);
  }
}

template <typename Fn>
int guarded(Fn&& fn) {
  try {
    fn();
  } catch (const Error&) {
    // A typed error with a message is the right answer to a bad input.
  }
  return 0;
}

}  // namespace

int pickle(const uint8_t* data, std::size_t size) {
  return guarded([&] {
    auto loader = [](const pickle::ValuePtr& pid) { return pid; };
    pickle::unpickle(std::string_view(reinterpret_cast<const char*>(data), size), 0, loader, "fuzz.pkl");
  });
}

int torch_file(const uint8_t* data, std::size_t size) {
  const std::string path = as_file(data, size, ".pt");
  return guarded([&] {
    auto f = torchfile::TorchFile::open(path);
    read_tensors(*f, f->root());
  });
}

int checkpoint(const uint8_t* data, std::size_t size) {
  const std::string path = as_file(data, size, "_ckpt.pt");
  return guarded([&] {
    const Checkpoint c = Checkpoint::load(path);
    for (const auto& spec : model::tensor_specs(c.config())) {
      for (int64_t i = 0; i < (spec.per_layer ? c.config().num_layers : 1); ++i) {
        const TensorKey key{spec.role, spec.part, spec.per_layer ? i : -1};
        if (c.has(key)) c.read(key);
      }
    }
  });
}

int safetensors(const uint8_t* data, std::size_t size) {
  const std::string path = as_file(data, size, ".safetensors");
  return guarded([&] {
    auto f = source::SafetensorsSource::open(path);
    for (const auto& t : f->tensors()) {
      if (!t.floating) continue;
      f->read_float(t.name, 0, -1);
      if (!t.shape.empty() && t.shape[0] > 1) f->read_float(t.name, 1, t.shape[0]);
    }
  });
}

int fasta(const uint8_t* data, std::size_t size) {
  const std::string path = as_file(data, size, ".fasta");
  return guarded([&] {
    FastaReader reader(path);
    const Alphabet a = Alphabet::for_kind(AlphabetKind::Esm1b), b = Alphabet::for_kind(AlphabetKind::Esm1);
    FastaRecord r;
    while (reader.next(r)) {
      for (const Alphabet* alphabet : {&a, &b}) {
        try {
          alphabet->encode(r.sequence);
        } catch (const InputError&) {
        }
      }
    }
  });
}

int dms(const uint8_t* data, std::size_t size) {
  const std::string path = as_file(data, size, ".csv");
  return guarded([&] {
    const CsvTable table = read_csv(path);
    const Alphabet a = Alphabet::for_kind(AlphabetKind::Esm1b);
    const std::string sequence = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ";
    for (const auto& row : table.rows) {
      if (row.size() != table.header.size()) throw std::logic_error("a row as wide as its header");
      for (const auto& field : row) {
        try {
          const auto subs = parse_mutant(field, sequence, 1, a);
          if (apply_mutant(sequence, subs).size() != sequence.size()) throw std::logic_error("a substitution changes the length");
        } catch (const InputError&) {
        }
      }
    }
    csv_line(table.header);
  });
}

int metadata(const uint8_t* data, std::size_t size) {
  return guarded([&] {
    std::map<std::string, std::string> props;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    while (!text.empty()) {
      const auto nl = text.find('\n');
      const std::string_view line = text.substr(0, nl);
      if (const auto eq = line.find('='); eq != std::string_view::npos) {
        props[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
      }
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
    const ModelInfo info = ModelInfo::from_metadata(props, "fuzz.onnx");
    info.to_string();
  });
}

int onnx_header(const uint8_t* data, std::size_t size) {
  return guarded([&] {
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    const auto header = runtime::parse_onnx_header(in, size, "fuzz.onnx");
    ModelInfo::from_metadata(header.metadata, "fuzz.onnx").to_string();
  });
}

int transformers_config(const uint8_t* data, std::size_t size) {
  // The input is config.json, then (after a NUL byte, when there is one) the sharded index beside it.
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto nul = all.find('\0');
  const std::filesystem::path dir = "/tmp/esm_onnx_fuzz_" + std::to_string(getpid()) + "_hf";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json", std::ios::binary | std::ios::trunc) << all.substr(0, nul);
  std::error_code ec;
  std::filesystem::remove(dir / "pytorch_model.bin.index.json", ec);
  if (nul != std::string_view::npos) {
    std::ofstream(dir / "pytorch_model.bin.index.json", std::ios::binary | std::ios::trunc) << all.substr(nul + 1);
  }
  return guarded([&] { Checkpoint::load(dir.string()); });
}

int labels(const uint8_t* data, std::size_t size) {
  // Every label the writers accept names a file inside OUTDIR and outside OUTDIR/.partial, and no two accepted
  // labels name one file: a violation aborts (a finding), whatever the input.
  static std::map<std::string, std::string> taken;  // file -> label, across the inputs of one process
  const std::string label(reinterpret_cast<const char*>(data), size);
  if (!label_path_problem(label).empty()) return 0;
  const LabelName name = label_file_name(label, 19);
  const std::string& rel = name.relative;
  const std::filesystem::path normal = std::filesystem::path(rel).lexically_normal();
  const std::string first = normal.empty() ? std::string() : normal.begin()->string();
  if (rel.empty() || rel[0] == '/' || normal.string() != rel || first == ".." || rel.rfind(".partial/", 0) == 0) {
    std::abort();
  }
  if (taken.size() > 100000) taken.clear();
  auto [it, fresh] = taken.try_emplace(rel, label);
  if (!fresh && it->second != label) std::abort();
  return 0;
}

Target find_target(const std::string& name) {
  static const std::map<std::string, Target> kTargets = {
      {"pickle", &fuzz::pickle}, {"torch_file", &fuzz::torch_file}, {"checkpoint", &fuzz::checkpoint},
      {"safetensors", &fuzz::safetensors},
      {"fasta", &fuzz::fasta}, {"dms", &fuzz::dms}, {"metadata", &fuzz::metadata}, {"onnx_header", &fuzz::onnx_header},
      {"transformers_config", &fuzz::transformers_config}, {"labels", &fuzz::labels}};
  const auto it = kTargets.find(name);
  return it == kTargets.end() ? nullptr : it->second;
}

}  // namespace esm_onnx::fuzz
