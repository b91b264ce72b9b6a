// swarm_bench: the swarm cluster's four latencies on real `berth lab` clusters, RUNS times (default
// 5), each run on a lab of its own (3 managers m1-m3, 1 worker w1; heartbeats every 1 s), medians
// in ms beside Docker 20.10's figures where they exist:
//   1. init to usable: `docker swarm init --advertise-addr M1 --dispatcher-heartbeat 1s` on m1
//      (the CLI, etcd's start included) until the first GET /nodes on m1 answers 200;
//   2. join to Ready: `docker swarm join --token T M1:2377` on w1 until GET /nodes on m1 shows w1
//      Ready (the manager joins of m2 and m3 are timed too, CLI wall time only);
//   3. node cut to Down: `berth lab cut w1` until GET /nodes/{w1} on m1 says "down"; the target is
//      3 heartbeat periods;
//   4. leader kill -9 to a new leader answering a write: `berth lab kill m1` (m1 checked to be the
//      leader first) until POST /nodes/{w1}/update through m2 succeeds; and on until GET /nodes on
//      m2 shows m2 or m3 as Leader (Docker's figure is a new leader answering `node ls`). The write
//      needs only the store's new etcd leader; Leader in node ls also waits for the leadership
//      lease of the killed berthd to expire.
// Docker's figures are the CLI wall times of ../shared/reference/docker-tutorial-transcript.md
// (init 0.554 s, the two worker joins 0.174 s and 0.070 s) and, from ../shared/reference/etcd.md,
// Docker 20.10's kill -9 of the leader of 3 managers to a new leader answering `node ls`: 16.0 s.
// Docker's join figures are the CLI's return, not Ready in node ls: the comparison is Berth's
// stricter measure against Docker's looser one.
//
//   swarm_bench BIN_DIR [RUNS]      (RUNS also from $SWARM_RUNS; root; needs etcd and docker)
//
// SWARM_BENCH_TRACE=1 prints every try of the write after the kill (status, time since the kill).
//
// The labs are named bt-bench-<pid>-<run> on a /24 of their own (10.1xx.y.0/24 from the pid), one
// at a time; each is taken down at the end of its run and, whatever way the program ends (a failed
// step, a signal), at exit, with a by-hand sweep of what a failed `lab down` left.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "lab_util.h"
#include "nlohmann/json.hpp"

