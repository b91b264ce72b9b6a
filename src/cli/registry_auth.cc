#include "cli/registry_auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "cli/cli.h"
#include "nlohmann/json.hpp"

namespace berth::cli {

using nlohmann::json;

namespace {

// distribution/reference's grammar.
const std::regex& ReferenceRegex() {
  static const std::regex re(
      R"(^((?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?)"
      R"([a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*))"
      R"((?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$)");
  return re;
}

}  // namespace

StatusOr<ImageRef> ParseImageRef(std::string_view s) {
  std::string in(s);
  std::smatch m;
  if (in.empty() || !std::regex_match(in, m, ReferenceRegex())) {
    std::smatch lm;
    std::string lower = absl::AsciiStrToLower(in);
    if (!in.empty() && std::regex_match(lower, lm, ReferenceRegex()))
      return absl::InvalidArgumentError("invalid reference format: repository name must be lowercase");
    return absl::InvalidArgumentError("invalid reference format");
  }
  std::string name = m[1].str();
  if (name.size() > 255) return absl::InvalidArgumentError("repository name must not be more than 255 characters");
  ImageRef r;
  r.tag = m[2].str();
  r.digest = m[3].str();
  size_t slash = name.find('/');
  std::string first = slash == std::string::npos ? "" : name.substr(0, slash);
  if (!first.empty() && (first.find_first_of(".:") != std::string::npos || first == "localhost") &&
      absl::AsciiStrToLower(first) == first) {
    r.domain = first;
    r.path = name.substr(slash + 1);
  } else if (!first.empty() && first.find_first_of(".:") != std::string::npos) {
    r.domain = first;  // a domain may have upper case letters
    r.path = name.substr(slash + 1);
  } else {
    r.domain = "docker.io";
    r.path = name;
  }
  if (r.domain == "index.docker.io") r.domain = "docker.io";
  if (r.domain == "docker.io" && r.path.find('/') == std::string::npos) r.path = "library/" + r.path;
  return r;
}

std::string ImageRef::FamiliarName() const {
  if (domain != "docker.io") return domain + "/" + path;
  if (absl::StartsWith(path, "library/") && path.find('/', 8) == std::string::npos) return path.substr(8);
  return path;
}

std::string ImageRef::String() const {
  std::string s = domain + "/" + path;
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string AuthConfigKey(std::string_view domain) {
  if (domain == "docker.io" || domain == "index.docker.io") return std::string(kIndexServer);
  return std::string(domain);
}

std::string ConvertToHostname(std::string_view url) {
  std::string_view s = url;
  if (s.substr(0, 7) == "http://") s.remove_prefix(7);
  else if (s.substr(0, 8) == "https://") s.remove_prefix(8);
  return std::string(s.substr(0, s.find('/')));
}

std::string DockerConfigDir() {
  if (const char* d = std::getenv("DOCKER_CONFIG"); d != nullptr && *d != '\0') return d;
  if (const char* home = std::getenv("HOME"); home != nullptr) return std::string(home) + "/.docker";
  return "/root/.docker";
}

namespace {

// The config file as JSON: missing is an empty object; unreadable JSON is the docker CLI's
// error.
StatusOr<json> ReadConfig(const std::string& dir) {
  std::string path = dir + "/config.json";
  std::ifstream in(path);
  if (!in) return json::object();
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  json j = json::parse(ss.str(), nullptr, false);
  if (!j.is_object())
    return absl::InvalidArgumentError("loading config file: " + path + ": invalid JSON");
  return j;
}

Status WriteConfig(const std::string& dir, const json& j) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir " + dir);
  std::string path = dir + "/config.json";
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "open " + tmp);
  std::string data = j.dump(1, '\t');
  bool ok = WriteAll(fd, data);
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(e, "write " + path);
  }
  return absl::OkStatus();
}

