#include "lab/lab.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <system_error>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/client/client.h"
#include "common/fd.h"
#include "lab/census.h"
#include "lab/node_process.h"
#include "lab/state.h"
#include "sys/fs.h"
#include "sys/netlink.h"
#include "sys/netns.h"

namespace berth::lab {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(30);
constexpr absl::Duration kStopTimeout = absl::Seconds(15);
// How long processes of the lab that were killed may take to be gone.
constexpr absl::Duration kKillWait = absl::Seconds(30);

// The last lines of a node's log, for an error about its daemon.
std::string LogTail(const Node& n, int lines = 5) {
  auto text = sys::ReadFile(n.log);
  if (!text.ok() || text->empty()) return "";
  size_t pos = text->size();
  if ((*text)[pos - 1] == '\n') --pos;
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i)
    pos = text->rfind('\n', pos - 1);
  std::string tail = text->substr(pos == std::string::npos ? 0 : pos + 1);
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return "\n    " + absl::StrJoin(absl::StrSplit(tail, '\n'), "\n    ");
}

StatusOr<Node*> FindNode(Lab& lab, const std::string& node) {
  Node* n = lab.Find(node);
  if (n == nullptr) {
    std::vector<std::string> names;
    for (const Node& x : lab.nodes) names.push_back(x.name);
    return absl::NotFoundError(absl::StrCat("no node \"", node, "\" in lab ", lab.name,
                                            " (nodes: ", absl::StrJoin(names, ", "), ")"));
  }
  return n;
}

uint32_t Ipv4(const std::string& ip) {
  in_addr a{};
  ::inet_pton(AF_INET, ip.c_str(), &a);
  return ntohl(a.s_addr);
}

// An address of the host inside the lab's subnet would make the underlay ambiguous.
Status CheckSubnetFree(const Lab& lab, sys::Rtnl& host) {
  ASSIGN_OR_RETURN(auto addrs, host.ListAddrs("", AF_INET));
  uint32_t mask = ~uint32_t{0} << (32 - lab.prefix_len);
  uint32_t net = Ipv4(lab.gateway) & mask;
  for (const sys::AddrInfo& a : addrs) {
    auto p = sys::ParseCidr(a.cidr);
    if (!p.ok()) continue;
    int len = std::min(p->len, lab.prefix_len);
    uint32_t m = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
    if ((Ipv4(p->addr.ToString()) & m) == (net & m))
      return absl::FailedPreconditionError(absl::StrCat("subnet ", lab.subnet, " overlaps ", a.cidr,
                                                        " on ", a.link,
                                                        ": choose another with --subnet"));
  }
  return absl::OkStatus();
}

// The IPv4 name servers of the host's /etc/resolv.conf that are neither in the lab's subnet nor
// loopback (a node's own loopback refuses at once); none when the host forwards IPv4 (then a
// node may reach them, through whatever NAT the host has).
std::vector<std::string> NameServersOutside(const Lab& lab) {
  std::vector<std::string> out;
  auto forward = sys::ReadFile("/proc/sys/net/ipv4/ip_forward");
  if (!forward.ok() || absl::StripAsciiWhitespace(*forward) != "0") return out;
  auto text = sys::ReadFile("/etc/resolv.conf");
  if (!text.ok()) return out;
  uint32_t mask = lab.prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - lab.prefix_len);
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() < 2 || f[0] != "nameserver") continue;
    std::string ip(f[1]);
    in_addr a{};
    if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) continue;
    uint32_t host = ntohl(a.s_addr);
    if ((host >> 24) == 127 || (host & mask) == (Ipv4(lab.gateway) & mask)) continue;
    out.push_back(ip);
  }
  return out;
}

// The node's namespace, its veth on the bridge, eth0's address and a default route via the bridge
// (so the node is like a host on a LAN: swarm's advertise address is found on eth0).
Status PlumbNode(const Lab& lab, const Node& n, sys::Rtnl& host) {
  ASSIGN_OR_RETURN(sys::NetNs ns, sys::NetNs::Create(n.NetnsPath()));
  RETURN_IF_ERROR(host.CreateVeth(n.host_link, "eth0", 0, &ns));
  RETURN_IF_ERROR(host.SetMaster(n.host_link, lab.bridge));
  RETURN_IF_ERROR(host.SetUp(n.host_link));
  ASSIGN_OR_RETURN(auto inner, sys::Rtnl::Open(&ns));
  RETURN_IF_ERROR(inner->AddAddr("eth0", absl::StrCat(n.ip, "/", lab.prefix_len)));
  RETURN_IF_ERROR(inner->SetUp("eth0"));
  RETURN_IF_ERROR(inner->AddRoute("default", lab.gateway, "eth0"));
  // When the host does not forward, nothing of a lab leaves the machine, and a DNS query to the
  // host's name servers would wait out the resolver's timeouts: 20 s for every `docker service
  // create` of a Docker Hub image, whose digest the CLI asks the node to resolve. Unreachable
  // routes to them make a lookup fail at once instead.
  for (const std::string& ns : NameServersOutside(lab)) {
    Status st = inner->AddUnreachableRoute(ns + "/32");
    if (!st.ok() && !absl::IsAlreadyExists(st)) return st;  // a server listed twice
  }
  return absl::OkStatus();
}