namespace {

namespace bb = berth::bench;
using namespace berth::bench::lab;
using bb::Clock;
using bb::Median;
using bb::Ms;
using nlohmann::json;

constexpr double kHeartbeatMs = 1000;
// Docker 20.10's wall times (s) from the reference files named above.
constexpr double kDockerInit = 0.554;
constexpr double kDockerJoinW1 = 0.174;
constexpr double kDockerJoinW2 = 0.070;
constexpr double kDockerFailover = 16.0;

struct Sample {
  double init_cli, init_usable, join_cli, join_ready, mgr_join_cli, cut_down, failover, new_leader;
};

Sample OneRun(const std::string& bin, const std::string& name, const std::string& net) {
  Sample s{};
  Lab lab(bin, name, net, 3, 1);
  bb::Api m1 = lab.Api("m1"), m2 = lab.Api("m2");

  // 1. init to usable.
  auto t0 = Clock::now();
  lab.Docker("m1",
             {"swarm", "init", "--advertise-addr", lab.Ip("m1"), "--dispatcher-heartbeat", "1s"});
  s.init_cli = Ms(t0, Clock::now());
  WaitFor(15, "GET /nodes on m1 after init", [&] {
    int st;
    GetJson(m1, "/nodes", &st);
    return st == 200;
  });
  s.init_usable = Ms(t0, Clock::now());

  // 2. join to Ready (the worker), then the two managers.
  std::string wtoken = Trim(lab.Docker("m1", {"swarm", "join-token", "-q", "worker"}));
  std::string mtoken = Trim(lab.Docker("m1", {"swarm", "join-token", "-q", "manager"}));
  std::string m1addr = lab.Ip("m1") + ":2377";
  t0 = Clock::now();
  lab.Docker("w1", {"swarm", "join", "--token", wtoken, m1addr});
  s.join_cli = Ms(t0, Clock::now());
  std::string w1id;
  WaitFor(15, "w1 Ready in GET /nodes on m1", [&] {
    int st;
    json w = FindNode(GetJson(m1, "/nodes", &st), "w1");
    if (State(w) != "ready") return false;
    w1id = w.value("ID", "");
    return true;
  });
  s.join_ready = Ms(t0, Clock::now());
  std::vector<double> mgr;
  for (const char* m : {"m2", "m3"}) {
    t0 = Clock::now();
    lab.Docker(m, {"swarm", "join", "--token", mtoken, m1addr});
    mgr.push_back(Ms(t0, Clock::now()));
  }
  s.mgr_join_cli = Median(mgr);
  WaitFor(15, "m1 Leader, m2 and m3 Reachable and Ready on m2", [&] {
    int st;
    json nodes = GetJson(m2, "/nodes", &st);
    for (const char* m : {"m1", "m2", "m3"}) {
      json n = FindNode(nodes, m);
      if (State(n) != "ready" || !n.contains("ManagerStatus")) return false;
      bool leader = n["ManagerStatus"].value("Leader", false);
      if (leader != (std::string(m) == "m1")) return false;
      if (n["ManagerStatus"].value("Reachability", "") != "reachable") return false;
    }
    return true;
  });

  // 3. node cut to Down.
  t0 = Clock::now();
  lab.LabCmd("cut", "w1");
  WaitFor(15, "w1 down in GET /nodes on m1", [&] {
    int st;
    json n = GetJson(m1, "/nodes/" + w1id, &st);
    return State(n) == "down";
  });
  s.cut_down = Ms(t0, Clock::now());

  // 4. leader kill -9 to a write answered through m2: a label on w1, read-modify-write at the
  // node's current version (a write that needs the new leader's store).
  bool trace = std::getenv("SWARM_BENCH_TRACE") != nullptr;
  t0 = Clock::now();
  lab.LabCmd("kill", "m1");
  int tries = 0;
  WaitFor(30, "a node update through m2 after m1's kill", [&] {
    ++tries;
    int st;
    json n = GetJson(m2, "/nodes/" + w1id, &st);
    if (trace && st != 200)
      std::printf("    try %d: GET %d at %.0f ms\n", tries, st, Ms(t0, Clock::now()));
    if (st != 200 || !n.contains("Spec") || !n.contains("Version")) return false;
    json spec = n["Spec"];
    spec["Labels"]["bench"] = std::to_string(tries);
    std::string out;
    int get_st = st;
    double get_ms = Ms(t0, Clock::now());
    st = Call(
        m2, "POST",
        "/nodes/" + w1id + "/update?version=" + std::to_string(n["Version"].value("Index", 0ULL)),
        spec.dump(), &out);
    if (trace)
      std::printf("    try %d: GET %d at %.0f ms, POST %d at %.0f ms %s\n", tries, get_st, get_ms,
                  st, Ms(t0, Clock::now()), st == 200 ? "" : out.substr(0, 200).c_str());
    return st == 200;
  });
  s.failover = Ms(t0, Clock::now());
  // Docker's figure is a new leader answering `node ls`: the same here, m2 or m3 shown Leader.
  std::string leader;
  WaitFor(30, "a new Leader in GET /nodes on m2 after m1's kill", [&] {
    int st;
    json nodes = GetJson(m2, "/nodes", &st);
    for (const char* m : {"m2", "m3"}) {
      json n = FindNode(nodes, m);
      if (n.contains("ManagerStatus") && n["ManagerStatus"].value("Leader", false)) leader = m;
    }
    return !leader.empty();
  });
  s.new_leader = Ms(t0, Clock::now());
  std::printf(
      "  run %s: init %.0f (CLI %.0f), join->Ready %.0f (CLI %.0f), manager join CLI %.0f, "
      "cut->Down %.0f, kill->write %.0f (%d tries), kill->Leader %s %.0f\n",
      name.c_str(), s.init_usable, s.init_cli, s.join_ready, s.join_cli, s.mgr_join_cli, s.cut_down,
      s.failover, tries, leader.c_str(), s.new_leader);
  std::fflush(stdout);
  return s;  // ~Lab takes the lab down
}

// One figure: the median of v, its range, the target, and Docker's figure with the ratio.
void Line(const char* what, const std::vector<double>& v, const char* target, double docker_s,
          const char* docker_what) {
  double m = Median(v);
  char range[32];
  std::snprintf(range, sizeof range, "%.0f-%.0f", *std::min_element(v.begin(), v.end()),
                *std::max_element(v.begin(), v.end()));
  if (docker_s > 0)
    std::printf("  %-34s %6.0f %11s  %-7s  Docker %6.0f  %5.2fx  (%s)\n", what, m, range, target,
                docker_s * 1000, m / (docker_s * 1000), docker_what);
  else
    std::printf("  %-34s %6.0f %11s  %-7s  Docker      -         (%s)\n", what, m, range, target,
                docker_what);
}

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  bb::InstallExitHandling();
  LabBenchArgs args = ParseLabBenchArgs(argc, argv, "swarm_bench", "SWARM_RUNS");
  const std::string& bin = args.bin;
  int runs = args.runs;

