#pragma once
// iperf3 between two network namespaces, for the benches (network_bench, overlay_bench): the
// host's iperf3 run inside them with nsenter --net, the same datapath as a binary in an image.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "nlohmann/json.hpp"

namespace berth::bench {

constexpr int kIperfRuns = 3;
constexpr int kIperfPort = 5201;

// True once the process pid (in whatever namespace it is) listens on TCP port: its
// /proc/PID/net/tcp* show that namespace's sockets. Reading them sends no packet, so a one-shot
// server is not disturbed.
inline bool Listening(pid_t pid, int port) {
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  for (const char* f : {"/net/tcp", "/net/tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + f);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string sl, local, remote, state;
      fields >> sl >> local >> remote >> state;
      if (state == "0A" && local.size() > 5 && local.compare(local.size() - 5, 5, want) == 0)
        return true;
    }
  }
  return false;
}

struct Throughput {
  std::vector<double> gbps;
  std::string error;  // non-empty: the scenario failed, and this says how
};

// `runs` iperf3 runs of `seconds` each: the server inside server_ns, the client inside
// client_ns connecting to addr:kIperfPort. Gbit/s received, as iperf3 -J reports end.sum_received.
inline Throughput IperfSeries(const std::string& dir, const std::string& server_ns,
                              const std::string& client_ns, const std::string& addr, int seconds,
                              int runs = kIperfRuns) {
  Throughput t;
  int log =
      open((dir + "/iperf3-server.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_t srv =
      Spawn({"nsenter", "--net=" + server_ns, "iperf3", "-s", "-p", std::to_string(kIperfPort)},
                log, log);
  close(log);
  auto t0 = Clock::now();
  while (!Listening(srv, kIperfPort) && Ms(t0, Clock::now()) < 5000)
    Sleep(std::chrono::milliseconds(2));
  if (!Listening(srv, kIperfPort)) {
    t.error = "iperf3 server in " + server_ns + " did not listen on " + std::to_string(kIperfPort) +
              " within 5 s";
    KillAndReap(srv);
    return t;
  }
  for (int r = 0; r < runs && t.error.empty(); ++r) {
    std::string out, err;
    // timeout: a datapath that lets the handshake through and then drops data must not hang the
    // run.
    int rc = RunCapture(
        {"timeout", "-k", "5", std::to_string(seconds + 20), "nsenter", "--net=" + client_ns,
         "iperf3", "-c", addr, "-p", std::to_string(kIperfPort), "-t", std::to_string(seconds),
         "-J", "--connect-timeout", "3000"},
        &out, &err);
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    if (!j.is_discarded() && j.contains("error")) {
      t.error = "iperf3 -c " + addr + ":" + std::to_string(kIperfPort) + ": " +
                j["error"].get<std::string>();
    } else if (rc != 0 || j.is_discarded()) {
      t.error = "iperf3 -c " + addr + ":" + std::to_string(kIperfPort) + " exited " +
                std::to_string(rc) + (rc == 124 ? " (timed out)" : "") + ": " + err;
    } else {
      t.gbps.push_back(j["end"]["sum_received"].value("bits_per_second", 0.0) / 1e9);
    }
  }
  KillAndReap(srv);
  return t;
}

}  // namespace berth::bench