// Nothing of the lab may exist yet, and its subnet must be free on the host.
Status CheckFree(const Lab& lab) {
  ASSIGN_OR_RETURN(auto host, sys::Rtnl::Open(nullptr));
  std::vector<std::string> taken;
  if (host->GetLink(lab.bridge).ok()) taken.push_back("link " + lab.bridge);
  for (const Node& n : lab.nodes) {
    if (host->GetLink(n.host_link).ok()) taken.push_back("link " + n.host_link);
    if (sys::Exists(n.NetnsPath())) taken.push_back(n.NetnsPath());
  }
  if (sys::Exists(lab.DataDir())) taken.push_back(lab.DataDir());
  if (!taken.empty())
    return absl::AlreadyExistsError(absl::StrCat(
        "cannot make lab \"", lab.name, "\": ", absl::StrJoin(taken, ", "), " exist(s) already"));
  return CheckSubnetFree(lab, *host);
}

bool HasLeftovers(const Node& n) {
  for (const char* sub : {"/runc", "/c"}) {
    auto entries = sys::ListDir(n.exec_root + sub);
    if (entries.ok() && !entries->empty()) return true;
  }
  return false;
}

// Starts the daemons of `nodes` (all at once) and waits for each to answer. A daemon that does
// not come up is killed again; the errors name each node with the end of its log.
Status StartDaemons(Lab& lab, const std::vector<Node*>& nodes, absl::Duration timeout) {
  std::vector<std::string> errors;
  std::vector<ReadyWait> waits;
  std::vector<Node*> started;
  for (Node* n : nodes) {
    RETURN_IF_ERROR(sys::MkdirAll(n->data_root, 0711));
    RETURN_IF_ERROR(sys::MkdirAll(n->exec_root, 0700));
    // A socket left by a killed daemon: gone before the start, so its appearance means the new
    // daemon has bound it.
    ::unlink(n->socket.c_str());
    auto pid = SpawnInNamespace(
        SpawnSpec{lab.berthd, DaemonArgs(lab, *n), n->NetnsPath(), n->name, n->log});
    if (!pid.ok()) {
      errors.push_back(absl::StrCat(n->name, ": ", pid.status().message()));
      continue;
    }
    n->pid = *pid;
    waits.push_back(ReadyWait{*pid, n->socket});
    started.push_back(n);
  }
  RETURN_IF_ERROR(SaveLab(lab));
  std::vector<Status> ready = WaitReady(waits, absl::Now() + timeout);
  for (size_t i = 0; i < started.size(); ++i) {
    if (ready[i].ok()) continue;
    Node* n = started[i];
    if (SignalNodeDaemon(n->pid, n->data_root, SIGKILL)) WaitExit(n->pid, absl::Seconds(5));
    n->pid = 0;
    errors.push_back(absl::StrCat(n->name, ": ", ready[i].message(), LogTail(*n)));
  }
  RETURN_IF_ERROR(SaveLab(lab));
  if (!errors.empty())
    return absl::UnavailableError("berthd did not start:\n  " + absl::StrJoin(errors, "\n  "));
  return absl::OkStatus();
}

// Removes every container of a running node through its API (force, with anonymous volumes),
// so the daemon itself stops their processes and unmounts their file systems.
Status RemoveContainers(const Node& n) {
  ASSIGN_OR_RETURN(auto client, client::Client::Connect(n.Host()));
  ASSIGN_OR_RETURN(auto resp, client->Call("GET", "/containers/json?all=1"));
  ASSIGN_OR_RETURN(auto list, resp.Json());
  std::vector<std::string> errors;
  for (const auto& c : list) {
    std::string id = c.value("Id", "");
    if (id.empty()) continue;
    auto r = client->Call("DELETE", "/containers/" + id + "?force=1&v=1");
    // Gone meanwhile (a swarm task's container its agent removed): what was wanted.
    if (!r.ok() && !absl::IsNotFound(r.status())) errors.push_back(std::string(r.status().message()));
  }
  if (!errors.empty()) return absl::InternalError(absl::StrJoin(errors, "; "));
  return absl::OkStatus();
}

