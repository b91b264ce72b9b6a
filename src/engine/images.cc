#include "engine/images.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/fd.h"
#include "common/ids.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"
#include "nlohmann/json.hpp"
#include "registry/reference.h"
#include "spec/json/container_json.h"
#include "sys/tar.h"

namespace berth::engine {
namespace {

using nlohmann::json;

constexpr int64_t kMaxMetadataFile = 8 << 20;  // manifest/config/index: anything larger is bogus

std::string Hex(std::string_view digest) {
  if (digest.substr(0, 7) == "sha256:") digest.remove_prefix(7);
  return std::string(digest);
}

bool ValidDigest(std::string_view d) { return d.substr(0, 7) == "sha256:" && IsFullId(Hex(d)); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Extracts the outer archive (docker-archive or OCI layout) into dir. Entries are plain files in
// a few directories; anything else is refused.
Status UnpackOuter(const std::string& tar_path, const std::string& dir) {
  UniqueFd fd(::open(tar_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open " + tar_path);
  tar::Reader reader(fd.get());
  tar::Entry e;
  int files = 0;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, reader.Next(&e));
    if (!more) break;
    if (absl::StrContains(e.name, "..")) return absl::InvalidArgumentError("invalid entry " + e.name);
    std::string path = dir + "/" + e.name;
    if (e.type == '5') {
      RETURN_IF_ERROR(sys::MkdirAll(path));
      continue;
    }
    if (e.type != '0') continue;  // symlinks between layer dirs (docker save) are not needed
    auto slash = path.find_last_of('/');
    RETURN_IF_ERROR(sys::MkdirAll(path.substr(0, slash)));
    UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out.valid()) return ErrnoStatus(errno, "create " + path);
    RETURN_IF_ERROR(reader.CopyTo(out.get()));
    ++files;
  }
  if (files == 0) return absl::InvalidArgumentError("empty archive");
  return absl::OkStatus();
}

StatusOr<json> ReadJsonFile(const std::string& path, std::string* raw = nullptr) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "open " + path);
  if (st.st_size > kMaxMetadataFile) return absl::InvalidArgumentError(path + ": file too large");
  ASSIGN_OR_RETURN(std::string data, sys::ReadFile(path));
  json j = json::parse(data, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("invalid JSON in " + path);
  if (raw) *raw = std::move(data);
  return j;
}

// Copies a possibly gzip-compressed file to dst uncompressed (zlib reads plain files as-is).
Status CopyUncompressed(const std::string& src, const std::string& dst) {
  gzFile in = gzopen(src.c_str(), "rb");
  if (in == nullptr) return absl::InternalError("open " + src);
  UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) {
    gzclose(in);
    return ErrnoStatus(errno, "create " + dst);
  }
  char buf[1 << 16];
  int n;
  while ((n = gzread(in, buf, sizeof buf)) > 0) {
    if (::write(out.get(), buf, static_cast<size_t>(n)) != n) {
      gzclose(in);
      return ErrnoStatus(errno, "write " + dst);
    }
  }
  gzclose(in);
  if (n < 0) return absl::InvalidArgumentError("corrupt compressed layer " + src);
  return absl::OkStatus();
}

// Copies a layer blob (gzip, zstd or plain tar) to dst uncompressed.
Status CopyUncompressedBlob(const std::string& src, const std::string& dst) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return ErrnoStatus(errno, "open " + src);
  unsigned char magic[4] = {0, 0, 0, 0};
  if (::pread(in.get(), magic, 4, 0) < 0) return ErrnoStatus(errno, "read " + src);
  if (!(magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd))
    return CopyUncompressed(src, dst);  // gzip or plain: zlib reads both
  UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return ErrnoStatus(errno, "create " + dst);
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (ds == nullptr) return absl::ResourceExhaustedError("zstd: out of memory");
  ZSTD_initDStream(ds);
  std::vector<char> ibuf(ZSTD_DStreamInSize()), obuf(ZSTD_DStreamOutSize());
  Status st;
  for (;;) {
    ssize_t n = ::read(in.get(), ibuf.data(), ibuf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = ErrnoStatus(errno, "read " + src);
      break;
    }
    if (n == 0) break;
    ZSTD_inBuffer ib{ibuf.data(), static_cast<size_t>(n), 0};
    while (ib.pos < ib.size && st.ok()) {
      ZSTD_outBuffer ob{obuf.data(), obuf.size(), 0};
      size_t rc = ZSTD_decompressStream(ds, &ob, &ib);
      if (ZSTD_isError(rc)) {
        st = absl::InvalidArgumentError(std::string("zstd: ") + ZSTD_getErrorName(rc));
        break;
      }
      if (ob.pos > 0 && ::write(out.get(), obuf.data(), ob.pos) != static_cast<ssize_t>(ob.pos))
        st = ErrnoStatus(errno, "write " + dst);
    }
    if (!st.ok()) break;
  }
  ZSTD_freeDStream(ds);
  return st;
}

// Dockerfile-style value: JSON array form or shell form.
json CommandValue(std::string_view v, bool shell_form_wraps) {
  json arr = json::parse(v.begin(), v.end(), nullptr, false);
  if (arr.is_array()) return arr;
  if (shell_form_wraps) return json::array({"/bin/sh", "-c", std::string(v)});
  return json::array({std::string(v)});
}

