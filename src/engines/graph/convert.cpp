// `convert`: checkpoint -> ONNX graph, weights streamed one tensor at a time.
#include "esm_onnx/engines/convert.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "base/util/sha256.h"
#include "engines/graph/convert_steps.h"
#include "engines/graph/esm_graph.h"
#include "engines/graph/forward.h"
#include "engines/graph/model_writer.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/layers.h"
#include "esm_onnx/base/model_info.h"
#include "esm_onnx/base/traits.h"
#include "esm_onnx/checkpoint/fold_checkpoint.h"
#include "esm_onnx_version.h"
#include "formats/io/output_file.h"
#include "tensors/tensor_specs.h"

namespace esm_onnx {

namespace fs = std::filesystem;

void ConvertOptions::validate() const {
  if (checkpoint.empty()) throw UsageError("convert: no checkpoint given");
  if (output.empty()) throw UsageError("convert: no output path given (-o/--output)");
  if (int4_block != 32 && int4_block != 128) {
    throw UsageError(fmt::format("--block-size {}: int4 blocks are 32 or 128 weights", int4_block));
  }
  if (const auto& e = engine_traits(engine); !e.takes(precision)) {
    throw UsageError(fmt::format("--engine {} --precision {}: {} graphs hold {} weights{}", engine_name(engine),
                                 precision_name(precision), engine_name(engine), e.precisions_text,
                                 e.bf16_compute ? "; its bf16 compute is chosen when the model runs (embed --engine "
                                                  "openvino --compute bf16)" : ""));
  }
  if (opset != 17) throw UsageError(fmt::format("--opset {}: only opset 17 is supported", opset));
  std::error_code ec;
  if (fs::is_directory(output, ec)) throw UsageError(fmt::format("--output {}: is a folder; name the .onnx file to write", output));
  io::output_destination(output, "--output");
  io::refuse_input(output, "--output", checkpoint, "the checkpoint");
  if (fs::is_directory(checkpoint, ec)) {  // a transformers folder: none of its files
    for (const auto& e : fs::directory_iterator(checkpoint, ec)) io::refuse_input(output, "--output", e.path().string(), "the checkpoint's file");
  }
}

std::string ConvertOptions::to_string() const {
  return fmt::format("checkpoint={} output={} repr_layers={} contacts={} on_request={} precision={} optimize={} engine={} int4_block={} "
                     "external_data={} opset={}",
                     checkpoint, output, fmt::join(repr_layers, ","), contacts, fmt::join(on_request.names(), ","), precision_name(precision), optimize,
                     engine_name(engine), int4_block,
                     external_data == ExternalData::Auto ? "auto" : external_data == ExternalData::Always ? "always" : "never",
                     opset);
}

namespace {

uint64_t weight_bytes(const ModelConfig& c) {
  // + the transposed output projection
  return 4 * (model::weight_count(c) + static_cast<uint64_t>(c.vocab_size * c.embed_dim));
}

// The graph's weight encoding for a precision on an engine, and whether it needs com.microsoft ops.
struct GraphWeights {
  graph::WeightFormat weights;
  bool microsoft_ops;
};

GraphWeights graph_weights(Precision p, Engine engine) {
  const bool ms = engine_traits(engine).microsoft_ops;
  switch (p) {
    case Precision::Fp16: return {graph::WeightFormat::Fp16, false};
    // Without com.microsoft ops: the same int8 weights behind a standard DequantizeLinear.
    case Precision::Int8: return ms ? GraphWeights{graph::WeightFormat::Int8, true} : GraphWeights{graph::WeightFormat::Int8Dequant, false};
    case Precision::Int4: return {graph::WeightFormat::Int4, true};
    case Precision::Fp32: break;
  }
  return {graph::WeightFormat::Fp32, false};
}

void add_value_info(onnx::ValueInfoProto* v, const std::string& name, int elem, const std::vector<graph::Dim>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem);
  auto* shape = t->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (std::holds_alternative<int64_t>(d)) dim->set_dim_value(std::get<int64_t>(d));
    else dim->set_dim_param(std::get<std::string>(d));
  }
}

// The graph outputs convert builds: the registry's rule for each, against what the checkpoint has.
GraphOutputs planned_outputs(const ConvertOptions& opt, const ModelConfig& cfg) {
  GraphOutputs out;
  for (const auto& spec : graph_output_specs()) {
    switch (spec.convert) {
      case ConvertRule::Always: out.set(spec.id); break;
      case ConvertRule::OnRequest: out.set(spec.id, opt.on_request.has(spec.id)); break;
      case ConvertRule::WithHead:
        // The weights each head needs, as the checkpoint reader found them.
        out.set(spec.id, spec.id == GraphOutput::Logits ? cfg.head != OutputHead::None : opt.contacts && cfg.has_contacts);
        break;
    }
  }
  return out;
}