// SIGTERM and wait; SIGKILL after the timeout. Returns whether SIGKILL was needed.
bool TerminateDaemon(const Node& n, absl::Duration timeout) {
  if (!SignalNodeDaemon(n.pid, n.data_root, SIGTERM)) return false;
  if (WaitExit(n.pid, timeout)) return false;
  SignalNodeDaemon(n.pid, n.data_root, SIGKILL);
  WaitExit(n.pid, absl::Seconds(5));
  return true;
}

// Takes apart whatever of the lab exists (every step tolerates a missing object) and returns the
// census. Used by Down and by a failed Up.
DownReport TearDown(Lab& lab, const Traces& before) {
  DownReport report;
  Traces traces = before;
  // The nodes' network namespaces, held open until the census: the census finds a process of
  // the lab by its namespace's inode number, and the kernel reuses the number of a namespace that
  // is gone, for instance for a container another test starts meanwhile.
  std::vector<UniqueFd> namespaces;
  for (const Node& n : lab.nodes)
    if (UniqueFd fd(::open(n.NetnsPath().c_str(), O_RDONLY | O_CLOEXEC)); fd.valid())
      namespaces.push_back(std::move(fd));
  // Daemons first, all at once: containers out through each API, then SIGTERM.
  std::vector<std::string> notes(lab.nodes.size());
  auto stop_node = [&lab, &notes](size_t i) {
    const Node& n = lab.nodes[i];
    if (!IsNodeDaemon(n.pid, n.data_root)) return;
    if (Status st = RemoveContainers(n); !st.ok())
      notes[i] = absl::StrCat(n.name, ": removing containers: ", st.message());
    if (TerminateDaemon(n, kStopTimeout))
      notes[i] +=
          absl::StrCat(notes[i].empty() ? "" : "; ", n.name, ": berthd ignored SIGTERM for ",
                       absl::FormatDuration(kStopTimeout), ", killed");
  };
  {
    std::vector<std::thread> workers;
    for (size_t i = 0; i < lab.nodes.size(); ++i) {
      try {
        workers.emplace_back(stop_node, i);
      } catch (const std::system_error&) {
        stop_node(i);  // no thread to be had: one node after the other
      }
    }
    for (auto& t : workers) t.join();
  }
  // A container started between the listing and the daemon's exit (a swarm task rescheduled,
  // say) has runc state now that was not there before: its cgroups count too.
  for (std::string& c : TakeTraces(lab).cgroups)
    if (std::find(traces.cgroups.begin(), traces.cgroups.end(), c) == traces.cgroups.end())
      traces.cgroups.push_back(std::move(c));
  for (auto& n : notes)
    if (!n.empty()) report.notes.push_back(n);
  for (Node& n : lab.nodes) n.pid = 0;

  // What the daemons did not take with them: processes inside the lab's namespaces (shims of a
  // node that was killed, a `lab exec` still running) and containers whose root is under the
  // lab. They belong to the lab by where they are, so they are ended.
  // All are signalled first, then awaited together: a process in an uninterruptible kernel wait
  // (a netlink call queued behind a busy rtnl lock on a loaded machine) takes the SIGKILL only
  // when that wait ends, which has taken more than 5 s under a full test run.
  std::vector<pid_t> killed;
  for (const LabProcess& p : FindLabProcesses(lab, traces)) {
    bool in_lab = p.why.find("namespace") != std::string::npos || p.why.rfind("root", 0) == 0 ||
                  p.why.find("cgroup") != std::string::npos || p.comm == "berth-shim" ||
                  p.comm == "berthd" || p.comm == "runc" || p.comm == "etcd";
    if (!in_lab) continue;
    if (!SignalProcess(p.pid, p.comm, SIGKILL)) continue;
    report.notes.push_back(absl::StrCat("killed process ", p.pid, " (", p.comm, "): ", p.why));
    killed.push_back(p.pid);
  }
  const absl::Time deadline = absl::Now() + kKillWait;
  for (pid_t pid : killed) WaitExit(pid, std::max(deadline - absl::Now(), absl::ZeroDuration()));
  // Cgroups of containers whose processes were ended above (their daemon would have removed
  // them); a cgroup directory that still has processes refuses rmdir and shows in the census.
  for (const std::string& c : traces.cgroups) ::rmdir(c.c_str());
  for (const std::string& m : FindLabMounts(lab)) ::umount2(m.c_str(), MNT_DETACH);

  if (auto host = sys::Rtnl::Open(nullptr); host.ok()) {
    // Deleting a veth's host side deletes its pair; the bridge goes last.
    for (const Node& n : lab.nodes) (void)(*host)->DeleteLink(n.host_link);
    (void)(*host)->DeleteLink(lab.bridge);
  }
  for (const Node& n : lab.nodes) (void)sys::NetNs::Remove(n.NetnsPath());
  (void)sys::RemoveAll(lab.DataDir());
  (void)sys::RemoveAll(lab.RunDir());
  // The roots themselves, when this was the last lab (rmdir fails on a non-empty one: fine).
  ::rmdir(kDataRoot);
  ::rmdir(kRunRoot);
  report.leaks = Census(lab, traces);
  return report;
}

}  // namespace

