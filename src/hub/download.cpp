// `esm-onnx download`: the catalogue of released names, fair-esm's URLs and torch hub folder, and the
// hub's cache layout (models--owner--name/{blobs,snapshots,refs}) that transformers reads too.
#include "esm_onnx/hub/download.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "base/util/cache_root.h"
#include "base/util/untrusted_file.h"
#include "esm_onnx/base/errors.h"
#include "formats/torch/torch_file.h"
#include "hub/fetch.h"
#include "layouts/transformers_folder.h"
#include "tensors/families/families.h"

namespace esm_onnx {
namespace {

namespace fs = std::filesystem;
using net::FetchSettings;
using net::FetchSpec;

// fair-esm's released sequence models (pretrained.py); esm1v has no contact regression.
constexpr std::array<const char*, 17> kFairEsm = {
    "esm1_t34_670M_UR50S", "esm1_t34_670M_UR50D", "esm1_t34_670M_UR100", "esm1_t12_85M_UR50S", "esm1_t6_43M_UR50S",
    "esm1b_t33_650M_UR50S", "esm1v_t33_650M_UR90S_1", "esm1v_t33_650M_UR90S_2", "esm1v_t33_650M_UR90S_3",
    "esm1v_t33_650M_UR90S_4", "esm1v_t33_650M_UR90S_5", "esm2_t6_8M_UR50D", "esm2_t12_35M_UR50D",
    "esm2_t30_150M_UR50D", "esm2_t33_650M_UR50D", "esm2_t36_3B_UR50D", "esm2_t48_15B_UR50D"};

struct EsmcRelease {
  const char* name;
  const char* repo;
  const char* file;
};
constexpr EsmcRelease kEsmc[] = {
    {"esmc_300m", "EvolutionaryScale/esmc-300m-2024-12", "data/weights/esmc_300m_2024_12_v0.pth"},
    {"esmc_600m", "EvolutionaryScale/esmc-600m-2024-12", "data/weights/esmc_600m_2024_12_v0.pth"},
};

// ESMFold releases esm-onnx folds, by the transformers folder that holds each (stem and head in one).
struct FoldRelease {
  const char* name;
  const char* repo;
};
constexpr FoldRelease kFold[] = {{"esmfold_v1", "facebook/esmfold_v1"}};

// fair-esm's names of models esm-onnx does not run: the MSA Transformer, ESM-IF, and the ESMFold releases that
// exist only as fair-esm's files (esmfold_v0 and the structure-module-only ablations).
const char* kNotSequenceModels[] = {"esm_msa1_t12_100M_UR50S", "esm_msa1b_t12_100M_UR50S", "esm_if1_gvp4_t16_142M_UR50",
                                    "esmfold_v0", "esmfold_structure_module_only_8M", "esmfold_structure_module_only_8M_270K",
                                    "esmfold_structure_module_only_35M", "esmfold_structure_module_only_35M_270K",
                                    "esmfold_structure_module_only_150M", "esmfold_structure_module_only_150M_270K",
                                    "esmfold_structure_module_only_650M", "esmfold_structure_module_only_650M_270K",
                                    "esmfold_structure_module_only_3B", "esmfold_structure_module_only_3B_270K",
                                    "esmfold_structure_module_only_15B"};

const FoldRelease* fold_release(const std::string& n) {
  for (const auto& r : kFold) {
    if (n == r.name) return &r;
  }
  return nullptr;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

fs::path cache_home() {
  const std::string home = user_cache_home();  // the one rule (base/util/cache_root.h)
  if (home.empty()) throw UsageError("download: neither XDG_CACHE_HOME nor HOME is set; give --dir");
  return home;
}

// torch.hub.get_dir() / "checkpoints", where fair-esm's loader looks.
fs::path torch_checkpoints(const std::string& dir) {
  if (!dir.empty()) return dir;
  if (auto t = env("TORCH_HOME"); !t.empty()) return fs::path(t) / "hub" / "checkpoints";
  return cache_home() / "torch" / "hub" / "checkpoints";
}

fs::path hub_cache(const std::string& dir) {
  if (!dir.empty()) return dir;
  if (auto c = env("HF_HUB_CACHE"); !c.empty()) return c;
  if (auto h = env("HF_HOME"); !h.empty()) return fs::path(h) / "hub";
  return cache_home() / "huggingface" / "hub";
}

std::string without_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

bool is_fair_esm_name(const std::string& n) {
  for (const char* k : kFairEsm) {
    if (n == k) return true;
  }
  return false;
}

const EsmcRelease* esmc_release(const std::string& n) {
  for (const auto& r : kEsmc) {
    if (n == r.name || n == fs::path(r.file).stem().string()) return &r;
  }
  return nullptr;
}

bool is_repo_id(const std::string& n) {
  static const std::regex re(R"(^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$)");
  // "out/model.pt" is a file that is missing, not a repository to fetch.
  static const std::regex file(R"(\.(pt|pth|bin|safetensors|onnx|json)$)");
  return std::regex_match(n, re) && n.find("..") == std::string::npos && !std::regex_search(n, file);
}

// fair-esm's files have no published digest or size: a body is bounded by what a checkpoint of the name's
// parameter count can hold (fp32 weights with optimizer state, 16 bytes a parameter, and room), and a
// finished file must open as a whole torch file (a zip's central directory, every storage within the file).
uint64_t fair_esm_size_cap(const std::string& name, bool regression) {
  if (regression) return uint64_t{64} << 20;
  static const std::regex params(R"(_(\d+)([MB])_)");
  std::smatch m;
  if (!std::regex_search(name, m, params)) return uint64_t{1} << 40;
  const uint64_t n = std::stoull(m[1].str()) * (m[2].str() == "B" ? 1000000000ull : 1000000ull);
  return 16 * n + (uint64_t{512} << 20);
}

void validate_torch_file(const std::string& path) {
  const auto file = torchfile::TorchFile::open(path);
  (void)file->root();
}

DownloadResult fetch_fair_esm(const DownloadOptions& o, const FetchSettings& s, const std::function<void(const std::string&)>& log) {
  const std::string base = without_slash(env("ESM_ONNX_FAIR_ESM_URL").empty() ? "https://dl.fbaipublicfiles.com/fair-esm"
                                                                               : env("ESM_ONNX_FAIR_ESM_URL"));
  const fs::path dir = torch_checkpoints(o.dir);
  DownloadResult r;
  auto spec = [&](const std::string& url, const fs::path& dest, bool regression) {
    FetchSpec f;
    f.url = url;
    f.dest = dest.string();
    f.max_size = fair_esm_size_cap(o.name, regression);
    f.validate = validate_torch_file;
    return f;
  };
  const fs::path model = dir / (o.name + ".pt");
  r.bytes_fetched += net::fetch_file(spec(base + "/models/" + o.name + ".pt", model, false), s, log);
  r.files.push_back(model.string());
  if (!families::is_esm1v_name(o.name)) {
    const fs::path reg = dir / (o.name + "-contact-regression.pt");
    r.bytes_fetched += net::fetch_file(spec(base + "/regression/" + o.name + "-contact-regression.pt", reg, true), s, log);
    r.files.push_back(reg.string());
  }
  r.path = model.string();
  return r;
}

// One repository in the hub cache.
class HubRepo {
 public:
  HubRepo(std::string repo, std::string revision, const std::string& dir, const FetchSettings& s,
          std::function<void(const std::string&)> log)
      : repo_(std::move(repo)), revision_(std::move(revision)), settings_(s), log_(std::move(log)) {
    root_ = hub_cache(dir) / ("models--" + std::regex_replace(repo_, std::regex("/"), "--"));
    endpoint_ = without_slash(env("HF_ENDPOINT").empty() ? "https://huggingface.co" : env("HF_ENDPOINT"));
    settings_.http.bearer_token = env("HF_TOKEN");
    settings_.http.token_origin = net::origin_of(endpoint_);
  }

  // The file into the cache; false when the repository has no such file (404).
  bool fetch(const std::string& file, bool optional, DownloadResult& r) {
    const std::string url = fmt::format("{}/{}/resolve/{}/{}", endpoint_, repo_, revision_, file);
    net::Response head;
    double delay = settings_.first_delay_s;
    for (int attempt = 1;; ++attempt) {
      head = net::head(url, settings_.http);
      if (head.error.empty() && head.status < 500) break;
      // No connection at all, and an earlier run fetched the file: work offline at once.
      if (!head.error.empty()) {
        if (auto cached = cached_file(file); !cached.empty()) {
          if (log_) log_(fmt::format("{}: {}; using the cached copy", url, head.error));
          r.files.push_back(cached);
          return true;
        }
      }
      if (attempt < settings_.attempts) {
        std::this_thread::sleep_for(std::chrono::duration<double>(delay));
        delay *= 2;
        continue;
      }
      if (attempt >= settings_.attempts) {
        if (auto cached = cached_file(file); !cached.empty()) {
          if (log_) log_(fmt::format("{}: {}; using the cached copy", url, head.error.empty() ? net::explain_status(head.status, url) : head.error));
          r.files.push_back(cached);
          return true;
        }
        throw NetworkError(fmt::format("{}: {}; gave up after {} attempts", url,
                                       head.error.empty() ? fmt::format("the server answered {}", head.status) : head.error,
                                       settings_.attempts));
      }
    }
    if (head.status == 404 && optional) return false;
    if (head.status >= 400) throw NetworkError(net::explain_status(head.status, url));
    const auto h = [&](const char* k) {
      auto it = head.headers.find(k);
      return it == head.headers.end() ? std::string() : it->second;
    };
    std::string etag = h("x-linked-etag").empty() ? h("etag") : h("x-linked-etag");
    if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
    etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
    const std::string commit = h("x-repo-commit");
    // Both become file names in the cache: nothing but plain name characters.
    static const std::regex plain(R"(^[A-Za-z0-9_-][A-Za-z0-9._-]*$)");
    if (!std::regex_match(etag, plain) || !std::regex_match(commit, plain)) {
      throw NetworkError(fmt::format("{}: the answer lacks the ETag and X-Repo-Commit headers of a hub file server; "
                                     "check HF_ENDPOINT", url));
    }
    const std::string size_text = h("x-linked-size").empty() ? h("content-length") : h("x-linked-size");
    const uint64_t size = size_text.empty() ? 0 : std::strtoull(size_text.c_str(), nullptr, 10);
    static const std::regex sha256(R"(^[0-9a-f]{64}$)");
    FetchSpec spec;
    spec.url = url;
    if (head.status >= 300 && head.status < 400 && !h("location").empty()) {
      const std::string loc = h("location");
      spec.url = loc.rfind("http", 0) == 0 ? loc : endpoint_ + (loc.front() == '/' ? "" : "/") + loc;
    }
    spec.dest = (root_ / "blobs" / etag).string();
    spec.sha256 = std::regex_match(etag, sha256) ? etag : std::string();
    spec.size = size;
    r.bytes_fetched += net::fetch_file(spec, settings_, log_);
    // snapshots/<commit>/<file> -> ../../blobs/<etag>, as huggingface_hub lays it out.
    const fs::path link = root_ / "snapshots" / commit / file;
    std::error_code ec;
    fs::create_directories(link.parent_path(), ec);
    fs::path target = fs::path("..") / "..";
    const fs::path relative(file);
    for (auto it = relative.begin(); std::next(it) != relative.end(); ++it) target /= "..";
    target /= fs::path("blobs") / etag;
    if (!fs::exists(fs::symlink_status(link, ec))) {
      fs::create_symlink(target, link, ec);
      if (ec) throw FileError(fmt::format("{}: cannot link the snapshot to its blob: {}", link.string(), ec.message()));
    }
    if (revision_ != commit) {
      fs::create_directories(root_ / "refs", ec);
      std::ofstream(root_ / "refs" / revision_) << commit;
    }
    snapshot_ = root_ / "snapshots" / commit;
    r.files.push_back(link.string());
    return true;
  }

  fs::path snapshot() const { return snapshot_; }

 private:
  // The file in the snapshot that refs/<revision> names, when an earlier run fetched it.
  std::string cached_file(const std::string& file) {
    std::ifstream ref(root_ / "refs" / revision_);
    std::string commit;
    if (!(ref >> commit)) commit = revision_;
    const fs::path p = root_ / "snapshots" / commit / file;
    if (std::error_code ec; !fs::exists(p, ec)) return {};
    snapshot_ = root_ / "snapshots" / commit;
    return p.string();
  }

  std::string repo_, revision_;
  FetchSettings settings_;
  std::function<void(const std::string&)> log_;
  fs::path root_, snapshot_;
  std::string endpoint_;
};

DownloadResult fetch_repo(const DownloadOptions& o, const FetchSettings& s, const std::function<void(const std::string&)>& log) {
  HubRepo repo(o.name, o.revision, o.dir, s, log);
  DownloadResult r;
  repo.fetch("config.json", false, r);
  auto shards = [&](const std::string& index) {
    for (const auto& f : layouts::transformers::shard_files((repo.snapshot() / index).string())) repo.fetch(f, false, r);
  };
  if (repo.fetch("model.safetensors", true, r)) {
  } else if (repo.fetch("model.safetensors.index.json", true, r)) {
    shards("model.safetensors.index.json");
  } else if (repo.fetch("pytorch_model.bin", true, r)) {
  } else if (repo.fetch("pytorch_model.bin.index.json", true, r)) {
    shards("pytorch_model.bin.index.json");
  } else {
    throw NetworkError(fmt::format("{}: the repository has config.json but no model.safetensors or pytorch_model.bin "
                                   "(nor a sharded index of either)", o.name));
  }
  r.path = repo.snapshot().string();
  return r;
}

DownloadResult fetch_esmc(const EsmcRelease& release, const DownloadOptions& o, const FetchSettings& s,
                          const std::function<void(const std::string&)>& log) {
  HubRepo repo(release.repo, o.revision, o.dir, s, log);
  DownloadResult r;
  repo.fetch(release.file, false, r);
  r.path = r.files.back();
  return r;
}

}  // namespace

std::vector<std::string> fair_esm_releases() { return {kFairEsm.begin(), kFairEsm.end()}; }
std::vector<std::string> esmc_releases() {
  std::vector<std::string> out;
  for (const auto& r : kEsmc) out.emplace_back(r.name);
  return out;
}
std::vector<std::string> fold_releases() {
  std::vector<std::string> out;
  for (const auto& r : kFold) out.emplace_back(r.name);
  return out;
}
std::vector<std::string> unsupported_releases() { return {std::begin(kNotSequenceModels), std::end(kNotSequenceModels)}; }

bool is_downloadable_name(const std::string& text) {
  return is_fair_esm_name(text) || esmc_release(text) != nullptr || fold_release(text) != nullptr || is_repo_id(text);
}

DownloadResult download(const DownloadOptions& o, const std::function<void(const std::string&)>& log) {
  for (const char* n : kNotSequenceModels) {
    if (o.name == n) {
      throw UnsupportedError(fmt::format("download {}: esm-onnx runs ESM-1, ESM-1b, ESM-1v, ESM-2, ESM C and ESMFold "
                                         "(esmfold_v1); not this model", o.name));
    }
  }
  FetchSettings s = net::settings_from_environment();
  s.progress = o.progress;
  if (is_fair_esm_name(o.name)) return fetch_fair_esm(o, s, log);
  if (const auto* release = esmc_release(o.name)) return fetch_esmc(*release, o, s, log);
  if (const auto* release = fold_release(o.name)) {
    DownloadOptions repo = o;
    repo.name = release->repo;
    return fetch_repo(repo, s, log);
  }
  if (is_repo_id(o.name)) return fetch_repo(o, s, log);
  std::string names;
  for (const char* k : kFairEsm) names += std::string(names.empty() ? "" : ", ") + k;
  for (const auto& r : kEsmc) names += std::string(", ") + r.name;
  for (const auto& r : kFold) names += std::string(", ") + r.name;
  throw UsageError(fmt::format("download {}: not a released name ({}) nor a hub repository id (owner/name)", o.name, names));
}

std::string resolve_checkpoint(const std::string& name_or_path, bool progress,
                               const std::function<void(const std::string&)>& log) {
  // Anything at the path (a link loop, a FIFO included) is the user's file: its reader says what is wrong.
  const bool present = files::path_kind(name_or_path) != files::PathKind::Missing;
  if (present || !is_downloadable_name(name_or_path)) {
    if (!present) {
      throw FileError(fmt::format("{}: no such file or folder (nor a released name or hub repository id to download)",
                                  name_or_path));
    }
    return name_or_path;
  }
  if (log) log(fmt::format("{}: not a local file; fetching it (esm-onnx download)", name_or_path));
  DownloadOptions o;
  o.name = name_or_path;
  o.progress = progress;
  return download(o, log).path;
}

}  // namespace esm_onnx
