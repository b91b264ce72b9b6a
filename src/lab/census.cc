#include "lab/census.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "sys/fs.h"
#include "sys/netlink.h"

namespace berth::lab {
namespace {

bool Under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string Readlink(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// "net:[4026532201]" -> 4026532201.
ino_t NsInode(const std::string& link) {
  size_t open = link.find('[');
  if (open == std::string::npos) return 0;
  return static_cast<ino_t>(std::strtoull(link.c_str() + open + 1, nullptr, 10));
}

}  // namespace

std::vector<std::string> MountPoints(const std::string& mountinfo) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < mountinfo.size()) {
    size_t end = mountinfo.find('\n', start);
    if (end == std::string::npos) end = mountinfo.size();
    std::string line = mountinfo.substr(start, end - start);
    start = end + 1;
    // id parent major:minor root MOUNTPOINT ...
    size_t pos = 0;
    for (int field = 0; field < 4 && pos != std::string::npos; ++field) {
      pos = line.find(' ', pos);
      if (pos != std::string::npos) ++pos;
    }
    if (pos == std::string::npos) continue;
    size_t stop = line.find(' ', pos);
    std::string raw = line.substr(pos, stop == std::string::npos ? std::string::npos : stop - pos);
    std::string decoded;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 3 < raw.size() &&
          std::isdigit(static_cast<unsigned char>(raw[i + 1]))) {
        decoded.push_back(static_cast<char>(std::stoi(raw.substr(i + 1, 3), nullptr, 8)));
        i += 3;
      } else {
        decoded.push_back(raw[i]);
      }
    }
    out.push_back(decoded);
  }
  return out;
}

Traces TakeTraces(const Lab& lab) {
  Traces t;
  for (const Node& n : lab.nodes) {
    // Only a mounted file is a namespace (nsfs, another device than its directory's); an
    // unmounted one is a plain file of /run.
    struct stat st, dir;
    if (::stat(n.NetnsPath().c_str(), &st) == 0 && ::stat(kNetnsDir, &dir) == 0 &&
        st.st_dev != dir.st_dev)
      t.netns_inodes.insert(st.st_ino);
    auto ids = sys::ListDir(n.exec_root + "/runc");
    if (!ids.ok()) continue;
    for (const std::string& id : *ids) {
      auto text = sys::ReadFile(n.exec_root + "/runc/" + id + "/state.json");
      if (!text.ok()) continue;
      nlohmann::json state = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (!state.is_object() || !state["cgroup_paths"].is_object()) continue;
      for (const auto& [controller, path] : state["cgroup_paths"].items())
        if (path.is_string() && path.get<std::string>().rfind("/sys/fs/cgroup/", 0) == 0)
          t.cgroups.push_back(path.get<std::string>());
    }
  }
  return t;
}