std::string DefaultBerthd() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  return self.substr(0, self.rfind('/') + 1) + "berthd";
}

std::string NodeStatus::State() const {
  if (cut) return running ? "cut" : "stopped,cut";
  return running ? "running" : "stopped";
}

std::vector<NodeStatus> Inspect(const Lab& lab) {
  std::vector<NodeStatus> out;
  auto host = sys::Rtnl::Open(nullptr);
  for (const Node& n : lab.nodes) {
    NodeStatus s;
    s.running = IsNodeDaemon(n.pid, n.data_root);
    if (s.running) s.pid = n.pid;
    if (host.ok()) {
      auto link = (*host)->GetLink(n.host_link);
      s.cut = link.ok() && !link->up;
    }
    out.push_back(s);
  }
  return out;
}

StatusOr<Lab> Up(const UpOptions& opts) {
  ASSIGN_OR_RETURN(Lab lab, PlanLab(opts));
  if (lab.berthd.empty()) lab.berthd = DefaultBerthd();
  if (::access(lab.berthd.c_str(), X_OK) != 0)
    return absl::FailedPreconditionError("berthd not found at " + lab.berthd + " (--berthd)");
  ASSIGN_OR_RETURN(LabLock lock, LabLock::Acquire(lab.name, /*create=*/true));
  if (sys::Exists(lab.StatePath()))
    return absl::AlreadyExistsError(absl::StrCat("lab \"", lab.name,
                                                 "\" is up already (berth lab ls --name ", lab.name,
                                                 "; berth lab down --name ", lab.name, ")"));
  // Refuse before making anything: a name in use, or a subnet the host already has. A refusal
  // leaves no trace either (the lock's directory goes again).
  if (Status st = CheckFree(lab); !st.ok()) {
    (void)sys::RemoveAll(lab.RunDir());
    ::rmdir(kRunRoot);
    return st;
  }
  ASSIGN_OR_RETURN(auto host, sys::Rtnl::Open(nullptr));

  // From here on the state file lists what may exist, so a failure is undone by TearDown.
  auto build = [&]() -> Status {
    RETURN_IF_ERROR(sys::MkdirAll(lab.DataDir(), 0700));
    RETURN_IF_ERROR(SaveLab(lab));
    RETURN_IF_ERROR(host->CreateBridge(lab.bridge));
    RETURN_IF_ERROR(host->AddAddr(lab.bridge, absl::StrCat(lab.gateway, "/", lab.prefix_len)));
    RETURN_IF_ERROR(host->SetUp(lab.bridge));
    RETURN_IF_ERROR(sys::MkdirAll(kNetnsDir, 0755));
    for (const Node& n : lab.nodes)
      RETURN_IF_ERROR(Annotate(PlumbNode(lab, n, *host), "node " + n.name));
    std::vector<Node*> all;
    for (Node& n : lab.nodes) all.push_back(&n);
    return StartDaemons(lab, all, kStartTimeout);
  };
  Status st = build();
  if (!st.ok()) {
    DownReport r = TearDown(lab, TakeTraces(lab));
    std::string left = r.leaks.empty() ? "" : "; left behind: " + absl::StrJoin(r.leaks, ", ");
    return Status(st.code(), absl::StrCat("lab up ", lab.name, ": ", st.message(), left));
  }
  return lab;
}