  pid_t pid = getpid();
  // 10.120-139.y: away from the e2e labs' 10.80-99 and the lab default 10.77.
  std::string net = "10." + std::to_string(120 + pid % 20) + "." + std::to_string((pid / 20) % 250);
  std::printf(
      "swarm_bench: %d runs, each on a lab of 3 managers and 1 worker (%s.0/24), "
      "heartbeat 1 s\n",
      runs, net.c_str());
  std::fflush(stdout);
  auto start = Clock::now();
  std::string load0 = LoadAverage();
  std::vector<double> init, init_cli, join, join_cli, mgr_join, cut, failover, new_leader;
  for (int i = 0; i < runs; ++i) {
    Sample s = OneRun(bin, "bt-bench-" + std::to_string(pid) + "-" + std::to_string(i), net);
    init.push_back(s.init_usable);
    init_cli.push_back(s.init_cli);
    join.push_back(s.join_ready);
    join_cli.push_back(s.join_cli);
    mgr_join.push_back(s.mgr_join_cli);
    cut.push_back(s.cut_down);
    failover.push_back(s.failover);
    new_leader.push_back(s.new_leader);
  }
  std::printf(
      "swarm_bench: medians of %d runs in ms (min-max beside), ratios Berth / Docker 20.10; "
      "whole run %.0f s, load average %s at the start, %s at the end\n",
      runs, Ms(start, Clock::now()) / 1000, load0.c_str(), LoadAverage().c_str());
  char down_target[32];
  std::snprintf(down_target, sizeof down_target, "< %.0f", 3 * kHeartbeatMs);
  Line("swarm init -> GET /nodes 200", init, "< 1500", kDockerInit, "CLI wall, init returned");
  Line("  swarm init CLI wall", init_cli, "", kDockerInit, "CLI wall");
  Line("worker join -> Ready in node ls", join, "< 1000", kDockerJoinW1, "CLI wall of w1's join");
  Line("  worker join CLI wall", join_cli, "", kDockerJoinW1, "CLI wall of w1's join");
  Line("  worker join CLI wall", join_cli, "", kDockerJoinW2, "CLI wall of w2's join");
  Line("  manager join CLI wall", mgr_join, "", 0, "not measured on Docker");
  Line("leader kill -9 -> write via m2", failover, "< 3000", kDockerFailover,
       "new leader answers node ls");
  Line("leader kill -9 -> new Leader in ls", new_leader, "", kDockerFailover,
       "new leader answers node ls");
  Line("node cut -> Down (heartbeat 1 s)", cut, down_target, 0, "not measured on Docker");
  std::printf("  node cut -> Down in heartbeat periods: %.2f (target <= 3)\n",
              Median(cut) / kHeartbeatMs);
  return 0;
}
