// Registry commands: pull, push, login, logout; and the progress display they share with
// run/create's implicit pull (docker's jsonmessage.DisplayJSONMessagesToStream).

#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "api/client/jsonmessage.h"
#include "cli/cli.h"
#include "cli/registry_auth.h"
#include "cli/stream.h"

namespace berth::cli {

using client::QueryEscape;
using nlohmann::json;

Status StreamJsonMessages(Cli& cli, std::string_view method, const std::string& path,
                          const std::string& registry_auth, std::ostream* out, int out_fd,
                          std::string_view body) {
  ASSIGN_OR_RETURN(const client::Client* api, cli.Api());
  bool terminal = out != nullptr && IsTerminal(out_fd);
  int rows = 0, cols = 0;
  int width = terminal && TerminalSize(out_fd, &rows, &cols) && cols > 0 ? cols : 200;
  client::JsonMessageDisplay display(
      [&](std::string_view s) {
        if (out != nullptr) {
          out->write(s.data(), static_cast<std::streamsize>(s.size()));
          out->flush();
        }
      },
      terminal, width);
  JsonLines lines;
  Status stream_error;
  auto handle = [&](const json& j) {
    if (!stream_error.ok()) return;
    stream_error = display.Display(j);
  };
  client::RequestOptions opts;
  opts.headers["X-Registry-Auth"] = registry_auth;
  auto r = api->Stream(method, path, body,
                       [&](std::string_view d) {
                         lines.Feed(d, handle);
                         return stream_error.ok();
                       },
                       opts);
  if (!r.ok()) return r.status();
  lines.Finish(handle);
  return stream_error;
}

std::string PullPath(const std::string& familiar_name, const std::string& tag_or_digest,
                     const std::string& platform) {
  std::string q = "/images/create?fromImage=" + QueryEscape(familiar_name);
  if (!platform.empty()) q += "&platform=" + QueryEscape(absl::AsciiStrToLower(platform));
  if (!tag_or_digest.empty()) q += "&tag=" + QueryEscape(tag_or_digest);
  return q;
}

namespace {

// Docker Content Trust signs and verifies through a Notary server; berth has no Notary client.
bool ContentTrustRequested(bool disable_flag) {
  const char* env = std::getenv("DOCKER_CONTENT_TRUST");
  bool env_on = env != nullptr && *env != '\0' && std::string(env) != "0" && std::string(env) != "false";
  return !disable_flag || env_on;
}
constexpr std::string_view kNoContentTrust =
    "content trust is not supported by berth (DOCKER_CONTENT_TRUST, --disable-content-trust=false): "
    "it has no Notary client";

// Docker errors of the CLI itself (not the daemon's): the message alone, exit 1.
int Fail(Cli& cli, std::string_view msg) {
  cli.err() << msg << "\n";
  return 1;
}

std::string DefaultPlatform(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("DOCKER_DEFAULT_PLATFORM");
  return env != nullptr ? env : "";
}

// Reads a line from the terminal, without echo when asked (docker login's prompts).
std::string Prompt(Cli& cli, const std::string& label, bool echo) {
  cli.out() << label;
  cli.out().flush();
  termios saved{};
  bool restore = false;
  if (!echo && ::tcgetattr(0, &saved) == 0) {
    termios t = saved;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore = ::tcsetattr(0, TCSANOW, &t) == 0;
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) {
    ::tcsetattr(0, TCSANOW, &saved);
    cli.out() << "\n";
  }
  return std::string(absl::StripTrailingAsciiWhitespace(line));
}

}  // namespace

int CmdPull(Cli& cli, const Invocation& inv) {
  bool all = false, quiet = false, no_trust = true;
  std::string platform;
  FlagSet f;
  f.Bool("all-tags", 'a', &all);
  f.Bool("quiet", 'q', &quiet);
  f.String("platform", 0, &platform);
  f.Bool("disable-content-trust", 0, &no_trust);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  if (ContentTrustRequested(no_trust)) return Fail(cli, kNoContentTrust);
  auto ref = ParseImageRef(pos[0]);
  if (!ref.ok()) return PrintError(cli, ref.status());
  bool name_only = ref->tag.empty() && ref->digest.empty();
  if (all && !name_only) return Fail(cli, "tag can't be used with --all-tags/-a");
  if (!all && name_only) {
    ref->tag = "latest";
    if (!quiet) cli.out() << "Using default tag: latest\n";
  }
  std::string tag = all ? "" : (!ref->digest.empty() ? ref->digest : ref->tag);
  Status st = StreamJsonMessages(cli, "POST", PullPath(ref->FamiliarName(), tag, DefaultPlatform(platform)),
                                 RegistryAuthForImage(pos[0]), quiet ? nullptr : &cli.out(), cli.out_fd());
  if (!st.ok()) return PrintError(cli, st);
  cli.out() << ref->String() << "\n";
  return 0;
}

int CmdPush(Cli& cli, const Invocation& inv) {
  bool all = false, quiet = false, no_trust = true;
  FlagSet f;
  f.Bool("all-tags", 'a', &all);
  f.Bool("quiet", 'q', &quiet);
  f.Bool("disable-content-trust", 0, &no_trust);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  if (ContentTrustRequested(no_trust)) return Fail(cli, kNoContentTrust);
  auto ref = ParseImageRef(pos[0]);
  if (!ref.ok()) return PrintError(cli, ref.status());
  if (!ref->digest.empty()) return Fail(cli, "cannot push a digest reference");
  if (all && !ref->tag.empty()) return Fail(cli, "tag can't be used with --all-tags/-a");
  if (!all && ref->tag.empty()) {
    ref->tag = "latest";
    if (!quiet) cli.out() << "Using default tag: latest\n";
  }
  std::string path = "/images/" + ref->FamiliarName() + "/push";
  if (!ref->tag.empty()) path += "?tag=" + QueryEscape(ref->tag);
  Status st = StreamJsonMessages(cli, "POST", path, RegistryAuthForImage(pos[0]),
                                 quiet ? nullptr : &cli.out(), cli.out_fd());
  if (!st.ok()) return PrintError(cli, st);
  if (quiet) cli.out() << ref->String() << "\n";
  return 0;
}

int CmdLogin(Cli& cli, const Invocation& inv) {
  std::string user, password;
  bool password_stdin = false;
  FlagSet f;
  f.String("username", 'u', &user);
  f.String("password", 'p', &password);
  f.Bool("password-stdin", 0, &password_stdin);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 1, &rc)) return rc;
  if (!password.empty()) {
    cli.err() << "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n";
    if (password_stdin) return Fail(cli, "--password and --password-stdin are mutually exclusive");
  }
  if (password_stdin) {
    if (user.empty()) return Fail(cli, "Must provide --username with --password-stdin");
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    password = std::string(absl::StripSuffix(absl::StripSuffix(all, "\n"), "\r"));
  }
  std::string server = pos.empty() ? "" : pos[0];
  if (server.empty() || server == "docker.io") server = std::string(kIndexServer);
  bool is_default = server == kIndexServer;
  std::string key = is_default ? server : ConvertToHostname(server);
  std::string dir = DockerConfigDir();
  if (std::string helper = CredentialHelper(dir, key); !helper.empty())
    return Fail(cli, "Error: " + dir + "/config.json names the credential helper docker-credential-" + helper +
                         ", which berth does not run: log in with the docker CLI, or remove the helper");
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());

  auto login = [&](const AuthEntry& a) -> StatusOr<json> {
    json body = json::object();
    if (!a.username.empty()) body["username"] = a.username;
    if (!a.password.empty()) body["password"] = a.password;
    body["serveraddress"] = key;
    if (!a.identity_token.empty()) body["identitytoken"] = a.identity_token;
    ASSIGN_OR_RETURN(client::Response r, (*api)->CallJson("POST", "/auth", body));
    return r.Json();
  };

  AuthEntry auth;
  StatusOr<json> resp = absl::UnknownError("");
  bool tried = false;
  if (user.empty() && password.empty()) {
    // Stored credentials are tried first, as docker does.
    auto stored = LoadAuth(dir, key);
    if (!stored.ok()) return PrintError(cli, stored.status());
    if (!stored->username.empty() && (!stored->password.empty() || !stored->identity_token.empty())) {
      cli.out() << "Authenticating with existing credentials...\n";
      auth = *stored;
      auth.server_address = key;
      resp = login(auth);
      tried = resp.ok();
      if (!resp.ok()) cli.err() << "Login did not succeed, error: " << resp.status().message() << "\n";
    }
  }
  if (!tried) {
    if (user.empty() || password.empty()) {
      if (!IsTerminal(0)) return Fail(cli, "Error: Cannot perform an interactive login from a non TTY device");
      if (user.empty()) user = Prompt(cli, "Username: ", true);
      if (user.empty()) return Fail(cli, "Error: Non-null Username Required");
      if (password.empty()) password = Prompt(cli, "Password: ", false);
      if (password.empty()) return Fail(cli, "Error: Password Required");
    }
    auth = AuthEntry{user, password, key, ""};
    resp = login(auth);
    if (!resp.ok()) return PrintError(cli, resp.status());
  }
  std::string token = resp->value("IdentityToken", "");
  if (!token.empty()) {
    auth.password.clear();
    auth.identity_token = token;
  }
  if (!auth.password.empty())
    cli.err() << "WARNING! Your password will be stored unencrypted in " << dir << "/config.json.\n"
              << "Configure a credential helper to remove this warning. See\n"
              << "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n";
  if (Status st = StoreAuth(dir, key, auth); !st.ok())
    return Fail(cli, "Error saving credentials: " + std::string(st.message()));
  if (std::string status = resp->value("Status", ""); !status.empty()) cli.out() << status << "\n";
  return 0;
}

int CmdLogout(Cli& cli, const Invocation& inv) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 1, &rc)) return rc;
  std::string server = pos.empty() ? std::string(kIndexServer) : pos[0];
  bool is_default = server == kIndexServer;
  std::string hostname = server;
  std::vector<std::string> keys = {server};
  if (!is_default) {
    hostname = ConvertToHostname(server);
    // Older configs keyed a registry by URL.
    keys.insert(keys.end(), {hostname, "http://" + hostname, "https://" + hostname});
  }
  std::string dir = DockerConfigDir();
  bool logged_in = false;
  for (const auto& k : keys) logged_in |= HasAuth(dir, k);
  if (!logged_in) {
    cli.out() << "Not logged in to " << hostname << "\n";
    return 0;
  }
  cli.out() << "Removing login credentials for " << hostname << "\n";
  auto removed = RemoveAuth(dir, keys);
  if (!removed.ok()) cli.err() << "WARNING: could not erase credentials: " << hostname << ": "
                               << removed.status().message() << "\n";
  return 0;
}

}  // namespace berth::cli