AuthEntry EntryOf(const json& e, const std::string& key) {
  AuthEntry a;
  a.server_address = key;
  if (!e.is_object()) return a;
  if (e.contains("auth") && e["auth"].is_string()) {
    std::string raw;
    if (absl::Base64Unescape(e["auth"].get<std::string>(), &raw)) {
      size_t colon = raw.find(':');
      a.username = raw.substr(0, colon);
      if (colon != std::string::npos) a.password = raw.substr(colon + 1);
    }
  }
  if (e.contains("identitytoken") && e["identitytoken"].is_string())
    a.identity_token = e["identitytoken"].get<std::string>();
  return a;
}

}  // namespace

StatusOr<AuthEntry> LoadAuth(const std::string& dir, const std::string& key) {
  ASSIGN_OR_RETURN(json j, ReadConfig(dir));
  AuthEntry none;
  if (!j.contains("auths") || !j["auths"].is_object()) return none;
  const json& auths = j["auths"];
  if (auths.contains(key)) return EntryOf(auths[key], key);
  // Older files keyed a registry by URL ("http://host:5000/v1/").
  for (auto& [k, v] : auths.items())
    if (ConvertToHostname(k) == key) return EntryOf(v, key);
  return none;
}

std::string CredentialHelper(const std::string& dir, const std::string& key) {
  auto j = ReadConfig(dir);
  if (!j.ok()) return "";
  if (j->contains("credHelpers") && (*j)["credHelpers"].is_object() && (*j)["credHelpers"].contains(key) &&
      (*j)["credHelpers"][key].is_string())
    return (*j)["credHelpers"][key].get<std::string>();
  if (j->contains("credsStore") && (*j)["credsStore"].is_string()) return (*j)["credsStore"].get<std::string>();
  return "";
}

bool HasAuth(const std::string& dir, const std::string& key) {
  auto j = ReadConfig(dir);
  return j.ok() && j->contains("auths") && (*j)["auths"].is_object() && (*j)["auths"].contains(key);
}

Status StoreAuth(const std::string& dir, const std::string& key, const AuthEntry& auth) {
  ASSIGN_OR_RETURN(json j, ReadConfig(dir));
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
  json entry = json::object();
  if (!auth.username.empty() || !auth.password.empty())
    entry["auth"] = absl::Base64Escape(auth.username + ":" + auth.password);
  if (!auth.identity_token.empty()) entry["identitytoken"] = auth.identity_token;
  j["auths"][key] = entry;
  return WriteConfig(dir, j);
}

StatusOr<bool> RemoveAuth(const std::string& dir, const std::vector<std::string>& keys) {
  ASSIGN_OR_RETURN(json j, ReadConfig(dir));
  if (!j.contains("auths") || !j["auths"].is_object()) return false;
  bool any = false;
  for (const auto& k : keys) any |= j["auths"].erase(k) > 0;
  if (!any) return false;
  RETURN_IF_ERROR(WriteConfig(dir, j));
  return true;
}

std::string EncodeRegistryAuth(const AuthEntry& a) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!a.username.empty()) j["username"] = a.username;
  if (!a.password.empty()) j["password"] = a.password;
  if (!a.server_address.empty()) j["serveraddress"] = a.server_address;
  if (!a.identity_token.empty()) j["identitytoken"] = a.identity_token;
  // Go's base64.URLEncoding: the URL-safe alphabet, padded.
  std::string out;
  absl::WebSafeBase64Escape(j.dump(), &out);
  while (out.size() % 4 != 0) out += '=';
  return out;
}

std::string RegistryAuthForImage(const std::string& image) {
  auto ref = ParseImageRef(image);
  std::string key = AuthConfigKey(ref.ok() ? ref->domain : "docker.io");
  auto a = LoadAuth(DockerConfigDir(), key);
  AuthEntry entry = a.ok() ? *a : AuthEntry{};
  if (entry.username.empty() && entry.identity_token.empty()) entry = AuthEntry{};
  return EncodeRegistryAuth(entry);
}

}  // namespace berth::cli
