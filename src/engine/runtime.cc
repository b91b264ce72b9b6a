#include "engine/runtime.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/sync.h"
#include "sys/fs.h"
#include "sys/subprocess.h"

namespace berth::engine {

using nlohmann::json;

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
                                   "--runtime-root", paths_.runtime_root, "--log-path",
                                   s.log_path,       "--ready-fd",    "3"};
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

Status ShimClient::Simple(const std::string& state_dir, const std::string& line) const {
  std::string reply;
  ASSIGN_OR_RETURN(UniqueFd fd, Command(state_dir, line, &reply));
  if (reply != "OK") return absl::InternalError("shim: " + line + ": " + reply);
  return absl::OkStatus();
}

void ShimClient::Discard(const std::string& state_dir) const {
  (void)Simple(state_dir, "KILL 9");  // ERR when it has exited already: then only RELEASE matters
  (void)Simple(state_dir, "RELEASE");
}

std::vector<std::string> Capabilities(const json& hc) {
  static const std::vector<std::string> kAll = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
      "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
      "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
      "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
      "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ"};
  // Docker's default set (moby oci/caps/defaults.go).
  static const std::vector<std::string> kDefault = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
      "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
  if (hc.value("Privileged", false)) return kAll;
  auto norm = [](std::string c) {
    for (auto& ch : c) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
    if (!absl::StartsWith(c, "CAP_") && c != "ALL") c = "CAP_" + c;
    return c;
  };
  std::set<std::string> caps(kDefault.begin(), kDefault.end());
  if (hc.contains("CapAdd") && hc["CapAdd"].is_array())
    for (auto& c : hc["CapAdd"]) {
      std::string n = norm(c.get<std::string>());
      if (n == "ALL") caps.insert(kAll.begin(), kAll.end());
      else caps.insert(n);
    }
  if (hc.contains("CapDrop") && hc["CapDrop"].is_array())
    for (auto& c : hc["CapDrop"]) {
      std::string n = norm(c.get<std::string>());
      if (n == "ALL") caps.clear();
      else caps.erase(n);
    }
  return {caps.begin(), caps.end()};
}

namespace {

json Mount(const std::string& dst, const std::string& type, const std::string& src,
           std::vector<std::string> options) {
  return {{"destination", dst}, {"type", type}, {"source", src}, {"options", options}};
}

}  // namespace

json BuildOciSpec(const OciInputs& in) {
  static const json kEmpty = json::object();
  const json& hc = in.host_config ? *in.host_config : kEmpty;
  auto caps = Capabilities(hc);
  json process = {
      {"terminal", in.tty},
      {"user", {{"uid", in.uid}, {"gid", in.gid}}},
      {"args", in.args},
      {"env", in.env},
      {"cwd", in.cwd.empty() ? "/" : in.cwd},
      {"capabilities",
       {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"inheritable", json::array()}}},
      {"noNewPrivileges", false},
      {"oomScoreAdj", hc.value("OomScoreAdj", 0)}};
  if (!in.additional_gids.empty()) process["user"]["additionalGids"] = in.additional_gids;
  if (in.tty && in.rows > 0 && in.cols > 0)
    process["consoleSize"] = {{"height", in.rows}, {"width", in.cols}};

  json mounts = json::array({
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
  });
  int64_t shm = hc.value("ShmSize", int64_t{67108864});
  if (shm <= 0) shm = 67108864;
  mounts.push_back(Mount("/dev/shm", "tmpfs", "shm",
                         {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(shm)}));
  for (const char* f : {"hostname", "hosts", "resolv.conf"})
    mounts.push_back(Mount(std::string("/etc/") + f, "bind", in.container_dir + "/" + f,
                           {"rbind", "rprivate"}));
  if (hc.contains("Binds") && hc["Binds"].is_array()) {
    for (auto& b : hc["Binds"]) {
      std::vector<std::string> parts = absl::StrSplit(b.get<std::string>(), ':');
      if (parts.size() < 2) continue;
      std::vector<std::string> opts = {"rbind"};
      bool ro = parts.size() > 2 && absl::StrContains(parts[2], "ro");
      opts.push_back(ro ? "ro" : "rw");
      opts.push_back("rprivate");
      mounts.push_back(Mount(parts[1], "bind", parts[0], opts));
    }
  }

  json namespaces = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                 {{"type", "mount"}}});
  if (in.netns_path.empty()) namespaces.push_back({{"type", "network"}});
  else if (in.netns_path != "host") namespaces.push_back({{"type", "network"}, {"path", in.netns_path}});

  json resources = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  int64_t memory = hc.value("Memory", int64_t{0});
  if (memory > 0) {
    resources["memory"] = {{"limit", memory}};
    int64_t swap = hc.value("MemorySwap", int64_t{0});
    // Docker: MemorySwap 0 means twice the memory limit; -1 unlimited.
    if (swap == 0) resources["memory"]["swap"] = memory * 2;
    else if (swap > 0) resources["memory"]["swap"] = swap;
  }
  int64_t nano = hc.value("NanoCpus", int64_t{0});
  if (nano > 0) resources["cpu"] = {{"period", 100000}, {"quota", nano * 100000 / 1000000000}};
  int64_t shares = hc.value("CpuShares", int64_t{0});
  if (shares > 0) resources["cpu"]["shares"] = shares;
  if (hc.contains("PidsLimit") && hc["PidsLimit"].is_number() && hc["PidsLimit"].get<int64_t>() > 0)
    resources["pids"] = {{"limit", hc["PidsLimit"].get<int64_t>()}};

  json linux = {{"namespaces", namespaces},
                {"resources", resources},
                {"cgroupsPath", "/" + in.cgroup_parent + "/" + in.id},
                {"maskedPaths", hc.value("MaskedPaths", json::array())},
                {"readonlyPaths", hc.value("ReadonlyPaths", json::array())}};
  if (hc.value("Privileged", false)) {
    linux["maskedPaths"] = json::array();
    linux["readonlyPaths"] = json::array();
    linux["resources"]["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
  } else {
    for (int minor : {3, 5, 7, 8, 9})  // null zero full random urandom
      linux["resources"]["devices"].push_back(
          {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", minor}, {"access", "rwm"}});
    linux["resources"]["devices"].push_back(
        {{"allow", true}, {"type", "c"}, {"major", 5}, {"minor", 0}, {"access", "rwm"}});
    linux["resources"]["devices"].push_back(
        {{"allow", true}, {"type", "c"}, {"major", 5}, {"minor", 2}, {"access", "rwm"}});
    linux["resources"]["devices"].push_back(
        {{"allow", true}, {"type", "c"}, {"major", 136}, {"access", "rwm"}});
  }

  return {{"ociVersion", "1.0.2-dev"},
          {"process", process},
          {"root", {{"path", "rootfs"}, {"readonly", hc.value("ReadonlyRootfs", false)}}},
          {"hostname", in.hostname},
          {"mounts", mounts},
          {"linux", linux}};
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

Status ResolveUser(const std::string& rootfs, const std::string& user, uint32_t* uid, uint32_t* gid,
                   std::vector<uint32_t>* additional_gids) {
  *uid = 0;
  *gid = 0;
  if (user.empty()) return absl::OkStatus();
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
  return absl::OkStatus();
}

}  // namespace berth::engine