Status StartNode(const std::string& lab_name, const std::string& node, absl::Duration timeout) {
  ASSIGN_OR_RETURN(LabLock lock, LabLock::Acquire(lab_name, false));
  ASSIGN_OR_RETURN(Lab lab, LoadLab(lab_name));
  ASSIGN_OR_RETURN(Node * n, FindNode(lab, node));
  if (IsNodeDaemon(n->pid, n->data_root))
    return absl::FailedPreconditionError(
        absl::StrCat("node ", node, " is running already (pid ", n->pid, ")"));
  return StartDaemons(lab, {n}, timeout);
}

Status StopNode(const std::string& lab_name, const std::string& node, absl::Duration timeout,
                bool* killed) {
  ASSIGN_OR_RETURN(LabLock lock, LabLock::Acquire(lab_name, false));
  ASSIGN_OR_RETURN(Lab lab, LoadLab(lab_name));
  ASSIGN_OR_RETURN(Node * n, FindNode(lab, node));
  if (!IsNodeDaemon(n->pid, n->data_root))
    return absl::FailedPreconditionError("node " + node + " is not running");
  *killed = TerminateDaemon(*n, timeout);
  n->pid = 0;
  return SaveLab(lab);
}

Status KillNode(const std::string& lab_name, const std::string& node) {
  ASSIGN_OR_RETURN(LabLock lock, LabLock::Acquire(lab_name, false));
  ASSIGN_OR_RETURN(Lab lab, LoadLab(lab_name));
  ASSIGN_OR_RETURN(Node * n, FindNode(lab, node));
  if (!SignalNodeDaemon(n->pid, n->data_root, SIGKILL))
    return absl::FailedPreconditionError("node " + node + " is not running");
  if (!WaitExit(n->pid, absl::Seconds(10)))
    return absl::DeadlineExceededError(
        absl::StrCat("berthd of ", node, " (pid ", n->pid, ") survived SIGKILL"));
  n->pid = 0;
  return SaveLab(lab);
}

Status SetCut(const std::string& lab_name, const std::string& node, bool cut) {
  ASSIGN_OR_RETURN(LabLock lock, LabLock::Acquire(lab_name, false));
  ASSIGN_OR_RETURN(Lab lab, LoadLab(lab_name));
  ASSIGN_OR_RETURN(Node * n, FindNode(lab, node));
  ASSIGN_OR_RETURN(auto host, sys::Rtnl::Open(nullptr));
  // The bridge side: the node keeps its address and routes (as a host whose cable is pulled), so
  // `heal` needs nothing but the link up again.
  return Annotate(host->SetUp(n->host_link, !cut), (cut ? "cut " : "heal ") + node);
}

StatusOr<DownReport> Down(const std::string& lab_name) {
  ASSIGN_OR_RETURN(LabLock lock, LabLock::Acquire(lab_name, false));
  ASSIGN_OR_RETURN(Lab lab, LoadLab(lab_name));
  const Traces traces = TakeTraces(lab);
  // A stopped node whose containers are still there (kill -9 leaves them running under their
  // shims) is started again so that its own daemon removes them the normal way.
  std::vector<Node*> revive;
  for (Node& n : lab.nodes)
    if (!IsNodeDaemon(n.pid, n.data_root) && HasLeftovers(n) && sys::Exists(n.NetnsPath()))
      revive.push_back(&n);
  std::vector<std::string> pre;
  if (!revive.empty()) {
    if (Status st = StartDaemons(lab, revive, kStartTimeout); !st.ok())
      pre.push_back("restarting stopped nodes to remove their containers: " +
                    std::string(st.message()));
  }
  DownReport report = TearDown(lab, traces);
  report.notes.insert(report.notes.begin(), pre.begin(), pre.end());
  return report;
}

Status EnterNode(const Lab& lab, const Node& node) {
  UniqueFd net(::open(node.NetnsPath().c_str(), O_RDONLY | O_CLOEXEC));
  if (!net.valid()) return ErrnoStatus(errno, "open " + node.NetnsPath());
  if (::setns(net.get(), CLONE_NEWNET) != 0) return ErrnoStatus(errno, "setns " + node.NetnsPath());
  if (IsNodeDaemon(node.pid, node.data_root)) {
    UniqueFd uts(::open(absl::StrCat("/proc/", node.pid, "/ns/uts").c_str(), O_RDONLY | O_CLOEXEC));
    if (uts.valid() && ::setns(uts.get(), CLONE_NEWUTS) != 0)
      return ErrnoStatus(errno, "setns uts of " + node.name);
  }
  return absl::OkStatus();
}

}  // namespace berth::lab
