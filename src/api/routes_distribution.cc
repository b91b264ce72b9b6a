// The registry routes: pull (POST /images/create?fromImage=), push, POST /auth and
// GET /distribution/{name}/json, and GET /info's RegistryConfig. The pull and push progress is
// written as moby's streamformatter writes it (jsonmessage.JSONMessage in Go field order).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "api/client/jsonmessage.h"
#include "api/render.h"
#include "api/routes.h"
#include "engine/distribution/distribution.h"
#include "registry/manifest.h"
#include "registry/reference.h"

namespace berth::api {

using nlohmann::json;

namespace {

Status NotConfigured() {
  return absl::UnimplementedError("registries are not configured in this daemon");
}

// streamformatter's JSON for one progress message. Go's encoder escapes <, > and & in strings;
// nlohmann does not, so they are escaped after dumping (they never occur inside JSON syntax).
std::string GoJsonDump(const OrderedJson& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    if (ch == '<') out += "\\u003c";
    else if (ch == '>') out += "\\u003e";
    else if (ch == '&') out += "\\u0026";
    else out += ch;
  }
  return out;
}

}  // namespace

// One line of the stream: {"status","progressDetail","progress","id"} (progress as
// JSONProgress.String() for dockerd's width of 200), {"errorDetail","error"}, or the push aux.
std::string EncodeProgressMessage(const engine::PullProgress& p) {
  OrderedJson j = OrderedJson::object();
  if (!p.error.empty()) {
    j["errorDetail"] = {{"message", p.error}};
    j["error"] = p.error;
    return GoJsonDump(j) + "\r\n";
  }
  if (!p.status.empty()) j["status"] = p.status;
  if (p.has_detail || p.has_aux) {
    OrderedJson detail = OrderedJson::object();
    client::JsonProgress jp;
    if (p.current > 0) detail["current"] = p.current, jp.current = p.current;
    if (p.total > 0) detail["total"] = p.total, jp.total = p.total;
    j["progressDetail"] = detail;
    std::string bar = client::ProgressString(jp, 200, 0);
    if (!bar.empty()) j["progress"] = bar;
  }
  if (!p.id.empty()) j["id"] = p.id;
  if (p.has_aux)
    j["aux"] = {{"Tag", p.aux_tag}, {"Digest", p.aux_digest}, {"Size", p.aux_size}};
  return GoJsonDump(j) + "\r\n";
}

// docker's AuthConfig JSON (the /auth body, push's legacy body): Go's decoder matches keys
// without regard to case.
StatusOr<registry::AuthConfig> ParseAuthConfigJson(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return absl::InvalidArgumentError("invalid JSON: got EOF while reading request body");
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("invalid JSON: malformed request body");
  registry::AuthConfig a;
  if (j.is_null()) return a;
  if (!j.is_object())
    return absl::InvalidArgumentError("invalid JSON: cannot unmarshal " + std::string(j.type_name()) +
                                      " into Go value of type types.AuthConfig");
  for (auto& [k, v] : j.items()) {
    std::string key = absl::AsciiStrToLower(k);
    std::string* out = key == "username"        ? &a.username
                       : key == "password"      ? &a.password
                       : key == "auth"          ? &a.auth
                       : key == "serveraddress" ? &a.server_address
                       : key == "identitytoken" ? &a.identity_token
                       : key == "registrytoken" ? &a.registry_token
                                                : nullptr;
    if (out == nullptr || v.is_null()) continue;
    if (!v.is_string())
      return absl::InvalidArgumentError("invalid JSON: cannot unmarshal " + std::string(v.type_name()) +
                                        " into Go struct field AuthConfig." + k + " of type string");
    *out = v.get<std::string>();
  }
  return a;
}