std::vector<LabProcess> FindLabProcesses(const Lab& lab, const Traces& traces) {
  std::vector<LabProcess> out;
  auto entries = sys::ListDir("/proc");
  if (!entries.ok()) return out;
  const pid_t self = ::getpid();
  // A container's processes are found by their cgroup: their root and working directory are in
  // their own mount namespace, which /proc shows as "/" from here.
  std::set<std::string> cgroups;  // "/berth/<id>", as /proc/PID/cgroup shows them
  for (const std::string& c : traces.cgroups) {
    size_t slash = c.find('/', std::string("/sys/fs/cgroup/").size());
    if (slash != std::string::npos) cgroups.insert(c.substr(slash));
  }
  const std::string data = lab.DataDir(), run = lab.RunDir();
  for (const std::string& e : *entries) {
    if (e.empty() || !std::all_of(e.begin(), e.end(), ::isdigit)) continue;
    pid_t pid = static_cast<pid_t>(std::stol(e));
    if (pid == self) continue;
    const std::string proc = "/proc/" + e;
    auto stat = sys::ReadFile(proc + "/stat");
    if (!stat.ok()) continue;
    size_t open = stat->find('('), close = stat->rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 >= stat->size())
      continue;
    if ((*stat)[close + 2] == 'Z') continue;
    LabProcess p;
    p.pid = pid;
    p.comm = stat->substr(open + 1, close - open - 1);
    if (ino_t ino = NsInode(Readlink(proc + "/ns/net"));
        ino != 0 && traces.netns_inodes.count(ino)) {
      p.why = "in a network namespace of the lab";
      for (const Node& n : lab.nodes) {
        struct stat st;
        if (::stat(n.NetnsPath().c_str(), &st) == 0 && st.st_ino == ino)
          p.why = "in " + n.name + "'s network namespace";
      }
    }
    if (p.why.empty() && !cgroups.empty()) {
      auto lines = sys::ReadFile(proc + "/cgroup");
      for (size_t start = 0; lines.ok() && start < lines->size() && p.why.empty();) {
        size_t end = lines->find('\n', start);
        if (end == std::string::npos) end = lines->size();
        std::string line = lines->substr(start, end - start);
        start = end + 1;
        size_t colon = line.find(':', line.find(':') + 1);
        if (colon != std::string::npos && cgroups.count(line.substr(colon + 1)))
          p.why = "in the cgroup of a container of the lab, " + line.substr(colon + 1);
      }
    }
    if (p.why.empty()) {
      for (const char* what : {"root", "cwd"}) {
        std::string target = Readlink(proc + "/" + what);
        if (Under(target, data) || Under(target, run)) {
          p.why = absl::StrCat(what, " under ", target);
          break;
        }
      }
    }
    if (p.why.empty()) {
      auto cmdline = sys::ReadFile(proc + "/cmdline");
      if (cmdline.ok()) {
        std::replace(cmdline->begin(), cmdline->end(), '\0', ' ');
        if (cmdline->find(data + "/") != std::string::npos ||
            cmdline->find(run + "/") != std::string::npos)
          p.why = "its command line names the lab's directories";
      }
    }
    if (!p.why.empty()) out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> FindLabMounts(const Lab& lab) {
  std::vector<std::string> out;
  auto info = sys::ReadFile("/proc/self/mountinfo");
  if (!info.ok()) return out;
  for (const std::string& m : MountPoints(*info)) {
    bool ours = Under(m, lab.DataDir()) || Under(m, lab.RunDir());
    for (const Node& n : lab.nodes) ours = ours || m == n.NetnsPath();
    if (ours && std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  // Deepest first, so that unmounting in order never hits a busy parent.
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  return out;
}

std::vector<std::string> Census(const Lab& lab, const Traces& traces) {
  std::vector<std::string> leaks;
  for (const LabProcess& p : FindLabProcesses(lab, traces))
    leaks.push_back(absl::StrCat("process ", p.pid, " (", p.comm, "): ", p.why));
  for (const std::string& m : FindLabMounts(lab)) leaks.push_back("mount " + m);
  for (const Node& n : lab.nodes)
    if (sys::Exists(n.NetnsPath())) leaks.push_back("namespace file " + n.NetnsPath());
  if (auto rtnl = sys::Rtnl::Open(nullptr); rtnl.ok()) {
    std::vector<std::string> links = {lab.bridge};
    for (const Node& n : lab.nodes) links.push_back(n.host_link);
    for (const std::string& l : links)
      if ((*rtnl)->GetLink(l).ok()) leaks.push_back("link " + l);
  } else {
    leaks.push_back("netlink: " + std::string(rtnl.status().message()));
  }
  for (const std::string& c : traces.cgroups)
    if (sys::Exists(c)) leaks.push_back("cgroup " + c);
  for (const std::string& d : {lab.DataDir(), lab.RunDir()})
    if (sys::Exists(d)) leaks.push_back("directory " + d);
  return leaks;
}

}  // namespace berth::lab
