#include "esm_onnx/hub/model_cache.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "base/util/bounded_json.h"
#include "base/util/cache_root.h"
#include "base/util/sha256.h"
#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/model_info.h"
#include "esm_onnx/engines/model.h"
#include "esm_onnx/hub/download.h"
#include "formats/io/process_tag.h"

namespace esm_onnx {
namespace {

namespace fs = std::filesystem;

// Each variant of a cached conversion: its key suffix and what convert is asked for.
struct GraphVariant {
  CachedGraph graph;
  const char* name;    // in entry.json
  const char* suffix;  // of the key
  const char* repr_layers;
  bool contacts;
  bool attentions;
};
constexpr std::array<GraphVariant, 3> kVariants{{
    {.graph = CachedGraph::Everything, .name = "everything", .suffix = "", .repr_layers = "all", .contacts = true, .attentions = false},
    {.graph = CachedGraph::Logits, .name = "logits", .suffix = "-logits", .repr_layers = "-1", .contacts = false, .attentions = false},
    {.graph = CachedGraph::Attentions, .name = "attentions", .suffix = "-attentions", .repr_layers = "all", .contacts = true, .attentions = true},
}};

const GraphVariant& variant(CachedGraph g) {
  return *std::find_if(kVariants.begin(), kVariants.end(), [g](const GraphVariant& v) { return v.graph == g; });
}

constexpr const char* kEntryFile = "entry.json";
constexpr const char* kModelFile = "model.onnx";

// The source part of the key: the checkpoint's SHA-256 (a folder: of its files, sorted), and 16 digits of the
// regression file's beside a single file.
std::string source_key(const fs::path& checkpoint) {
  if (files::path_kind(checkpoint.string()) == files::PathKind::Folder) {
    std::vector<std::string> members;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(checkpoint, ec)) {
      if (e.is_regular_file(ec)) members.push_back(e.path().string());
    }
    std::sort(members.begin(), members.end());
    return sha256_files(members);
  }
  std::string key = sha256_file(checkpoint.string());
  const fs::path regression = checkpoint.parent_path() / (checkpoint.stem().string() + "-contact-regression.pt");
  if (files::path_kind(regression.string()) == files::PathKind::Regular) key += "-" + sha256_file(regression.string()).substr(0, 16);
  return key;
}

// What a file was when its entry was written: its size and SHA-256, and its inode and change time, which a
// later use compares first (any write to the file changes its ctime, which no user can set back), so that the
// digest is recomputed only for a file that was touched since.
struct FileStamp {
  uint64_t size{0}, inode{0};
  int64_t ctime_ns{0};
};

std::optional<FileStamp> stamp_of(const fs::path& f) {
  struct stat st {};
  if (stat(f.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileStamp{static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_ino),
                   static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
}

// The files of a finished conversion as entry.json records them.
jsonin::Json file_records(const fs::path& dir) {
  jsonin::Json files = jsonin::Json::object();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto st = stamp_of(e.path());
    if (name == kEntryFile || !st) continue;
    files[name] = {{"size", st->size}, {"sha256", sha256_file(e.path().string())}, {"inode", st->inode},
                   {"ctime_ns", st->ctime_ns}};
  }
  return files;
}

// Why the entry at `dir` cannot be used (empty when it can): it must be whole (every file entry.json lists, at
// its size) and what its name says (the key, the variant, and a model whose metadata names the source that
// entry.json records; for a single file, the checkpoint's own digest).
std::string entry_problem(const fs::path& dir, const std::string& key, const GraphVariant& v, bool single_file) {
  std::error_code ec;
  if (fs::is_symlink(dir, ec)) return "it is a link, not a folder the cache made";
  const fs::path entry = dir / kEntryFile;
  if (files::path_kind(entry.string()) != files::PathKind::Regular) return "it has no entry.json (an older esm-onnx, or an unfinished entry)";
  try {
    const auto j = jsonin::parse_file(entry.string(), "the cache entry's entry.json", jsonin::kConfigLimits);
    const std::string where = entry.string();
    if (jsonin::get_string(j, "key", where).value_or("") != key) return "entry.json names another key: it is another checkpoint's conversion";
    if (jsonin::get_string(j, "graph", where).value_or("") != v.name) return "entry.json names another variant";
    const std::string source = jsonin::get_string(j, "source_sha256", where).value_or("");
    const jsonin::Json* records = jsonin::get_object(j, "files", where);
    if (!records || !records->contains(kModelFile)) return "entry.json lists no model.onnx";
    for (const auto& [name, rec] : records->items()) {
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." || !rec.is_object()) {
        return "entry.json is malformed";
      }
      const auto size = jsonin::get_int(rec, "size", where);
      const auto digest = jsonin::get_string(rec, "sha256", where);
      const auto inode = jsonin::get_int(rec, "inode", where);
      const auto ctime = jsonin::get_int(rec, "ctime_ns", where);
      if (!size || !digest || !inode || !ctime) return "entry.json is malformed";
      const auto st = stamp_of(dir / name);
      if (!st) return fmt::format("{} is missing", name);
      if (st->size != static_cast<uint64_t>(*size)) return fmt::format("{} is not the size it was written with (truncated or changed)", name);
      if (st->inode == static_cast<uint64_t>(*inode) && st->ctime_ns == *ctime) continue;  // untouched since
      if (sha256_file((dir / name).string()) != *digest) return fmt::format("{} was changed since it was written", name);
    }
    if (read_source_sha256((dir / kModelFile).string()) != source) return "its model was converted from another source than entry.json records";
    if (single_file && source != key.substr(0, 64)) return "its model was converted from another checkpoint";
    return {};
  } catch (const Error& e) {
    return e.what();
  }
}

void write_entry(const fs::path& work, const std::string& key, const GraphVariant& v, const ConvertReport& rep) {
  jsonin::Json j;
  j["key"] = key;
  j["graph"] = v.name;
  j["source_sha256"] = rep.source_sha256;
  j["files"] = file_records(work);
  const fs::path path = work / kEntryFile;
  std::ofstream out(path, std::ios::trunc);
  out << j.dump(1) << '\n';
  out.close();
  if (!out) throw FileError(fmt::format("{}: cannot write the cache entry's record (disk full?)", path.string()));
}

// Moves a damaged entry out of the way (a rename, so that a process reading it keeps its files), then removes it.
void discard(const fs::path& dir) {
  const fs::path gone = dir.parent_path() / fmt::format(".{}.{}.discarded", dir.filename().string(), io::process_tag());
  std::error_code ec;
  fs::rename(dir, gone, ec);
  fs::remove_all(ec ? dir : gone, ec);
}

// What killed conversions and discards left: ".<key>.<host>-<pid>.tmp" and ".discarded" folders of processes of
// this host that no longer run (keys hold no '.', so the tag is what lies between the key and the suffix).
void remove_stale_work(const fs::path& root) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    for (const std::string suffix : {".tmp", ".discarded"}) {
      if (name.size() < 2 + suffix.size() || name[0] != '.' || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
      const auto dot = name.find('.', 1);
      if (dot == std::string::npos || dot + 1 >= name.size() - suffix.size()) continue;
      if (!io::is_stale_tag(name.substr(dot + 1, name.size() - suffix.size() - dot - 1))) continue;
      std::error_code rm;
      fs::remove_all(e.path(), rm);
    }
  }
}

}  // namespace

