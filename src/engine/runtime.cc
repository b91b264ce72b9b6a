#include "engine/runtime.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/sync.h"
#include "sys/fs.h"
#include "sys/mounts.h"
#include "sys/subprocess.h"

namespace berth::engine {

std::string Frame(uint8_t type, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(type);
  uint32_t n = static_cast<uint32_t>(payload.size());
  out[4] = static_cast<char>(n >> 24);
  out[5] = static_cast<char>(n >> 16);
  out[6] = static_cast<char>(n >> 8);
  out[7] = static_cast<char>(n);
  out.append(payload);
  return out;
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

StatusOr<std::string> ReadLine(int fd, size_t max) {
  std::string line;
  for (;;) {
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read");
    if (n == 0) return absl::UnavailableError("connection closed");
    if (c == '\n') return line;
    line.push_back(c);
    if (line.size() > max) return absl::InternalError("line too long");
  }
}

StatusOr<UniqueFd> ConnectUnix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return absl::InvalidArgumentError("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return ErrnoStatus(errno, "connect " + path);
  return fd;
}

StatusOr<pid_t> ShimClient::Start(const ShimStart& s) const {
  CheckNoStateLock("ShimClient::Start");
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  std::vector<std::string> argv = {paths_.shim,      "--id",          s.id,
                                   "--bundle",       s.bundle,        "--state-dir",
                                   s.state_dir,      "--runtime",     paths_.runc,
                                   "--runtime-root", paths_.runtime_root, "--ready-fd", "3"};
  if (s.log_path.empty()) {
    argv.push_back("--no-log");
  } else {
    argv.insert(argv.end(), {"--log-path", s.log_path});
    if (s.log.max_size > 0) {
      argv.insert(argv.end(), {"--log-max-size", std::to_string(s.log.max_size), "--log-max-file",
                               std::to_string(s.log.max_file)});
      if (s.log.compress) argv.push_back("--log-compress");
    }
  }
  if (s.tty) argv.push_back("--tty");
  if (s.open_stdin) argv.push_back("--stdin");
  if (s.stdin_once) argv.push_back("--stdin-once");
  if (s.tty && s.rows > 0 && s.cols > 0) {
    argv.insert(argv.end(), {"--rows", std::to_string(s.rows), "--cols", std::to_string(s.cols)});
  }
  sys::SpawnOptions opts;
  opts.fds = {{3, wr.get()}};
  ASSIGN_OR_RETURN(pid_t pid, sys::Spawn(argv, opts));
  wr.reset();
  // The first shim process forks and exits at once; reap it so it leaves no zombie.
  (void)sys::Wait(pid);
  std::string verdict;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    verdict.append(buf, static_cast<size_t>(n));
  }
  while (!verdict.empty() && verdict.back() == '\n') verdict.pop_back();
  if (absl::StartsWith(verdict, "ok ")) {
    int init = 0;
    if (!absl::SimpleAtoi(verdict.substr(3), &init)) return absl::InternalError("shim: bad reply " + verdict);
    return init;
  }
  if (absl::StartsWith(verdict, "error ")) return absl::FailedPreconditionError(verdict.substr(6));
  return absl::InternalError("shim exited without a verdict");
}

StatusOr<UniqueFd> ShimClient::Command(const std::string& state_dir, const std::string& line,
                                       std::string* reply) const {
  CheckNoStateLock("ShimClient::Command");
  ASSIGN_OR_RETURN(UniqueFd fd, ConnectUnix(state_dir + "/shim.sock"));
  RETURN_IF_ERROR(WriteAll(fd.get(), line + "\n"));
  if (reply != nullptr) {
    ASSIGN_OR_RETURN(*reply, ReadLine(fd.get()));
  }
  return fd;
}

void ShimClient::ForgetRuntimeState(const std::string& id) const {
  (void)sys::Run({paths_.runc, "--root", paths_.runtime_root, "delete", "--force", id});
}

Status ShimClient::Runtime(const std::vector<std::string>& args, std::string_view input) const {
  CheckNoStateLock("ShimClient::Runtime");
  std::vector<std::string> argv = {paths_.runc, "--root", paths_.runtime_root};
  argv.insert(argv.end(), args.begin(), args.end());
  ASSIGN_OR_RETURN(sys::RunResult r, sys::Run(argv, input));
  if (r.exit_code == 0) return absl::OkStatus();
  std::string msg = r.err.empty() ? r.out : r.err;
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  return absl::FailedPreconditionError("runc " + args[0] + ": " + msg);
}

Status OverlayMounter::Mount(const std::vector<std::string>& lowers, const std::string& upper,
                             const std::string& work, const std::string& target) {
  return sys::MountOverlay(lowers, upper, work, target);
}
Status OverlayMounter::Unmount(const std::string& target) { return sys::Unmount(target); }
bool OverlayMounter::Mounted(const std::string& target) { return sys::IsMountPoint(target); }

Status Shim::Simple(const std::string& state_dir, const std::string& line) const {
  std::string reply;
  ASSIGN_OR_RETURN(UniqueFd fd, Command(state_dir, line, &reply));
  if (reply != "OK") return absl::InternalError("shim: " + line + ": " + reply);
  return absl::OkStatus();
}

void Shim::Discard(const std::string& state_dir) const {
  (void)Simple(state_dir, "KILL 9");  // ERR when it has exited already: then only RELEASE matters
  (void)Simple(state_dir, "RELEASE");
}

namespace {

// One line of /etc/passwd or /etc/group split at ':'.
std::vector<std::vector<std::string>> ReadDb(const std::string& path) {
  std::vector<std::vector<std::string>> out;
  auto data = sys::ReadFile(path);
  if (!data.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*data, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    out.push_back(absl::StrSplit(line, ':'));
  }
  return out;
}

}  // namespace

namespace {

// The supplementary groups: memberships of `name` in /etc/group, then the --group-add ones.
Status AdditionalGroups(const std::string& rootfs, const std::string& name,
                        const std::vector<std::string>& group_add, std::vector<uint32_t>* out) {
  out->clear();
  auto groups = ReadDb(rootfs + "/etc/group");
  auto add = [&](uint32_t g) {
    if (std::find(out->begin(), out->end(), g) == out->end()) out->push_back(g);
  };
  uint32_t n;
  if (!name.empty()) {
    for (auto& e : groups) {
      if (e.size() < 4 || !absl::SimpleAtoi(e[2], &n)) continue;
      for (absl::string_view m : absl::StrSplit(e[3], ',', absl::SkipEmpty()))
        if (m == name) add(n);
    }
  }
  for (const std::string& g : group_add) {
    bool found = false;
    for (auto& e : groups) {
      if (e.size() > 2 && (e[0] == g || e[2] == g) && absl::SimpleAtoi(e[2], &n)) {
        add(n);
        found = true;
        break;
      }
    }
    if (found) continue;
    int64_t id;
    if (!absl::SimpleAtoi(g, &id)) return absl::InvalidArgumentError("Unable to find group " + g);
    if (id < 0 || id > 0x7FFFFFFF)
      return absl::InvalidArgumentError("user: cannot set uid/gid to a value outside the range");
    add(static_cast<uint32_t>(id));
  }
  return absl::OkStatus();
}

}  // namespace

Status ResolveUser(const std::string& rootfs, const std::string& user, uint32_t* uid, uint32_t* gid,
                   std::vector<uint32_t>* additional_gids, const std::vector<std::string>& group_add) {
  *uid = 0;
  *gid = 0;
  if (user.empty()) return AdditionalGroups(rootfs, "root", group_add, additional_gids);
  std::string u = user, g;
  auto colon = user.find(':');
  if (colon != std::string::npos) {
    u = user.substr(0, colon);
    g = user.substr(colon + 1);
  }
  auto passwd = ReadDb(rootfs + "/etc/passwd");
  bool found = false;
  uint32_t n;
  if (absl::SimpleAtoi(u, &n)) {
    *uid = n;
    found = true;
    for (auto& e : passwd)
      if (e.size() > 3 && e[2] == u && absl::SimpleAtoi(e[3], &n)) *gid = n;
  } else {
    for (auto& e : passwd) {
      if (e.size() > 3 && e[0] == u) {
        if (!absl::SimpleAtoi(e[2], uid) || !absl::SimpleAtoi(e[3], gid)) continue;
        found = true;
        break;
      }
    }
  }
  if (!found)
    return absl::InvalidArgumentError("unable to find user " + u + ": no matching entries in passwd file");
  if (!g.empty()) {
    if (absl::SimpleAtoi(g, &n)) {
      *gid = n;
    } else {
      bool gfound = false;
      for (auto& e : ReadDb(rootfs + "/etc/group"))
        if (e.size() > 2 && e[0] == g && absl::SimpleAtoi(e[2], gid)) gfound = true;
      if (!gfound)
        return absl::InvalidArgumentError("unable to find group " + g + ": no matching entries in group file");
    }
  }
  std::string name = u;
  for (auto& e : passwd)
    if (e.size() > 3 && e[2] == std::to_string(*uid)) {
      name = e[0];
      break;
    }
  // runc gives the memberships only for the implicit form (no ":group").
  if (!g.empty()) name.clear();
  return AdditionalGroups(rootfs, name, group_add, additional_gids);
}

}  // namespace berth::engine