Status ApplyChange(std::string_view change, json* config) {
  std::string_view line = Trim(change);
  auto sp = line.find_first_of(" \t=");
  std::string instr = absl::AsciiStrToUpper(Av(line.substr(0, sp)));
  std::string_view rest =
      sp == std::string_view::npos ? std::string_view() : Trim(line.substr(sp + 1));
  json& c = *config;
  if (instr == "CMD") {
    c["Cmd"] = CommandValue(rest, true);
  } else if (instr == "ENTRYPOINT") {
    c["Entrypoint"] = CommandValue(rest, true);
  } else if (instr == "WORKDIR") {
    c["WorkingDir"] = std::string(rest);
  } else if (instr == "USER") {
    c["User"] = std::string(rest);
  } else if (instr == "STOPSIGNAL") {
    c["StopSignal"] = std::string(rest);
  } else if (instr == "ENV" || instr == "LABEL") {
    std::vector<std::pair<std::string, std::string>> kvs;
    if (rest.find('=') == std::string_view::npos) {
      auto s = rest.find_first_of(" \t");
      if (s == std::string_view::npos)
        return absl::InvalidArgumentError(instr + " requires a value");
      kvs.emplace_back(std::string(rest.substr(0, s)), std::string(Trim(rest.substr(s))));
    } else {
      for (absl::string_view kv : absl::StrSplit(Av(rest), ' ', absl::SkipEmpty())) {
        std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        std::string v = p.second;
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        kvs.emplace_back(p.first, v);
      }
    }
    for (auto& [k, v] : kvs) {
      if (instr == "LABEL") {
        c["Labels"][k] = v;
        continue;
      }
      json env = c.value("Env", json::array());
      if (!env.is_array()) env = json::array();
      json out = json::array();
      for (auto& e : env)
        if (!absl::StartsWith(e.get<std::string>(), k + "=")) out.push_back(e);
      out.push_back(k + "=" + v);
      c["Env"] = out;
    }
  } else if (instr == "EXPOSE") {
    for (absl::string_view p : absl::StrSplit(Av(rest), ' ', absl::SkipEmpty())) {
      std::string port(p);
      if (port.find('/') == std::string::npos) port += "/tcp";
      c["ExposedPorts"][port] = json::object();
    }
  } else if (instr == "HEALTHCHECK") {
    ASSIGN_OR_RETURN(spec::HealthConfig h, ParseHealthcheckInstruction(rest));
    json hc = {{"Test", h.test}};  // container.HealthConfig: every field omitempty
    if (h.interval) hc["Interval"] = h.interval;
    if (h.timeout) hc["Timeout"] = h.timeout;
    if (h.start_period) hc["StartPeriod"] = h.start_period;
    if (h.retries) hc["Retries"] = h.retries;
    c["Healthcheck"] = hc;
  } else if (instr == "VOLUME") {
    json vols = CommandValue(rest, false);
    for (auto& v : vols) c["Volumes"][v.get<std::string>()] = json::object();
  } else {
    return absl::InvalidArgumentError(absl::StrCat(instr, " is not a valid change command"));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<spec::HealthConfig> ParseHealthcheckInstruction(std::string_view args) {
  auto skip_space = [&] {
    while (!args.empty() && (args.front() == ' ' || args.front() == '\t')) args.remove_prefix(1);
  };
  auto word = [&] {
    skip_space();
    size_t n = 0;
    while (n < args.size() && args[n] != ' ' && args[n] != '\t') ++n;
    std::string_view w = args.substr(0, n);
    args.remove_prefix(n);
    skip_space();
    return w;
  };
  std::map<std::string, std::string> flags;
  skip_space();
  while (args.substr(0, 2) == "--") {
    std::string_view f = word().substr(2);
    size_t eq = f.find('=');
    std::string name(f.substr(0, eq));
    if (name != "interval" && name != "timeout" && name != "start-period" && name != "retries")
      return absl::InvalidArgumentError("Unknown flag: " + name);
    if (eq == std::string_view::npos)
      return absl::InvalidArgumentError("Missing a value on flag: --" + name);
    flags[name] = std::string(f.substr(eq + 1));
  }
  if (args.empty()) return absl::InvalidArgumentError("HEALTHCHECK requires at least one argument");
  std::string type = absl::AsciiStrToUpper(std::string(word()));
  spec::HealthConfig h;
  if (type == "NONE") {
    if (!args.empty() || !flags.empty())
      return absl::InvalidArgumentError("HEALTHCHECK NONE takes no arguments");
    h.test = {"NONE"};
    return h;
  }
  if (type != "CMD")
    return absl::InvalidArgumentError("Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
  auto array = json::parse(args.begin(), args.end(), nullptr, false);
  bool json_form = array.is_array() &&
                   std::all_of(array.begin(), array.end(), [](auto& v) { return v.is_string(); });
  if (json_form) {
    h.test = {"CMD"};
    for (auto& v : array) h.test.push_back(v.template get<std::string>());
  } else if (!args.empty()) {
    h.test = {"CMD-SHELL", std::string(args)};
  }
  if (h.test.size() < 2) return absl::InvalidArgumentError("Missing command after HEALTHCHECK CMD");
  for (auto [name, dst] : {std::pair{"interval", &h.interval}, std::pair{"timeout", &h.timeout},
                           std::pair{"start-period", &h.start_period}}) {
    auto it = flags.find(name);
    if (it == flags.end() || it->second.empty()) continue;
    absl::Duration d;
    if (!absl::ParseDuration(it->second, &d) || it->second == "inf" || it->second == "-inf")
      return absl::InvalidArgumentError("time: invalid duration \"" + it->second + "\"");
    if (d < absl::Milliseconds(1))
      return absl::InvalidArgumentError(absl::StrCat("Interval \"", name, "\" cannot be less than 1ms"));
    *dst = absl::ToInt64Nanoseconds(d);
  }
  if (auto it = flags.find("retries"); it != flags.end() && !it->second.empty()) {
    int32_t n;
    if (!absl::SimpleAtoi(it->second, &n))
      return absl::InvalidArgumentError("strconv.ParseInt: parsing \"" + it->second +
                                        "\": invalid syntax");
    if (n < 1)
      return absl::InvalidArgumentError(absl::StrCat("--retries must be at least 1 (not ", n, ")"));
    h.retries = n;
  }
  return h;
}

std::string NormalizeRef(std::string_view ref) {
  auto r = registry::ParseNormalized(ref);
  if (!r.ok() || !r->digest.empty()) return "";  // a digest is not a tag (NormalizeDigestRef)
  return registry::WithDefaultTag(*r).FamiliarString();
}

std::string NormalizeDigestRef(std::string_view ref) {
  auto r = registry::ParseNormalized(ref);
  if (!r.ok() || r->digest.empty()) return "";
  r->tag.clear();  // the tag of a digested reference is ignored, as Docker
  return r->FamiliarString();
}

ImageStore::ImageStore(Store& store, const Clock& clock, std::string root)
    : store_(store), clock_(clock), root_(std::move(root)) {}

std::string ImageStore::LayerDir(const std::string& diff_id) const {
  return root_ + "/layers/" + Hex(diff_id);
}

Status ImageStore::Recover() {
  RETURN_IF_ERROR(sys::MkdirAll(root_ + "/layers", 0700));
  RETURN_IF_ERROR(sys::MkdirAll(root_ + "/tmp", 0700));
  // Anything in tmp is a load, import, pull or push that a crash interrupted.
  ASSIGN_OR_RETURN(auto leftovers, sys::ListDir(root_ + "/tmp"));
  for (auto& n : leftovers) (void)sys::RemoveAll(root_ + "/tmp/" + n);
  auto layers = store_.List("layer");
  auto images = store_.List("image");
  auto tags = store_.List("tag");
  auto blob_records = store_.List("layer_blob");
  // Parse outside the lock, then publish.
  std::map<std::string, int64_t> layer_sizes;
  std::map<std::string, LayerBlob> layer_blob;
  for (auto& o : layers) {
    json doc = json::parse(o.doc, nullptr, false);
    layer_sizes[o.id] = doc.is_object() ? doc.value("size", int64_t{0}) : 0;
    if (doc.is_object() && doc.contains("blob") && doc["blob"].is_object()) {
      auto& bj = doc["blob"];
      layer_blob[o.id] = LayerBlob{bj.value("digest", ""), bj.value("media_type", ""),
                                   bj.value("size", int64_t{0}), ""};
    }
  }
  std::map<std::string, Image> imgs;
  for (auto& o : images) {
    json doc = json::parse(o.doc, nullptr, false);
    if (!doc.is_object()) continue;
    Image img;
    img.id = o.id;
    img.config_raw = doc.value("config", "");
    img.loaded_at = doc.value("loaded_at", int64_t{0});
    if (doc.contains("repo_digests") && doc["repo_digests"].is_array())
      for (auto& d : doc["repo_digests"])
        if (d.is_string()) img.repo_digests.push_back(d.get<std::string>());
    if (Status st = ParseConfig(&img); !st.ok()) {
      spdlog::warn("image {}: {}", img.id, st.ToString());
      continue;
    }
    for (auto& d : img.diff_ids) {
      img.size += layer_sizes[d];
      img.layer_sizes.push_back(layer_sizes[d]);
    }
    imgs[img.id] = std::move(img);
  }
  std::vector<std::pair<int64_t, std::pair<std::string, LayerBlob>>> recorded;
  for (auto& o : blob_records) {
    json doc = json::parse(o.doc, nullptr, false);
    if (!doc.is_object()) continue;
    std::string diff_id = doc.value("diff_id", "");
    if (!layer_sizes.count(diff_id)) continue;
    recorded.push_back({doc.value("at", int64_t{0}),
                        {diff_id, LayerBlob{doc.value("digest", ""), doc.value("media_type", ""),
                                            doc.value("size", int64_t{0}),
                                            doc.value("repository", "")}}});
  }
  std::sort(recorded.begin(), recorded.end(),
            [](const auto& x, const auto& y) { return x.first > y.first; });
  {
    StateLock lock(mu_);
    layer_sizes_ = std::move(layer_sizes);
    layer_blob_ = std::move(layer_blob);
    images_ = std::move(imgs);
    for (auto& [id, img] : images_)
      for (auto& d : img.repo_digests) digests_[d] = id;
    for (auto& o : tags) {
      json doc = json::parse(o.doc, nullptr, false);
      std::string id = doc.is_object() ? doc.value("image", "") : "";
      if (!images_.count(id)) continue;
      tags_[o.id] = id;
      images_[id].tags.push_back(o.id);
    }
    for (auto& [at, rec] : recorded) {
      blobs_[rec.first].push_back(rec.second);
      blob_diff_.emplace(rec.second.digest, rec.first);
    }
  }
  // Layer dirs that no stored layer row names are from a crash between unpack and commit.
  ASSIGN_OR_RETURN(auto dirs, sys::ListDir(root_ + "/layers"));
  for (auto& d : dirs) {
    bool known;
    {
      StateLock lock(mu_);
      known = layer_sizes_.count("sha256:" + d) > 0;
    }
    if (!known) (void)sys::RemoveAll(root_ + "/layers/" + d);
  }
  return absl::OkStatus();
}

StatusOr<std::string> ImageStore::AddLayer(const std::string& tar_path, const std::string& expected) {
  if (!expected.empty() && HasLayer(expected)) return expected;  // stored once
  std::string tmp = root_ + "/tmp/layer-" + NewId().substr(0, 16);
  RETURN_IF_ERROR(sys::MkdirAll(tmp + "/diff", 0755));
  UniqueFd fd(::open(tar_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    (void)sys::RemoveAll(tmp);
    return ErrnoStatus(errno, "open " + tar_path);
  }
  auto res = tar::ExtractLayer(fd.get(), tmp + "/diff");
  if (!res.ok()) {
    (void)sys::RemoveAll(tmp);
    return Annotate(res.status(), "unpack layer");
  }
  if (!expected.empty() && res->diff_id != expected) {
    (void)sys::RemoveAll(tmp);
    return absl::InvalidArgumentError(absl::StrCat("invalid diffID for layer: expected \"", expected,
                                                   "\", got \"", res->diff_id, "\""));
  }
  Status st = CopyUncompressed(tar_path, tmp + "/layer.tar");
  if (st.ok()) st = PublishLayer(tmp, res->diff_id, res->size, std::nullopt);
  (void)sys::RemoveAll(tmp);
  RETURN_IF_ERROR(st);
  return res->diff_id;
}

Status ImageStore::PublishLayer(const std::string& tmp, const std::string& diff_id, int64_t size,
                                const std::optional<LayerBlob>& blob) {
  absl::MutexLock op(&op_mu_);
  if (HasLayer(diff_id)) return sys::RemoveAll(tmp);
  std::string dir = LayerDir(diff_id);
  (void)sys::RemoveAll(dir);  // an orphan of a crash (Recover removes those too)
  if (::rename(tmp.c_str(), dir.c_str()) != 0) return ErrnoStatus(errno, "rename layer");
  json doc = {{"size", size}};
  if (blob)
    doc["blob"] = {{"digest", blob->digest}, {"media_type", blob->media_type}, {"size", blob->size}};
  if (Status st = store_.Put("layer", diff_id, "", doc.dump()); !st.ok()) {
    (void)sys::RemoveAll(dir);
    return st;
  }
  StateLock lock(mu_);
  layer_sizes_[diff_id] = size;
  if (blob) layer_blob_[diff_id] = LayerBlob{blob->digest, blob->media_type, blob->size, ""};
  return absl::OkStatus();
}

Status ImageStore::Commit(const std::string& config_raw, const std::vector<std::string>& diff_ids,
                          const std::vector<std::string>& tags, const std::string& repo_digest,
                          std::string* id_out) {
  std::string id = "sha256:" + Sha256Hex(config_raw);
  absl::MutexLock op(&op_mu_);
  Image img;
  bool fresh;
  {
    StateLock lock(mu_);
    auto it = images_.find(id);
    fresh = it == images_.end();
    if (!fresh) img = it->second;
    for (auto& d : diff_ids)
      if (!layer_sizes_.count(d))
        return absl::FailedPreconditionError("layer " + d + " is not stored");
    if (fresh) {
      img.id = id;
      img.loaded_at = UnixNanos(clock_.Now());
      for (auto& d : diff_ids) {
        img.size += layer_sizes_.at(d);
        img.layer_sizes.push_back(layer_sizes_.at(d));
      }
    }
  }
  if (fresh) {
    img.config_raw = config_raw;
    RETURN_IF_ERROR(ParseConfig(&img));
    img.diff_ids = diff_ids;
  }
  bool doc_changed = fresh;
  if (!repo_digest.empty() &&
      std::find(img.repo_digests.begin(), img.repo_digests.end(), repo_digest) ==
          img.repo_digests.end()) {
    img.repo_digests.push_back(repo_digest);
    std::sort(img.repo_digests.begin(), img.repo_digests.end());
    doc_changed = true;
  }
  RETURN_IF_ERROR(store_.Batch([&]() -> Status {
    if (doc_changed)
      RETURN_IF_ERROR(store_.Put("image", id, "",
                                 json{{"config", img.config_raw},
                                      {"loaded_at", img.loaded_at},
                                      {"repo_digests", img.repo_digests}}
                                     .dump()));
    for (auto& t : tags) RETURN_IF_ERROR(store_.Put("tag", t, "", json{{"image", id}}.dump()));
    return absl::OkStatus();
  }));
  StateLock lock(mu_);
  Image& stored = images_[id];
  if (fresh) stored = img;
  stored.repo_digests = img.repo_digests;
  if (!repo_digest.empty()) digests_[repo_digest] = id;
  for (auto& t : tags) {
    auto old = tags_.find(t);
    if (old != tags_.end() && old->second != id) {
      auto& v = images_[old->second].tags;
      v.erase(std::remove(v.begin(), v.end(), t), v.end());
    }
    tags_[t] = id;
    if (std::find(stored.tags.begin(), stored.tags.end(), t) == stored.tags.end())
      stored.tags.push_back(t);
  }
  std::sort(stored.tags.begin(), stored.tags.end());
  *id_out = id;
  return absl::OkStatus();
}

StatusOr<std::vector<std::string>> ImageStore::Load(const std::string& tar_path) {
  std::string dir = root_ + "/tmp/load-" + NewId().substr(0, 16);
  RETURN_IF_ERROR(sys::MkdirAll(dir, 0700));
  struct Cleanup {
    std::string d;
    ~Cleanup() { (void)sys::RemoveAll(d); }
  } cleanup{dir};
  RETURN_IF_ERROR(Annotate(UnpackOuter(tar_path, dir), "load image"));

  struct Item {
    std::string config_path;
    std::vector<std::string> layer_paths;
    std::vector<std::string> tags;
  };
  std::vector<Item> items;
  if (sys::Exists(dir + "/manifest.json")) {
    ASSIGN_OR_RETURN(json manifest, ReadJsonFile(dir + "/manifest.json"));
    if (!manifest.is_array()) return absl::InvalidArgumentError("invalid manifest.json");
    for (auto& m : manifest) {
      Item it;
      it.config_path = dir + "/" + m.value("Config", "");
      if (m.contains("Layers") && m["Layers"].is_array())
        for (auto& l : m["Layers"]) it.layer_paths.push_back(dir + "/" + l.get<std::string>());
      if (m.contains("RepoTags") && m["RepoTags"].is_array())
        for (auto& t : m["RepoTags"]) it.tags.push_back(t.get<std::string>());
      items.push_back(std::move(it));
    }
  } else if (sys::Exists(dir + "/index.json")) {
    ASSIGN_OR_RETURN(json index, ReadJsonFile(dir + "/index.json"));
    std::vector<std::pair<json, std::string>> manifests;  // manifest descriptor, tag
    std::function<Status(const json&, const std::string&)> walk = [&](const json& idx,
                                                                      const std::string& tag) -> Status {
      if (!idx.contains("manifests") || !idx["manifests"].is_array())
        return absl::InvalidArgumentError("invalid index.json");
      for (auto& d : idx["manifests"]) {
        std::string t = tag;
        if (d.contains("annotations")) {
          auto& a = d["annotations"];
          if (a.contains("io.containerd.image.name")) t = a["io.containerd.image.name"];
          else if (a.contains("org.opencontainers.image.ref.name")) {
            std::string n = a["org.opencontainers.image.ref.name"];
            if (n.find_first_of(":/") != std::string::npos) t = n;
          }
        }
        std::string digest = d.value("digest", "");
        if (!ValidDigest(digest)) return absl::InvalidArgumentError("invalid digest " + digest);
        std::string mt = d.value("mediaType", "");
        if (absl::StrContains(mt, "index") || absl::StrContains(mt, "manifest.list")) {
          if (d.contains("platform") && d["platform"].value("architecture", "amd64") != "amd64")
            continue;
          ASSIGN_OR_RETURN(json sub, ReadJsonFile(dir + "/blobs/sha256/" + Hex(digest)));
          RETURN_IF_ERROR(walk(sub, t));
          continue;
        }
        if (d.contains("platform") && d["platform"].value("architecture", "amd64") != "amd64") continue;
        manifests.emplace_back(d, t);
      }
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(walk(index, ""));
    for (auto& [d, tag] : manifests) {
      ASSIGN_OR_RETURN(json m, ReadJsonFile(dir + "/blobs/sha256/" + Hex(d.value("digest", ""))));
      Item it;
      std::string cd = m.contains("config") ? m["config"].value("digest", "") : "";
      if (!ValidDigest(cd)) return absl::InvalidArgumentError("invalid config digest");
      it.config_path = dir + "/blobs/sha256/" + Hex(cd);
      if (m.contains("layers") && m["layers"].is_array())
        for (auto& l : m["layers"]) {
          std::string ld = l.value("digest", "");
          if (!ValidDigest(ld)) return absl::InvalidArgumentError("invalid layer digest");
          it.layer_paths.push_back(dir + "/blobs/sha256/" + Hex(ld));
        }
      if (!tag.empty()) it.tags.push_back(tag);
      items.push_back(std::move(it));
    }
  } else {
    return absl::InvalidArgumentError(
        "load image: neither manifest.json (docker-archive) nor index.json (OCI layout) found");
  }
  if (items.empty()) return absl::InvalidArgumentError("load image: no images in archive");

  std::vector<std::string> printed;
  for (auto& it : items) {
    std::string raw;
    ASSIGN_OR_RETURN(json config, ReadJsonFile(it.config_path, &raw));
    if (!config.contains("rootfs") || !config["rootfs"].contains("diff_ids") ||
        !config["rootfs"]["diff_ids"].is_array())
      return absl::InvalidArgumentError("load image: config has no rootfs.diff_ids");
    auto& want = config["rootfs"]["diff_ids"];
    if (want.size() != it.layer_paths.size())
      return absl::InvalidArgumentError("load image: layer count does not match config");
    std::vector<std::string> diff_ids;
    for (size_t i = 0; i < it.layer_paths.size(); ++i) {
      ASSIGN_OR_RETURN(std::string d, AddLayer(it.layer_paths[i], want[i].get<std::string>()));
      diff_ids.push_back(d);
    }
    std::vector<std::string> tags;
    for (auto& t : it.tags) {
      std::string n = NormalizeRef(t);
      if (n.empty()) return absl::InvalidArgumentError("invalid reference format: " + t);
      tags.push_back(n);
    }
    std::string id;
    RETURN_IF_ERROR(Commit(raw, diff_ids, tags, "", &id));
    if (tags.empty()) printed.push_back("Loaded image ID: " + id);
    for (auto& t : tags) printed.push_back("Loaded image: " + t);
  }
  return printed;
}

StatusOr<std::string> ImageStore::Import(const std::string& tar_path, const std::string& ref,
                                         const std::vector<std::string>& changes,
                                         const std::string& message) {
  std::string tag;
  if (!ref.empty()) {
    tag = NormalizeRef(ref);
    if (tag.empty()) return absl::InvalidArgumentError("invalid reference format");
  }
  json cfg = json::object();
  for (auto& c : changes) RETURN_IF_ERROR(ApplyChange(c, &cfg));
  ASSIGN_OR_RETURN(std::string diff_id, AddLayer(tar_path, ""));
  std::string now = FormatRfc3339Nano(clock_.Now());
  json history = {{"created", now}, {"created_by", ""}, {"comment", message.empty() ? "Imported from -" : message}};
  json config = {{"architecture", "amd64"},
                 {"config", cfg},
                 {"created", now},
                 {"history", json::array({history})},
                 {"os", "linux"},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array({diff_id})}}}};
  if (!message.empty()) config["comment"] = message;
  std::string id;
  RETURN_IF_ERROR(Commit(config.dump(), {diff_id}, tag.empty() ? std::vector<std::string>{}
                                                                 : std::vector<std::string>{tag},
                         "", &id));
  return id;
}

StatusOr<std::string> ImageStore::CommitContainer(const CommitRequest& req) {
  std::string tag;
  if (!req.ref.empty()) {
    tag = NormalizeRef(req.ref);
    if (tag.empty()) return absl::InvalidArgumentError("invalid reference format");
  }
  json cfg = json::parse(spec::RenderContainerConfig(req.config).dump(), nullptr, false);
  if (!cfg.is_object()) return absl::InternalError("commit: container config is not an object");
  // dockerd's BuildFromConfig: only these instructions, in Dockerfile order; an ENTRYPOINT
  // clears the CMD unless a CMD came before it.
  bool cmd_set = false;
  for (const auto& change : req.changes) {
    std::string_view line = Trim(change);
    if (line.empty()) continue;
    std::string instr =
        absl::AsciiStrToLower(Av(line.substr(0, line.find_first_of(" \t"))));
    static const std::set<std::string> kValid = {"cmd",   "entrypoint", "env",    "expose",
                                                 "label", "onbuild",    "user",   "volume",
                                                 "workdir"};
    if (instr == "healthcheck") {
      return absl::InvalidArgumentError("HEALTHCHECK in a commit change is not supported by Berth");
    }
    if (!kValid.count(instr)) {
      return absl::InvalidArgumentError(instr + " is not a valid change command");
    }
    if (instr == "onbuild") {
      auto sp = line.find_first_of(" \t");
      std::string_view rest = sp == std::string_view::npos ? "" : Trim(line.substr(sp + 1));
      if (rest.empty()) return absl::InvalidArgumentError("ONBUILD requires at least one argument");
      if (!cfg["OnBuild"].is_array()) cfg["OnBuild"] = json::array();
      cfg["OnBuild"].push_back(std::string(rest));
      continue;
    }
    RETURN_IF_ERROR(ApplyChange(line, &cfg));
    if (instr == "cmd") cmd_set = true;
    if (instr == "entrypoint" && !cmd_set) cfg["Cmd"] = nullptr;
  }

  auto parent = Get(req.parent);
  if (!parent.ok()) return Annotate(parent.status(), "commit: the container's image");
  json pcfg = json::parse(parent->config_raw, nullptr, false);
  if (!pcfg.is_object()) pcfg = json::object();
  std::vector<std::string> diff_ids = parent->diff_ids;
  bool empty = req.layer_tar.empty();
  if (!empty) {
    ASSIGN_OR_RETURN(std::string diff_id, AddLayer(req.layer_tar, ""));
    diff_ids.push_back(diff_id);
  }
  std::string now = FormatRfc3339Nano(clock_.Now());
  json history = {{"created", now}};
  if (!req.author.empty()) history["author"] = req.author;
  history["created_by"] = req.created_by;
  if (!req.comment.empty()) history["comment"] = req.comment;
  if (empty) history["empty_layer"] = true;
  json hist = pcfg.value("history", json::array());
  if (!hist.is_array()) hist = json::array();
  hist.push_back(history);
  json container_config = json::parse(spec::RenderContainerConfig(req.config).dump());
  json config = {{"architecture", pcfg.value("architecture", "amd64")}};
  if (!req.author.empty()) config["author"] = req.author;
  if (!req.comment.empty()) config["comment"] = req.comment;
  config["config"] = cfg;
  config["container"] = req.container_id;
  config["container_config"] = container_config;
  config["created"] = now;
  config["history"] = hist;
  config["os"] = pcfg.value("os", "linux");
  config["parent"] = parent->id;
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  std::string id;
  RETURN_IF_ERROR(Commit(config.dump(), diff_ids,
                         tag.empty() ? std::vector<std::string>{} : std::vector<std::string>{tag},
                         "", &id));
  return id;
}

StatusOr<std::string> ImageStore::ResolveLocked(std::string_view name) const {
  std::string n(name);
  if (n.empty()) return absl::InvalidArgumentError("image name is empty");
  if (n.find('@') != std::string::npos) {
    std::string d = NormalizeDigestRef(n);
    if (d.empty()) return absl::InvalidArgumentError("invalid reference format");
    auto it = digests_.find(d);
    if (it != digests_.end()) return it->second;
    return absl::NotFoundError("No such image: " + d);
  }
  std::string hex = Hex(n);
  if (IsHexPrefix(hex) && (absl::StartsWith(n, "sha256:") || hex.size() >= 1)) {
    if (hex.size() == 64 && images_.count("sha256:" + hex)) return "sha256:" + hex;
    // A short id prefix, as docker accepts; ambiguous prefixes are not a match.
    std::string found;
    int matches = 0;
    for (auto it = images_.lower_bound("sha256:" + hex);
         it != images_.end() && absl::StartsWith(it->first, "sha256:" + hex); ++it) {
      found = it->first;
      ++matches;
    }
    if (matches == 1 && (hex.size() >= 3 || absl::StartsWith(n, "sha256:"))) {
      // A tag of the same spelling wins over an id prefix, as in docker.
      std::string ref = NormalizeRef(n);
      if (!ref.empty() && tags_.count(ref)) return tags_.at(ref);
      return found;
    }
  }
  std::string ref = NormalizeRef(n);
  if (!ref.empty()) {
    auto it = tags_.find(ref);
    if (it != tags_.end()) return it->second;
  }
  return absl::NotFoundError("No such image: " + (ref.empty() ? n : ref));
}

StatusOr<Image> ImageStore::Get(std::string_view name) const {
  StateLock lock(mu_);
  ASSIGN_OR_RETURN(std::string id, ResolveLocked(name));
  return images_.at(id);
}

std::vector<Image> ImageStore::List() const {
  std::vector<Image> out;
  {
    StateLock lock(mu_);
    for (auto& [id, img] : images_) out.push_back(img);
  }
  std::sort(out.begin(), out.end(),
            [](const Image& a, const Image& b) { return a.loaded_at > b.loaded_at; });
  return out;
}

Status ImageStore::Tag(std::string_view source, std::string_view target) {
  std::string ref = NormalizeRef(target);
  if (ref.empty()) return absl::InvalidArgumentError("invalid reference format");
  ASSIGN_OR_RETURN(Image img, Get(source));
  std::string ignored;
  return Commit(img.config_raw, img.diff_ids, {ref}, "", &ignored);
}

Status ImageStore::ParseConfig(Image* img) {
  json config = json::parse(img->config_raw, nullptr, false);
  if (!config.is_object()) return absl::InvalidArgumentError("image config is not a JSON object");
  img->diff_ids.clear();
  if (config.contains("rootfs") && config["rootfs"].is_object() &&
      config["rootfs"].contains("diff_ids") && config["rootfs"]["diff_ids"].is_array())
    for (auto& d : config["rootfs"]["diff_ids"])
      if (d.is_string()) img->diff_ids.push_back(d.get<std::string>());
  if (config.contains("created") && config["created"].is_string()) img->created = config["created"];
  img->container_config = spec::ContainerConfig();
  if (config.contains("config") && config["config"].is_object()) {
    auto parsed = spec::ParseContainerConfig(config["config"].dump());
    if (!parsed.ok()) return Annotate(parsed.status(), "image config");
    img->container_config = std::move(*parsed);
  }
  return absl::OkStatus();
}

Status ImageStore::DeleteImage(const std::string& id, std::vector<DeleteItem>* report) {
  Image img;
  std::vector<std::string> drop_layers;
  std::vector<std::string> drop_blob_records;
  {
    StateLock lock(mu_);
    img = images_.at(id);
    std::set<std::string> still_used;
    for (auto& [oid, other] : images_)
      if (oid != id)
        for (auto& d : other.diff_ids) still_used.insert(d);
    for (auto& d : img.diff_ids)
      if (!still_used.count(d) && layer_sizes_.count(d) &&
          std::find(drop_layers.begin(), drop_layers.end(), d) == drop_layers.end()) {
        drop_layers.push_back(d);
        if (auto b = blobs_.find(d); b != blobs_.end())
          for (auto& rec : b->second) drop_blob_records.push_back(rec.repository + "@" + rec.digest);
      }
  }
  RETURN_IF_ERROR(store_.Batch([&]() -> Status {
    for (auto& t : img.tags) RETURN_IF_ERROR(store_.Delete("tag", t));
    RETURN_IF_ERROR(store_.Delete("image", id));
    for (auto& d : drop_layers) RETURN_IF_ERROR(store_.Delete("layer", d));
    for (auto& r : drop_blob_records) RETURN_IF_ERROR(store_.Delete("layer_blob", r));
    return absl::OkStatus();
  }));
  {
    StateLock lock(mu_);
    for (auto& t : img.tags) tags_.erase(t);
    for (auto& d : img.repo_digests) digests_.erase(d);
    images_.erase(id);
    ForgetLayersLocked(drop_layers);
  }
  for (auto& t : img.tags) report->push_back({t, ""});
  for (auto& d : img.repo_digests) report->push_back({d, ""});
  report->push_back({"", id});
  for (auto& d : drop_layers) {
    (void)sys::RemoveAll(LayerDir(d));
    report->push_back({"", d});
  }
  return absl::OkStatus();
}

void ImageStore::ForgetLayersLocked(const std::vector<std::string>& diff_ids) {
  for (auto& d : diff_ids) {
    layer_sizes_.erase(d);
    layer_blob_.erase(d);
    if (auto b = blobs_.find(d); b != blobs_.end()) {
      for (auto& rec : b->second) blob_diff_.erase(rec.digest);
      blobs_.erase(b);
    }
  }
}

Status ImageStore::DeleteOrphanLayers(std::vector<DeleteItem>* report) {
  std::vector<std::string> drop_layers, drop_blob_records;
  {
    StateLock lock(mu_);
    std::set<std::string> used;
    for (auto& [id, img] : images_)
      for (auto& d : img.diff_ids) used.insert(d);
    for (auto& [d, size] : layer_sizes_)
      if (!used.count(d)) {
        drop_layers.push_back(d);
        if (auto b = blobs_.find(d); b != blobs_.end())
          for (auto& rec : b->second) drop_blob_records.push_back(rec.repository + "@" + rec.digest);
      }
  }
  if (drop_layers.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(store_.Batch([&]() -> Status {
    for (auto& d : drop_layers) RETURN_IF_ERROR(store_.Delete("layer", d));
    for (auto& r : drop_blob_records) RETURN_IF_ERROR(store_.Delete("layer_blob", r));
    return absl::OkStatus();
  }));
  {
    StateLock lock(mu_);
    ForgetLayersLocked(drop_layers);
  }
  for (auto& d : drop_layers) {
    (void)sys::RemoveAll(LayerDir(d));
    report->push_back({"", d});
  }
  return absl::OkStatus();
}

Status ImageStore::DropRefs(const std::string& id, const std::vector<std::string>& refs) {
  Image img;
  {
    StateLock lock(mu_);
    img = images_.at(id);
  }
  auto drop = [&](std::vector<std::string>* v) {
    v->erase(std::remove_if(v->begin(), v->end(),
                            [&](const std::string& r) {
                              return std::find(refs.begin(), refs.end(), r) != refs.end();
                            }),
             v->end());
  };
  std::vector<std::string> digests = img.repo_digests;
  drop(&digests);
  bool digests_changed = digests.size() != img.repo_digests.size();
  RETURN_IF_ERROR(store_.Batch([&]() -> Status {
    for (auto& r : refs)
      if (r.find('@') == std::string::npos) RETURN_IF_ERROR(store_.Delete("tag", r));
    if (digests_changed)
      RETURN_IF_ERROR(store_.Put("image", id, "",
                                 json{{"config", img.config_raw},
                                      {"loaded_at", img.loaded_at},
                                      {"repo_digests", digests}}
                                     .dump()));
    return absl::OkStatus();
  }));
  StateLock lock(mu_);
  Image& stored = images_.at(id);
  drop(&stored.tags);
  drop(&stored.repo_digests);
  for (auto& r : refs) {
    tags_.erase(r);
    digests_.erase(r);
  }
  return absl::OkStatus();
}

namespace {

// The repository of a familiar "repo:tag" or "repo@sha256:..." reference.
std::string RepoOf(const std::string& ref) {
  auto at = ref.find('@');
  if (at != std::string::npos) return ref.substr(0, at);
  auto colon = ref.find_last_of(':');
  auto slash = ref.find_last_of('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
    return ref.substr(0, colon);
  return ref;
}

// moby's isSingleReference: every reference names one repository, with at most one tag.
bool SingleReference(const std::vector<std::string>& refs) {
  std::set<std::string> repos;
  int tags = 0;
  for (auto& r : refs) {
    repos.insert(RepoOf(r));
    if (r.find('@') == std::string::npos) ++tags;
  }
  return repos.size() <= 1 && tags <= 1;
}

}  // namespace

StatusOr<std::vector<ImageStore::DeleteItem>> ImageStore::Remove(std::string_view name, bool force) {
  absl::MutexLock op(&op_mu_);
  std::string id, ref;
  Image img;
  {
    StateLock lock(mu_);
    ASSIGN_OR_RETURN(id, ResolveLocked(name));
    img = images_.at(id);
    std::string n(name);
    if (n.find('@') != std::string::npos) {
      ref = NormalizeDigestRef(n);
    } else {
      std::string t = NormalizeRef(n);
      if (!t.empty() && tags_.count(t) && tags_.at(t) == id &&
          !absl::StartsWith(id, "sha256:" + Hex(n)))
        ref = t;
    }
  }
  std::vector<std::string> refs = img.tags;
  refs.insert(refs.end(), img.repo_digests.begin(), img.repo_digests.end());
  std::vector<DeleteItem> report;
  // Outside the state lock: the lookup asks the container manager.
  std::optional<std::string> user = user_lookup_ ? user_lookup_(id) : std::nullopt;
  if (!ref.empty()) {
    // By reference, as moby's ImageDelete: untag it; a tag that was its repository's last takes
    // the repository's digest references with it; other references left: that was all.
    std::vector<std::string> untag = {ref};
    if (ref.find('@') == std::string::npos) {
      bool other_tag = false;
      for (auto& t : img.tags)
        if (t != ref && RepoOf(t) == RepoOf(ref)) other_tag = true;
      if (!other_tag)
        for (auto& d : img.repo_digests)
          if (RepoOf(d) == RepoOf(ref)) untag.push_back(d);
    }
    if (untag.size() < refs.size()) {
      RETURN_IF_ERROR(DropRefs(id, untag));
      for (auto& u : untag) report.push_back({u, ""});
      return report;
    }
  }
  if (ref.empty() && !SingleReference(refs) && !force)
    return absl::FailedPreconditionError(absl::StrCat(
        "conflict: unable to delete ", Hex(id).substr(0, 12),
        " (must be forced) - image is referenced in multiple repositories"));
  if (user && !force) {
    if (!ref.empty())
      return absl::FailedPreconditionError(absl::StrCat(
          "conflict: unable to remove repository reference \"", std::string(name),
          "\" (must force) - container ", user->substr(0, 12), " is using its referenced image ",
          Hex(id).substr(0, 12)));
    return absl::FailedPreconditionError(absl::StrCat("conflict: unable to delete ",
                                                      Hex(id).substr(0, 12),
                                                      " (must be forced) - image is being used by "
                                                      "stopped container ",
                                                      user->substr(0, 12)));
  }
  if (user) {
    // Forced while a container uses it: untag only, the image stays for the container.
    RETURN_IF_ERROR(DropRefs(id, refs));
    for (auto& r : refs) report.push_back({r, ""});
    return report;
  }
  RETURN_IF_ERROR(DeleteImage(id, &report));
  return report;
}

StatusOr<ImageStore::PruneReport> ImageStore::Prune(bool all,
                                                    const std::function<bool(const Image&)>& select) {
  absl::MutexLock op(&op_mu_);
  PruneReport out;
  std::vector<Image> candidates;
  {
    StateLock lock(mu_);
    for (auto& [id, img] : images_)
      if (all || img.tags.empty()) candidates.push_back(img);
  }
  std::vector<std::string> victims;
  for (auto& img : candidates) {
    if (select && !select(img)) continue;
    if (user_lookup_ && user_lookup_(img.id)) continue;
    victims.push_back(img.id);
  }
  auto total = [this] {
    StateLock lock(mu_);
    int64_t n = 0;
    for (auto& [d, s] : layer_sizes_) n += s;
    return n;
  };
  for (auto& id : victims) {
    int64_t before = total();
    RETURN_IF_ERROR(DeleteImage(id, &out.deleted));
    out.reclaimed += before - total();
  }
  if (pulls_.load() == 0) {
    // Layers no image uses: what failed pulls completed. No pull is waiting for them now.
    int64_t before = total();
    RETURN_IF_ERROR(DeleteOrphanLayers(&out.deleted));
    out.reclaimed += before - total();
  }
  return out;
}

std::vector<std::string> ImageStore::LowerDirs(const Image& image) const {
  std::vector<std::string> out;
  for (auto it = image.diff_ids.rbegin(); it != image.diff_ids.rend(); ++it)
    out.push_back(LayerDir(*it) + "/diff");
  return out;
}

Status ImageStore::Save(const std::vector<std::string>& names, int fd) {
  tar::Writer w(fd);
  json manifest = json::array();
  json repositories = json::object();
  std::set<std::string> written;
  for (auto& n : names) {
    ASSIGN_OR_RETURN(Image img, Get(n));
    std::string ref = NormalizeRef(n);
    std::vector<std::string> tags;
    if (!ref.empty() && std::find(img.tags.begin(), img.tags.end(), ref) != img.tags.end())
      tags.push_back(ref);
    else
      tags = img.tags;
    std::string cfg_name = Hex(img.id) + ".json";
    if (written.insert(cfg_name).second) RETURN_IF_ERROR(w.AddFile(cfg_name, img.config_raw));
    json layers = json::array();
    for (auto& d : img.diff_ids) {
      std::string ln = Hex(d) + "/layer.tar";
      if (written.insert(ln).second) {
        RETURN_IF_ERROR(w.AddDir(Hex(d)));
        RETURN_IF_ERROR(w.AddFile(Hex(d) + "/VERSION", "1.0"));
        if (sys::Exists(LayerDir(d) + "/layer.tar")) {
          RETURN_IF_ERROR(w.AddFileFromPath(ln, LayerDir(d) + "/layer.tar"));
        } else {
          // A pulled layer keeps its compressed blob only: save sends it uncompressed.
          std::string tmp = root_ + "/tmp/save-layer-" + NewId().substr(0, 16);
          Status st = CopyUncompressedBlob(LayerDir(d) + "/blob", tmp);
          if (st.ok()) st = w.AddFileFromPath(ln, tmp);
          ::unlink(tmp.c_str());
          RETURN_IF_ERROR(st);
        }
      }
      layers.push_back(ln);
    }
    manifest.push_back({{"Config", cfg_name}, {"RepoTags", tags}, {"Layers", layers}});
    for (auto& t : tags) {
      auto c = t.find_last_of(':');
      repositories[t.substr(0, c)][t.substr(c + 1)] = Hex(img.id);
    }
  }
  RETURN_IF_ERROR(w.AddFile("manifest.json", manifest.dump()));
  RETURN_IF_ERROR(w.AddFile("repositories", repositories.dump()));
  return w.Finish();
}

}  // namespace berth::engine