CachedGraph parse_cached_graph(const std::string& name, const std::string& option) {
  for (const auto& v : kVariants) {
    if (name == v.name) return v.graph;
  }
  throw UsageError(fmt::format("{} {}: expected everything, logits or attentions", option, name));
}

std::string model_cache_root() {
  const std::string root = cache_root();
  if (root.empty()) {
    throw FileError("no cache folder: set ESM_ONNX_CACHE (or HOME), or convert the checkpoint with `esm-onnx convert` "
                    "and give the .onnx");
  }
  return root;
}

std::string cached_model(const std::string& location, const CacheRequest& request) {
  if (fs::path(location).extension() == ".onnx") return location;
  const GraphVariant& v = variant(request.graph);
  const fs::path checkpoint = resolve_checkpoint(location, request.progress, request.log);
  const fs::path root = model_cache_root();
  const std::string origin = cache_root_origin();
  const bool single_file = files::path_kind(checkpoint.string()) != files::PathKind::Folder;
  const std::string key = source_key(checkpoint) + v.suffix;
  const fs::path final_dir = root / key;
  const fs::path model = final_dir / kModelFile;
  remove_stale_work(root);
  std::error_code lec;
  if (fs::symlink_status(final_dir, lec).type() != fs::file_type::not_found) {  // a dangling link counts too
    const std::string problem = entry_problem(final_dir, key, v, single_file);
    if (problem.empty()) return model.string();
    if (request.notice) request.notice(fmt::format("notice: the cache entry {} cannot be used ({}): converting {} again", final_dir.string(), problem, checkpoint.string()));
    discard(final_dir);
  }
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec || !fs::is_directory(root, ec)) {
    throw FileError(fmt::format("the model cache {} ({}): cannot create it: {}; set ESM_ONNX_CACHE to a folder you can "
                                "write", root.string(), origin, ec ? ec.message() : "not a folder"));
  }
  // Converted in a folder of this process and renamed into place: a concurrent or interrupted conversion never
  // leaves a half-written model under the final name.
  const fs::path work = root / fmt::format(".{}.{}.tmp", key, io::process_tag());
  fs::remove_all(work, ec);
  fs::create_directory(work, ec);
  if (ec) {
    throw FileError(fmt::format("the model cache {} ({}): cannot write in it: {}; set ESM_ONNX_CACHE to a folder you "
                                "can write", root.string(), origin, ec.message()));
  }
  try {
    ConvertOptions opt;
    opt.checkpoint = checkpoint.string();
    opt.output = (work / kModelFile).string();
    opt.repr_layers = {v.repr_layers};
    opt.contacts = v.contacts;
    if (v.attentions) opt.on_request.set(GraphOutput::Attentions);
    if (request.log) request.log(fmt::format("{}: converting it once into {}", checkpoint.string(), final_dir.string()));
    const ConvertReport rep = convert(opt, [&](const Message& m) {
      if (m.kind == MessageKind::Notice && request.notice) request.notice(m.text);
      else if (m.kind == MessageKind::Step && request.log) request.log(m.text);
    });
    write_entry(work, key, v, rep);
    fs::rename(work, final_dir, ec);
    // Another process may have published the same entry first: its conversion is as good as ours.
    if (ec && !entry_problem(final_dir, key, v, single_file).empty()) {
      throw FileError(fmt::format("{}: cannot move the converted model into the cache: {}", final_dir.string(), ec.message()));
    }
  } catch (...) {
    fs::remove_all(work, ec);
    throw;
  }
  fs::remove_all(work, ec);
  return model.string();
}

}  // namespace esm_onnx