namespace {

// X-Registry-Auth as dockerd reads it for pull, push and /distribution: a header that does not
// decode is no credentials ("to increase compatibility with the existing api").
registry::AuthConfig HeaderAuth(const Request& req) {
  auto it = req.headers.find("x-registry-auth");
  if (it == req.headers.end() || it->second.empty()) return {};
  auto a = registry::DecodeRegistryAuth(it->second);
  return a.ok() ? *a : registry::AuthConfig{};
}

bool ValidTag(const std::string& t) {
  static const std::regex kTag("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  return std::regex_match(t, kTag);
}

// The chunked JSON stream of a pull or push, begun at its first message: an error before it
// is an HTTP error with Docker's status, one after it is the stream's last line.
class ProgressStream {
 public:
  explicit ProgressStream(Conn& c) : c_(c) {}
  void Write(const engine::PullProgress& p) {
    if (c_.ClientGone()) cancel_.store(true);
    if (cancel_.load()) return;
    if (!started_) {
      started_ = true;
      if (!c_.BeginStream(200, "application/json")) {
        cancel_.store(true);
        return;
      }
    }
    if (!c_.WriteChunk(EncodeProgressMessage(p))) cancel_.store(true);
  }
  // Ends the response: OK ends the stream; an error is the HTTP answer when nothing was sent.
  void Finish(const Status& st) {
    if (!started_) {
      if (st.ok()) {
        c_.BeginStream(200, "application/json");
        c_.EndStream();
      } else {
        c_.SendError(st);
      }
      return;
    }
    if (!st.ok() && !cancel_.load()) {
      engine::PullProgress e;
      e.error = std::string(st.message());
      c_.WriteChunk(EncodeProgressMessage(e));
    }
    c_.EndStream();
  }
  const std::atomic<bool>* cancel() const { return &cancel_; }

 private:
  Conn& c_;
  bool started_ = false;
  std::atomic<bool> cancel_{false};
};

std::map<std::string, std::string> ImageEventAttributes(Backend& b, const std::string& ref,
                                                        const std::string& name) {
  std::map<std::string, std::string> attrs;
  if (auto img = b.images.Get(ref); img.ok() && img->container_config.labels)
    for (auto& [k, v] : *img->container_config.labels) attrs[k] = v;
  attrs["name"] = name;
  return attrs;
}

OrderedJson RenderPlatform(const registry::Platform& p) {
  OrderedJson j = {{"architecture", p.architecture}, {"os", p.os}};
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  if (!p.os_features.empty()) j["os.features"] = p.os_features;
  if (!p.variant.empty()) j["variant"] = p.variant;
  return j;
}

}  // namespace

void PullImage(Backend& b, Request& req, Conn& c) {
  // "pull -a" of old clients may send a name with a trailing ':'.
  std::string image = req.Query("fromImage");
  if (absl::EndsWith(image, ":")) image.pop_back();
  std::string tag = req.Query("tag");
  auto parsed = registry::ParseNormalized(image);
  if (!parsed.ok()) {
    c.SendError(absl::InvalidArgumentError(parsed.status().message()));
    return;
  }
  registry::Reference ref = *parsed;
  bool all_tags = false;
  if (!tag.empty()) {
    // The tag may be a digest: fromImage@digest, without fromImage's tag.
    if (registry::ValidDigest(tag)) {
      ref.tag.clear();
      ref.digest = tag;
    } else if (ValidTag(tag)) {
      ref.tag = tag;
    } else {
      c.SendError(absl::InvalidArgumentError("invalid tag format"));
      return;
    }
  } else if (ref.tag.empty() && ref.digest.empty()) {
    all_tags = true;  // what `docker pull -a` sends: no tag at all
  }
  engine::PullOptions opts;
  if (std::string platform = absl::AsciiStrToLower(req.Query("platform")); !platform.empty()) {
    auto p = registry::ParsePlatform(platform);
    if (!p.ok()) {
      c.SendError(absl::InvalidArgumentError(p.status().message()));
      return;
    }
    opts.platform = platform;
  }
  if (b.distribution == nullptr) {
    c.SendError(NotConfigured());
    return;
  }
  opts.auth = HeaderAuth(req);
  opts.all_tags = all_tags;
  ProgressStream stream(c);
  opts.cancel = stream.cancel();
  auto id = b.distribution->Pull(ref, opts, [&](const engine::PullProgress& p) { stream.Write(p); });
  if (id.ok()) {
    std::string name = ref.FamiliarName();
    b.events.Publish("image", "pull", ref.FamiliarString(),
                     ImageEventAttributes(b, ref.FamiliarString(), name));
  }
  stream.Finish(id.status());
}

Status CheckRunnablePlatform(const engine::Image& img, const std::string& ref,
                             const std::string& platform) {
  json config = json::parse(img.config_raw, nullptr, false);
  registry::Platform have;
  have.os = "linux";
  have.architecture = "amd64";
  if (config.is_object()) {
    if (config.contains("os") && config["os"].is_string()) have.os = config["os"].get<std::string>();
    if (config.contains("architecture") && config["architecture"].is_string())
      have.architecture = config["architecture"].get<std::string>();
    if (config.contains("variant") && config["variant"].is_string())
      have.variant = config["variant"].get<std::string>();
  }
  if (have.os.empty()) have.os = "linux";
  if (have.architecture.empty()) have.architecture = "amd64";
  if (!platform.empty()) {
    // dockerd: an image of another platform than ?platform= is not found (the CLI then pulls).
    auto want = registry::ParsePlatform(platform);
    if (!want.ok()) return absl::InvalidArgumentError(want.status().message());
    if (!registry::PlatformMatches(have, *want))
      return absl::NotFoundError("image with reference " + ref +
                                 " was found but does not match the specified platform: wanted " +
                                 want->String() + ", actual: " + have.String());
  }
  if (have.os == "linux" && have.architecture == "amd64") return absl::OkStatus();
  return absl::InvalidArgumentError(
      "image with reference " + ref + " was found but its platform (" + have.String() +
      ") does not match the host platform (linux/amd64): Berth runs linux/amd64 images only");
}

OrderedJson RenderRegistryConfig(const registry::RegistryOptions& opts) {
  // dockerd's LoadInsecureRegistries: CIDRs in the order given, then 127.0.0.0/8 (always
  // insecure); a host[:port] becomes an index config of its own, not secure.
  OrderedJson cidrs = OrderedJson::array();
  std::map<std::string, OrderedJson> indexes;
  static const std::regex kCidr(R"(^[0-9a-fA-F.:]+/[0-9]+$)");
  std::vector<std::string> all = opts.insecure_registries;
  all.push_back("127.0.0.0/8");
  for (std::string r : all) {
    if (absl::StartsWith(absl::AsciiStrToLower(r), "http://")) r = r.substr(7);
    else if (absl::StartsWith(absl::AsciiStrToLower(r), "https://")) r = r.substr(8);
    if (std::regex_match(r, kCidr)) {
      if (std::find(cidrs.begin(), cidrs.end(), OrderedJson(r)) == cidrs.end()) cidrs.push_back(r);
    } else {
      indexes[r] = {{"Name", r}, {"Mirrors", OrderedJson::array()}, {"Secure", false}, {"Official", false}};
    }
  }
  OrderedJson mirrors = OrderedJson::array();
  for (const auto& m : opts.mirrors) mirrors.push_back(m);
  indexes["docker.io"] = {{"Name", "docker.io"}, {"Mirrors", mirrors}, {"Secure", true}, {"Official", true}};
  OrderedJson index_configs = OrderedJson::object();
  for (auto& [k, v] : indexes) index_configs[k] = v;  // Go sorts map keys
  return {{"AllowNondistributableArtifactsCIDRs", OrderedJson::array()},
          {"AllowNondistributableArtifactsHostnames", OrderedJson::array()},
          {"InsecureRegistryCIDRs", cidrs},
          {"IndexConfigs", index_configs},
          {"Mirrors", mirrors}};
}

void AddDistributionRoutes(Router& r, Backend& b) {
  r.Add("POST", "/images/{name*}/push", [&b](Request& req, Conn& c) {
    registry::AuthConfig auth;
    auto it = req.headers.find("x-registry-auth");
    if (it != req.headers.end() && !it->second.empty()) {
      auth = HeaderAuth(req);
    } else {
      // The old form: the AuthConfig as the body.
      auto body = ParseAuthConfigJson(req.body);
      if (!body.ok()) {
        std::string detail(body.status().message());
        if (absl::StartsWith(detail, "invalid JSON: ")) detail = detail.substr(14);
        if (absl::StartsWith(detail, "got EOF")) detail = "EOF";
        c.SendError(absl::InvalidArgumentError("Bad parameters and missing X-Registry-Auth: " + detail));
        return;
      }
      auth = *body;
    }
    auto parsed = registry::ParseNormalized(req.params["name"]);
    if (!parsed.ok()) {
      c.SendError(absl::InvalidArgumentError(parsed.status().message()));
      return;
    }
    registry::Reference ref = *parsed;
    if (std::string tag = req.Query("tag"); !tag.empty()) {
      if (!ValidTag(tag)) {
        c.SendError(absl::InvalidArgumentError("invalid tag format"));
        return;
      }
      ref.tag = tag;
    }
    if (b.distribution == nullptr) {
      c.SendError(NotConfigured());
      return;
    }
    ProgressStream stream(c);
    Status st = b.distribution->Push(ref, auth, [&](const engine::PullProgress& p) { stream.Write(p); });
    if (st.ok())
      b.events.Publish("image", "push", ref.FamiliarString(),
                       ImageEventAttributes(b, ref.FamiliarString(), ref.FamiliarName()));
    stream.Finish(st);
  });

  r.Add("POST", "/auth", [&b](Request& req, Conn& c) {
    auto auth = ParseAuthConfigJson(req.body);
    if (!auth.ok()) {
      c.SendError(auth.status());
      return;
    }
    if (b.registries == nullptr) {
      c.SendError(NotConfigured());
      return;
    }
    auto token = b.registries->Login(*auth);
    if (!token.ok()) {
      c.SendError(token.status());
      return;
    }
    SendOrdered(c, 200, {{"IdentityToken", *token}, {"Status", "Login Succeeded"}});
  });

  r.Add("GET", "/distribution/{name*}/json", [&b](Request& req, Conn& c) {
    const std::string& name = req.params["name"];
    static const std::regex kHexId("^(sha256:)?[a-f0-9]{64}$");
    if (std::regex_match(name, kHexId)) {
      c.SendError(absl::InternalError("no manifest found for full image ID"));
      return;
    }
    auto parsed = registry::ParseNormalized(name);
    if (!parsed.ok()) {
      c.SendError(absl::InvalidArgumentError(parsed.status().message()));
      return;
    }
    if (b.distribution == nullptr) {
      c.SendError(NotConfigured());
      return;
    }
    registry::Reference ref = parsed->digest.empty() ? registry::WithDefaultTag(*parsed) : *parsed;
    auto info = b.distribution->Inspect(ref, HeaderAuth(req));
    if (!info.ok()) {
      c.SendError(info.status());
      return;
    }
    OrderedJson platforms = info->platforms.empty() ? OrderedJson(nullptr) : OrderedJson::array();
    for (const auto& p : info->platforms) platforms.push_back(RenderPlatform(p));
    SendOrdered(c, 200,
                {{"Descriptor",
                  {{"mediaType", info->descriptor.media_type},
                   {"digest", info->descriptor.digest},
                   {"size", info->descriptor.size}}},
                 {"Platforms", platforms}});
  });

  // docker search asks Docker Hub's v1 search API, which Berth does not speak.
  r.Add("GET", "/images/search", [](Request&, Conn& c) {
    c.SendError(absl::UnimplementedError(
        "docker search is not supported by Berth: it does not implement registries' search API "
        "(see docs/differences.md)"));
  });
}

}  // namespace berth::api
