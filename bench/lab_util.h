#pragma once
// What the benches that run on `berth lab` clusters share (swarm_bench, service_bench, overlay_bench): a lab of
// their own taken down whatever way the program ends, API calls with a timeout, polling waits.

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "nlohmann/json.hpp"

namespace berth::bench::lab {

using nlohmann::json;

// Polling interval of the waits: small beside every figure measured, large enough not to load
// the 2-core machine the cluster runs on.
constexpr auto kPoll = std::chrono::milliseconds(10);

// One request with a receive timeout: a manager waiting on a store without quorum must not hang
// the bench. The status, or -1 (unreachable, timed out).
inline int Call(const Api& api, const std::string& method, const std::string& path,
                const std::string& body, std::string* out, int timeout_s = 5) {
  CheckInterrupted();
  int fd = api.Connect();
  if (fd < 0) return -1;
  timeval tv = {timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int st = Api::SendRequest(fd, method, path, body) ? Api::ReadResponse(fd, out) : -1;
  close(fd);
  CheckInterrupted();
  return st;
}

inline json GetJson(const Api& api, const std::string& path, int* status) {
  std::string out;
  *status = Call(api, "GET", path, "", &out);
  if (*status != 200) return json();
  return json::parse(out, nullptr, false);
}

// The lab's state, shared with the at-exit clean-up (which may outlive the Lab object).
struct LabState {
  std::string bin, name, subnet;
  bool up = false;

  // `berth lab down`, then by hand whatever a failed down left. Idempotent. `up` clears only at
  // the end: a signal that interrupts the down run from ~Lab leaves through Fail(), and the
  // at-exit clean-up then does all of it again, uninterrupted.
  void Down() {
    if (!up) return;
    std::string bridge;
    {
      std::ifstream f("/run/berth-lab/" + name + "/lab.json");
      std::stringstream ss;
      ss << f.rdbuf();
      json j = json::parse(ss.str(), nullptr, false);
      if (j.is_object()) bridge = j.value("bridge", "");
    }
    std::string out, err;
    struct stat st;
    bool made = stat(("/run/berth-lab/" + name + "/lab.json").c_str(), &st) == 0;
    if (made && RunCapture({bin + "/berth", "lab", "down", "--name", name}, &out, &err) != 0)
      std::fprintf(stderr, "lab down %s: %s%s\n", name.c_str(), out.c_str(), err.c_str());
    Run({"sh", "-c",
         "for f in /run/netns/" + name +
             "-*; do [ -e \"$f\" ] && ip netns del \"${f##*/}\"; "
             "done; true"});
    if (!bridge.empty()) Run({"ip", "link", "del", bridge});
    Run({"rm", "-rf", "/run/berth-lab/" + name, "/var/lib/berth-lab/" + name});
    Run({"rmdir", "/run/berth-lab", "/var/lib/berth-lab"});
    up = false;
  }
};

class Lab {
 public:
  Lab(const std::string& bin, const std::string& name, const std::string& net, int managers,
      int workers) {
    s_->bin = bin;
    s_->name = name;
    s_->subnet = net;
    OnExit([s = s_] { s->Down(); });
    std::string out, err;
    s_->up = true;  // from here on, a failure leaves something for Down to sweep
    if (RunCapture({bin + "/berth", "lab", "up", "--name", name, "--subnet", net + ".0/24",
                    "--managers", std::to_string(managers), "--workers", std::to_string(workers)},
                   &out, &err) != 0)
      Fail("berth lab up %s: %s%s", name.c_str(), out.c_str(), err.c_str());
  }
  ~Lab() { s_->Down(); }

  std::string Sock(const std::string& node) const {
    return "/run/berth-lab/" + s_->name + "/" + node + "/berthd.sock";
  }
  ::berth::bench::Api Api(const std::string& node) const { return ::berth::bench::Api(Sock(node)); }
  std::string Ip(const std::string& node) const {
    // lab.md: managers .11 to .19, workers from .21.
    int n = std::atoi(node.c_str() + 1);
    return s_->subnet + "." + std::to_string((node[0] == 'm' ? 10 : 20) + n);
  }
  // docker -H <node's socket> ARGS; fails the run on a non-zero exit. Its stdout.
  std::string Docker(const std::string& node, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"docker", "-H", "unix://" + Sock(node)};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out, err;
    if (RunCapture(argv, &out, &err) != 0)
      Fail("docker %s on %s: %s%s", args.empty() ? "" : args[0].c_str(), node.c_str(), out.c_str(),
           err.c_str());
    return out;
  }
  void LabCmd(const std::string& cmd, const std::string& node) const {
    MustRun({s_->bin + "/berth", "lab", cmd, "--name", s_->name, node});
  }

 private:
  std::shared_ptr<LabState> s_ = std::make_shared<LabState>();
};

// A query parameter's value, percent-encoded (filters are JSON).
inline std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The node of hostname host in a GET /nodes answer, or null.
inline json FindNode(const json& nodes, const std::string& host) {
  if (!nodes.is_array()) return json();
  for (const json& n : nodes)
    if (n.contains("Description") && n["Description"].value("Hostname", "") == host) return n;
  return json();
}

inline std::string State(const json& node) {
  return node.is_object() && node.contains("Status") ? node["Status"].value("State", "") : "";
}

// Waits, polling, until done() holds; fails the run after deadline_s seconds with what.
template <typename F>
void WaitFor(double deadline_s, const char* what, F done) {
  auto t0 = Clock::now();
  while (!done()) {
    if (Ms(t0, Clock::now()) > deadline_s * 1000) Fail("%s: not within %.0f s", what, deadline_s);
    Sleep(kPoll);
  }
}

// The command line of a bench on labs: "NAME BIN_DIR [RUNS]" (RUNS also from $runs_env, default
// 5); exits with the usage, or fails unless root with etcd and berth at hand.
struct LabBenchArgs {
  std::string bin;
  int runs = 5;
};
inline LabBenchArgs ParseLabBenchArgs(int argc, char** argv, const char* name,
                                      const char* runs_env) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BIN_DIR [RUNS]\n", name);
    std::exit(2);
  }
  LabBenchArgs a;
  a.bin = argv[1];
  const char* r = argc > 2 ? argv[2] : std::getenv(runs_env);
  if (r != nullptr && std::atoi(r) > 0) a.runs = std::atoi(r);
  if (geteuid() != 0) Fail("%s needs root (berth lab)", name);
  struct stat st;
  if (stat("/usr/bin/etcd", &st) != 0) Fail("%s needs etcd (etcd-server)", name);
  if (stat((a.bin + "/berth").c_str(), &st) != 0) Fail("no berth in %s", a.bin.c_str());
  return a;
}

}  // namespace berth::bench::lab