// What convert will build: layers, outputs, fused or explicit layers, and where the weights go.
ConvertReport plan(const ConvertOptions& opt, const Checkpoint& ckpt) {
  const ModelConfig& cfg = ckpt.config();
  ConvertReport rep;
  rep.config = cfg;
  rep.notices = ckpt.notices();
  rep.repr_layers = resolve_layers(opt.repr_layers, cfg.num_layers, "--repr-layers");
  rep.outputs = planned_outputs(opt, cfg);
  // The fused layers return no attention maps (contacts recompute them in a side branch).
  rep.fused = opt.optimize && engine_traits(opt.engine).microsoft_ops && !needs_explicit_layers(rep.outputs);
  // What the weights take in the chosen encoding (upper bounds: embeddings and norms stay fp32).
  rep.weight_bytes = static_cast<uint64_t>(static_cast<double>(weight_bytes(cfg)) * precision_traits(opt.precision).weight_share);
  rep.external_data = opt.external_data == ExternalData::Always ||
                      (opt.external_data == ExternalData::Auto && rep.weight_bytes > (uint64_t{1800} << 20));
  rep.output = opt.output;
  return rep;
}

// The model's description, checked by the reader embed uses before anything is written: what convert
// accepts, embed loads.
ModelInfo describe(const ConvertOptions& opt, const Checkpoint& ckpt, const ConvertReport& rep) {
  const ModelConfig& cfg = ckpt.config();
  const Alphabet& alphabet = Alphabet::for_kind(cfg.alphabet);
  ModelInfo info;
  info.format_revision = kModelFormatRevision;
  info.family = cfg.family;
  info.variant = cfg.variant;
  info.alphabet = cfg.alphabet;
  info.num_layers = cfg.num_layers;
  info.embed_dim = cfg.embed_dim;
  info.attention_heads = cfg.attention_heads;
  info.vocab_size = cfg.vocab_size;
  info.repr_layers = rep.repr_layers;
  info.outputs = rep.outputs;
  info.head = cfg.head;
  info.labels = cfg.labels;
  info.max_tokens = cfg.max_tokens();
  info.precision = opt.precision;
  info.attention = rep.fused ? Attention::Fused : Attention::Explicit;
  info.int4_block = opt.precision == Precision::Int4 ? opt.int4_block : 0;
  info.source_file = fs::path(opt.checkpoint).filename().string();
  info.source_sha256 = rep.source_sha256;
  info.converter_version = ESM_ONNX_VERSION;
  info.padding_idx = alphabet.padding_idx();
  info.cls_idx = alphabet.cls_idx();
  info.eos_idx = alphabet.eos_idx();
  info.mask_idx = alphabet.mask_idx();
  info.prepend_bos = alphabet.prepend_bos();
  info.append_eos = alphabet.append_eos();
  try {
    (void)ModelInfo::from_metadata(info.to_metadata(), opt.output);
  } catch (const FormatError& e) {
    throw FormatError(fmt::format("{}: the model it would convert to could not be loaded by embed: {}", opt.checkpoint, e.what()));
  }
  return info;
}

// An empty model: producer, opsets (com.microsoft when fused or quantized ops are used), the metadata.
onnx::ModelProto empty_model(const ConvertOptions& opt, const Checkpoint& ckpt, const ConvertReport& rep,
                             const ModelInfo& info) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("esm-onnx");
  model.set_producer_version(ESM_ONNX_VERSION);
  model.set_doc_string(fmt::format("{} converted by esm-onnx {} from {} ({})", ckpt.config().variant, ESM_ONNX_VERSION,
                                   fs::path(opt.checkpoint).filename().string(), ckpt.source()));
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(opt.opset);
  if (rep.fused || graph_weights(opt.precision, opt.engine).microsoft_ops) {
    auto* ms = model.add_opset_import();
    ms->set_domain("com.microsoft");
    ms->set_version(1);
  }
  model.mutable_graph()->set_name(fmt::format("esm_{}", ckpt.config().variant));
  for (const auto& [k, v] : info.to_metadata()) {
    auto* p = model.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }
  return model;
}

