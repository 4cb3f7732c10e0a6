// ESMFold's conversion: the ESM-2 stem through the language-model converter (every layer's representations,
// any precision), then the folding graph (fold_graph.h) with its own metadata naming the stem beside it.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "base/util/sha256.h"
#include "engines/graph/convert_steps.h"
#include "engines/graph/fold_graph.h"
#include "engines/graph/model_writer.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/fold_config.h"
#include "esm_onnx/base/traits.h"
#include "esm_onnx/checkpoint/fold_checkpoint.h"
#include "esm_onnx_version.h"
#include "formats/io/output_file.h"

namespace esm_onnx {

namespace fs = std::filesystem;

std::string fold_stem_path(const std::string& output) {
  fs::path p(output);
  if (p.extension() == ".onnx") p.replace_extension();
  return p.string() + ".stem.onnx";
}

ConvertReport convert_fold(const ConvertOptions& opt, const MessageFn& message) {
  auto say = [&](MessageKind kind, const std::string& m) {
    if (message) message({kind, m});
  };
  if (opt.engine != Engine::OnnxRuntime) {
    throw UsageError(fmt::format("--engine {}: ESMFold's folding graph runs on ONNX Runtime (--engine ort)", engine_name(opt.engine)));
  }
  const std::string stem_path = fold_stem_path(opt.output);
  io::output_destination(stem_path, "--output (the stem beside it)");
  io::refuse_input(stem_path, "--output (the stem beside it)", opt.checkpoint, "the checkpoint");
  FoldCheckpoint ck = FoldCheckpoint::load(opt.checkpoint);
  for (const auto& f : ck.files()) io::refuse_input(stem_path, "--output (the stem beside it)", f, "the checkpoint's file");
  create_parent(opt.output);
  const FoldConfig& cfg = ck.config();
  say(MessageKind::Step, fmt::format("read {} (ESMFold: ESM-2 stem of {} layers, dim {}; trunk of {} blocks, s {}, z {}; "
                                     "structure module of {} iterations)", opt.checkpoint, cfg.esm_layers, cfg.esm_dim,
                                     cfg.num_blocks, cfg.sequence_state_dim, cfg.pairwise_state_dim, cfg.structure.num_blocks));

  // The stem: every hidden state, no contacts, in the precision asked for.
  ConvertOptions so = opt;
  so.output = stem_path;
  so.repr_layers = {"all"};
  so.contacts = false;
  so.on_request = {};
  const ConvertReport stem = convert_checkpoint(so, ck.stem(), message);

  ConvertReport rep;
  rep.config = ck.stem().config();
  rep.repr_layers = stem.repr_layers;
  rep.outputs = stem.outputs;
  rep.fused = stem.fused;
  rep.fold_stem = stem_path;
  rep.source_sha256 = sha256_files(ck.files());  // the head's files and the stem's: an edit to any changes it
  rep.output = opt.output;
  rep.weight_bytes = 4 * ck.head_weight_count();
  rep.external_data = opt.external_data == ExternalData::Always ||
                      (opt.external_data == ExternalData::Auto && rep.weight_bytes > (uint64_t{1800} << 20));

  FoldModelInfo info;
  info.config = cfg;
  info.stem_file = fs::path(stem_path).filename().string();
  info.source_file = fs::path(opt.checkpoint).filename().string();
  info.source_sha256 = rep.source_sha256;
  info.converter_version = ESM_ONNX_VERSION;

  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("esm-onnx");
  model.set_producer_version(ESM_ONNX_VERSION);
  model.set_doc_string(fmt::format("ESMFold's folding head converted by esm-onnx {} from {}", ESM_ONNX_VERSION, info.source_file));
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(opt.opset);
  auto* ms = model.add_opset_import();  // MultiHeadAttention for the sequence and triangle attention
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  model.mutable_graph()->set_name("esmfold_cycle");
  for (const auto& [k, v] : info.to_metadata()) {
    auto* p = model.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }
  const std::string tmp_onnx = opt.output + ".partial";
  const std::string data_name = fs::path(opt.output).filename().string() + ".data";
  const std::string data_path = (fs::path(opt.output).parent_path() / data_name).string();
  const std::string tmp_data = data_path + ".partial";
  std::remove(tmp_onnx.c_str());
  std::remove(tmp_data.c_str());
  graph::WeightSink sink(rep.external_data ? tmp_data : std::string(), rep.external_data ? data_name : std::string());
  try {
    graph::Builder b(*model.mutable_graph(), sink);
    graph::FoldCtx ctx{.b = b, .ck = ck, .cfg = cfg};
    graph::build_fold_cycle(ctx);
    write_atomically(model, sink, opt.output, rep, tmp_onnx, tmp_data, data_path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp_onnx, ec);
    fs::remove(tmp_data, ec);
    if (!rep.external_data_file.empty()) fs::remove(data_path, ec);
    throw;
  }
  say(MessageKind::Step, fmt::format("wrote {} (the folding graph, {} MB of weights{}) beside its stem {}", opt.output,
                                     rep.weight_bytes >> 20, rep.external_data ? ", external data in " + data_name : "",
                                     info.stem_file));
  return rep;
}

}  // namespace esm_onnx
