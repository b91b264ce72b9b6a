// firewall_bench: a firewall change through berthd's berth-nft helper against an `nft -f -`
// subprocess per change, measured in one process.
//
//   firewall_bench BIN_DIR [ITERATIONS]      (ITERATIONS also from $ITERATIONS; default 30)
//
// The model is a busy host's: 20 bridge networks and 200 published ports. All of it happens inside
// a network namespace this program creates (bt-bench-fw-<pid>), removed at exit with the table in
// it. Reported, each as the median (and p90) of max(100, ITERATIONS) changes, every one a real
// change of the table:
//   1. Apply through the helper, a published port coming or going (a container start or stop:
//      element changes only; target <= 2 ms)
//   2. Apply through the helper, a bridge network coming or going (the whole table)
//   3. Apply through `nft -f -` per change, a port coming or going (the whole table, as before
//      libnftables was in use at all; the baseline)
//   4. a burst of 10 threads calling Applier::Apply at once, each with a port change: wall time
//      until all are answered, and how many transactions served them
// plus the helper's start (spawn, libnftables context, first dry run).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_util.h"
#include "network/firewall/applier.h"
#include "network/firewall/firewall.h"

namespace {

namespace bb = berth::bench;
namespace fw = berth::network::firewall;
using bb::Clock;
using bb::Median;
using bb::Ms;
using bb::Percentile;

constexpr int kBridges = 20;
constexpr int kPortsPerBridge = 10;
constexpr int kBurst = 10;

// 20 bridges 10.200.B.0/24 with 10 published tcp ports each; an odd port_variant moves the last
// mapping to another host port, an odd bridge_variant adds a 21st bridge.
fw::Model BusyHost(int port_variant, int bridge_variant = 0) {
  fw::Model m;
  for (int b = 0; b < kBridges; ++b) {
    std::string net = "10.200." + std::to_string(b);
    char name[16];
    std::snprintf(name, sizeof name, "br-bench%02d", b);
    m.bridges.push_back({name, net + ".0/24", net + ".1"});
    for (int p = 0; p < kPortsPerBridge; ++p) {
      int n = b * kPortsPerBridge + p;
      m.ports.push_back({"tcp", n % 2 ? "" : "127.0.0.1", 20000 + n,
                         net + "." + std::to_string(2 + p), 80, name});
    }
  }
  m.ports.back().host_port += port_variant % 2 ? 10000 : 0;
  if (bridge_variant % 2) m.bridges.push_back({"br-bench-x", "10.201.0.0/24", "10.201.0.1"});
  return m;
}

void Must(const berth::Status& st, const char* what) {
  if (!st.ok()) bb::Fail("%s: %s", what, std::string(st.message()).c_str());
}

// n changes through f, model(i) for the i-th; milliseconds each.
std::vector<double> Changes(fw::Firewall& f, int n, fw::Model (*model)(int)) {
  for (int i = 0; i < 5; ++i) Must(f.Apply(model(i)), "warm-up apply");
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    fw::Model m = model(i);
    auto t0 = Clock::now();
    Must(f.Apply(m), "apply");
    ms.push_back(Ms(t0, Clock::now()));
    bb::CheckInterrupted();
  }
  return ms;
}

fw::Model PortChange(int i) { return BusyHost(i); }
fw::Model BridgeChange(int i) { return BusyHost(0, i); }

void Row(const std::string& label, const std::vector<double>& ms, const std::string& note) {
  std::printf("  %-52s %8.2f ms  p90 %8.2f ms  %s\n", label.c_str(), Median(ms),
              Percentile(ms, 0.9), note.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BIN_DIR [ITERATIONS]\n", argv[0]);
    return 2;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "firewall_bench needs root (network namespaces, nftables)\n");
    return 2;
  }
  bb::InstallExitHandling();
  std::string helper = std::string(argv[1]) + "/berth-nft";
  int n = std::max(100, bb::Iterations(argc, argv, 2));
  std::string ns = bb::AddNetns("bt-bench-fw-" + std::to_string(getpid()));

  // 1, 2. The helper, made in the namespace; its start is the first Check.
  std::unique_ptr<fw::NftHelperFirewall> helper_fw;
  std::vector<double> start_ms, port_ms, bridge_ms, nft_ms;
  bb::InNetns(ns, [&] {
    helper_fw = fw::NewNftHelperFirewall(helper);
    auto t0 = Clock::now();
    Must(helper_fw->Check(), "start berth-nft");
    start_ms.push_back(Ms(t0, Clock::now()));
    port_ms = Changes(*helper_fw, n, PortChange);
    bridge_ms = Changes(*helper_fw, n, BridgeChange);
    // 3. nft -f - per change; the child inherits this thread's namespace.
    auto nft = fw::NewNftCommandFirewall("nft");
    Must(nft->Check(), "nft -c");
    nft_ms = Changes(*nft, n, PortChange);
  });

  // 4. Bursts of kBurst callers through the Applier. Its owner thread starts outside the namespace:
  // the helper stays in the one it was made in.
  fw::Applier applier(std::move(helper_fw));
  std::vector<double> burst_ms;
  uint64_t gen = 0, transactions = 0;
  for (int round = 0; round < std::max(20, n / 5); ++round) {
    uint64_t before = applier.Transactions();
    std::vector<std::thread> callers;
    std::vector<berth::Status> st(kBurst);
    std::latch go(kBurst + 1);  // the callers start together once all of them exist
    for (int c = 0; c < kBurst; ++c) {
      uint64_t g = ++gen;
      // Each burst's newest model differs from the last burst's: a real change every time.
      callers.emplace_back([&applier, &st, &go, c, g] {
        fw::Model m = BusyHost(static_cast<int>(g / kBurst));
        go.arrive_and_wait();
        st[c] = applier.Apply(g, std::move(m));
      });
    }
    auto t0 = Clock::now();
    go.count_down();
    for (auto& t : callers) t.join();
    burst_ms.push_back(Ms(t0, Clock::now()));
    for (auto& s : st) Must(s, "applier");
    transactions += applier.Transactions() - before;
  }
  applier.Shutdown();

  std::printf("firewall_bench: %d changes each (medians), %d bridges and %d published ports\n", n,
              kBridges, kBridges * kPortsPerBridge);
  Row("berth-nft start (spawn, context, dry run)", start_ms, "once per berthd");
  Row("helper: a published port comes or goes", port_ms,
      Median(port_ms) <= 2.0 ? "container start/stop; target <= 2 ms: met"
                             : "container start/stop; target <= 2 ms: MISSED");
  Row("helper: a bridge network comes or goes", bridge_ms, "network create/rm: the whole table");
  char ratio[64];
  std::snprintf(ratio, sizeof ratio, "baseline; %.1fx the helper's port change",
                Median(nft_ms) / Median(port_ms));
  Row("nft -f - per change: a port comes or goes", nft_ms, ratio);
  char note[96];
  std::snprintf(note, sizeof note, "%.2f transactions per burst of %d",
                static_cast<double>(transactions) / burst_ms.size(), kBurst);
  Row("Applier: 10 concurrent callers until all answered", burst_ms, note);
  return 0;
}