// The forward pass and each planned output (its hook) added to the model's graph, weights streamed to `sink`.
void build_graph(onnx::ModelProto& model, graph::WeightSink& sink, const ConvertOptions& opt, const Checkpoint& ckpt,
                 const ConvertReport& rep, const MessageFn& message) {
  auto& g = *model.mutable_graph();
  graph::Builder b(g, sink);
  graph::Ctx ctx{.b = b,
                 .ckpt = ckpt,
                 .cfg = ckpt.config(),
                 .alphabet = Alphabet::for_kind(ckpt.config().alphabet),
                 .tokens = "tokens",
                 .opt = {graph_weights(opt.precision, opt.engine).weights, rep.fused, opt.int4_block},
                 .act = opt.precision == Precision::Fp16 ? onnx::TensorProto::FLOAT16 : onnx::TensorProto::FLOAT};
  add_value_info(g.add_input(), "tokens", onnx::TensorProto::INT64, {std::string("batch"), std::string("sequence")});
  for (auto& [spec, out] : graph::build_forward(ctx, rep.repr_layers, rep.outputs, rep.fused, message)) {
    const std::string name(spec->name);
    b.node("Identity", {out.tensor}, {}, name);
    g.mutable_node(g.node_size() - 1)->set_output(0, name);
    add_value_info(g.add_output(), name, onnx::TensorProto::FLOAT, out.dims);
  }
}

}  // namespace

std::string source_digest(const Checkpoint& ckpt) {
  if (std::error_code ec; fs::is_regular_file(ckpt.path(), ec)) return sha256_file(ckpt.path());
  return sha256_files(ckpt.files());
}

void write_atomically(onnx::ModelProto& model, graph::WeightSink& sink, const std::string& output, ConvertReport& rep,
                      const std::string& tmp_onnx, const std::string& tmp_data, const std::string& data_path) {
  sink.close();
  graph::check_model(model, output, rep.external_data);
  graph::save_model(model, tmp_onnx);
  model.Clear();
  if (rep.external_data) {
    // The checker resolves external data next to the model under its final name.
    io::publish(tmp_data, data_path, "--output");
    rep.external_data_file = data_path;
    graph::check_external_model_file(tmp_onnx);
  }
  io::publish(tmp_onnx, output, "--output");
}

void create_parent(const std::string& output) {
  if (const auto parent = fs::path(output).parent_path(); !parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) throw FileError(fmt::format("--output {}: cannot create folder {}: {}", output, parent.string(), ec.message()));
  }
}

ConvertReport convert(const ConvertOptions& opt, const MessageFn& message) {
  opt.validate();
  // A local file or folder: names are resolved (downloaded) at the CLI and Python boundary, by esm_onnx::hub.
  if (FoldCheckpoint::recognises(opt.checkpoint)) return convert_fold(opt, message);
  Checkpoint ckpt = Checkpoint::load(opt.checkpoint);  // a checkpoint that cannot be read leaves no folder behind
  create_parent(opt.output);
  return convert_checkpoint(opt, ckpt, message);
}

ConvertReport convert_checkpoint(const ConvertOptions& opt, const Checkpoint& ckpt, const MessageFn& message) {
  auto say = [&](MessageKind kind, const std::string& m) {
    if (message) message({kind, m});
  };
  ConvertReport rep = plan(opt, ckpt);
  say(MessageKind::Step, fmt::format("read {} ({} {}): {}", opt.checkpoint, ckpt.source(), ckpt.serialization(), rep.config.to_string()));
  for (const auto& n : rep.notices) say(MessageKind::Notice, "notice: " + n);
  rep.source_sha256 = source_digest(ckpt);
  const ModelInfo info = describe(opt, ckpt, rep);

  onnx::ModelProto model = empty_model(opt, ckpt, rep, info);
  const std::string tmp_onnx = opt.output + ".partial";
  const std::string data_name = fs::path(opt.output).filename().string() + ".data";
  const std::string data_path = (fs::path(opt.output).parent_path() / data_name).string();
  const std::string tmp_data = data_path + ".partial";
  // The scratch names are predictable: whatever was placed there in advance (a link, a FIFO) is removed, not
  // written through or waited on.
  std::remove(tmp_onnx.c_str());
  std::remove(tmp_data.c_str());
  graph::WeightSink sink(rep.external_data ? tmp_data : std::string(), rep.external_data ? data_name : std::string());
  try {
    build_graph(model, sink, opt, ckpt, rep, message);
    write_atomically(model, sink, opt.output, rep, tmp_onnx, tmp_data, data_path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp_onnx, ec);
    fs::remove(tmp_data, ec);
    if (!rep.external_data_file.empty()) fs::remove(data_path, ec);
    throw;
  }
  say(MessageKind::Step, fmt::format("wrote {} ({} MB of weights{})", opt.output, rep.weight_bytes >> 20,
                  rep.external_data ? ", external data in " + data_name : ""));
  return rep;
}

}  // namespace esm_onnx
