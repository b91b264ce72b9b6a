// mesh_bench: how long the routing mesh's and the VIPs' nftables changes take through berth-nft
// (network/mesh/mesh.h), the issue's "time to apply the rules for 100 services of 10 tasks each and
// to change one task among them" (targets 100 ms and 2 ms).
//
//   mesh_bench BIN_DIR [ITERATIONS]      (ITERATIONS also from $ITERATIONS; default 30, at least 100)
//
// The model is a busy node's: 100 services, each with a VIP, one published TCP port and 10 backends
// (7 on this node, 3 on others). Everything happens inside network namespaces this program creates
// (bt-bench-mesh-<pid>-node, -ctr), removed at exit with the tables in them. Reported, each as the
// median (and p90) of the changes, every one a real change of the kernel's table:
//   1. the whole table from scratch (the table removed before each, untimed), resident helper
//   2. one backend replaced by another in one service (a task rescheduled: element changes only),
//      and one backend leaving or coming (the service's map refilled and its two chains rewritten
//      with the new count)
//   3. a service coming or going (the whole table replaced)
//   4. a container's namespace, VIPs only, one backend changed, with the helper started for the
//      change and stopped after it (keep_helper = false)
//   5. Render of the whole table alone (CPU only), for scale
// plus the helper's start (spawn, libnftables context, dry run).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "network/mesh/mesh.h"

namespace {

namespace bb = berth::bench;
namespace mesh = berth::network::mesh;
using bb::Clock;
using bb::Median;
using bb::Ms;
using bb::Percentile;

constexpr int kServices = 100;
constexpr int kBackends = 10;

// Service s: id svc<s>, VIP 10.0.<s/200>.<s%200+1>... kept apart from the backends' 10.1.0.0/16.
// On odd task_variants, service task_variant/2 % kServices has its backend 0 moved to another
// address (a task rescheduled: the count stays), or dropped when `leave` (a task leaving: the
// count changes); service_variant adds a 101st service on odd variants.
mesh::Model BusyNode(int task_variant, int service_variant = 0, bool ingress = true, bool leave = false) {
  mesh::Model m;
  auto service = [](int s) {
    mesh::Service svc;
    svc.id = "svc" + std::to_string(s);
    svc.name = "service" + std::to_string(s);
    svc.vip = "10.0." + std::to_string(s / 200) + "." + std::to_string(s % 200 + 1);
    svc.ports = {{"tcp", 30000 + s, 80, "ingress"}};
    for (int b = 0; b < kBackends; ++b)
      svc.backends.push_back({"10.1." + std::to_string(s) + "." + std::to_string(b + 1), b < 7});
    return svc;
  };
  for (int s = 0; s < kServices; ++s) m.services.push_back(service(s));
  if (task_variant % 2) {
    auto& backends = m.services[(task_variant / 2) % kServices].backends;
    if (leave)
      backends.erase(backends.begin());
    else
      backends[0].ip = "10.2.0.1";
  }
  if (service_variant % 2) m.services.push_back(service(kServices));
  if (ingress) m.ingress = mesh::Ingress{"10.0.255.2", {"172.18.0.0/16"}};
  return m;
}

void Must(const berth::Status& st, const char* what) {
  if (!st.ok()) bb::Fail("%s: %s", what, std::string(st.message()).c_str());
}

std::unique_ptr<mesh::Table> NewTable(const std::string& helper, const std::string& ns, bool keep) {
  auto t = mesh::NewHelperTable({helper, ns, keep});
  Must(t.status(), "mesh table");
  return std::move(*t);
}

// n changes through t, model(i) for the i-th (after a few untimed warm-ups); milliseconds each.
template <typename ModelOf>
std::vector<double> Changes(mesh::Table& t, int n, ModelOf model) {
  for (int i = 0; i < 4; ++i) Must(t.Apply(model(i)), "warm-up apply");
  std::vector<double> ms;
  for (int i = 4; i < n + 4; ++i) {
    mesh::Model m = model(i);
    auto t0 = Clock::now();
    Must(t.Apply(m), "apply");
    ms.push_back(Ms(t0, Clock::now()));
    bb::CheckInterrupted();
  }
  return ms;
}

void Row(const std::string& label, const std::vector<double>& ms, const std::string& note) {
  std::printf("  %-58s %8.2f ms  p90 %8.2f ms  %s\n", label.c_str(), Median(ms), Percentile(ms, 0.9),
              note.c_str());
}

std::string Target(const std::vector<double>& ms, double target) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "target <= %g ms: %s", target, Median(ms) <= target ? "met" : "MISSED");
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BIN_DIR [ITERATIONS]\n", argv[0]);
    return 2;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "mesh_bench needs root (network namespaces, nftables)\n");
    return 2;
  }
  bb::InstallExitHandling();
  std::string helper = std::string(argv[1]) + "/berth-nft";
  int n = std::max(100, bb::Iterations(argc, argv, 2));
  std::string node = bb::AddNetns("bt-bench-mesh-" + std::to_string(getpid()) + "-node");
  std::string ctr = bb::AddNetns("bt-bench-mesh-" + std::to_string(getpid()) + "-ctr");

  std::vector<double> start_ms, scratch_ms, task_ms, leave_ms, service_ms, ctr_ms, render_ms;
  {
    auto table = NewTable(helper, node, true);
    auto t0 = Clock::now();
    Must(table->Check(), "start berth-nft");
    start_ms.push_back(Ms(t0, Clock::now()));

    // 1. From scratch: no table before each apply.
    for (int i = 0; i < n + 2; ++i) {
      Must(table->Remove(), "remove");
      mesh::Model m = BusyNode(i);
      auto t1 = Clock::now();
      Must(table->Apply(m), "apply from scratch");
      if (i >= 2) scratch_ms.push_back(Ms(t1, Clock::now()));
      bb::CheckInterrupted();
    }
    // 2. One task among the 1000 replaced by another, or leaving (and coming back).
    task_ms = Changes(*table, n, [](int i) { return BusyNode(i); });
    leave_ms = Changes(*table, n, [](int i) { return BusyNode(i, 0, true, true); });
    // 3. A service coming or going.
    service_ms = Changes(*table, n, [](int i) { return BusyNode(0, i); });
    Must(table->Remove(), "remove");
  }
  {
    // 4. A container's namespace: VIPs only, no resident helper.
    auto table = NewTable(helper, ctr, false);
    ctr_ms = Changes(*table, n, [](int i) { return BusyNode(i, 0, false); });
    Must(table->Remove(), "remove");
  }
  // 5. The CPU side alone: rendering the whole table, and what an Apply of one task's change
  // computes before the helper sees it (Validate, then RenderDelta).
  mesh::Model m = BusyNode(0), changed = BusyNode(1);
  std::vector<double> delta_cpu_ms;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    std::string s = mesh::Render(m);
    render_ms.push_back(Ms(t0, Clock::now()));
    if (s.empty()) bb::Fail("empty render");
    t0 = Clock::now();
    Must(mesh::Validate(changed), "validate");
    std::optional<std::string> d = mesh::RenderDelta(m, changed);
    delta_cpu_ms.push_back(Ms(t0, Clock::now()));
    if (!d.has_value() || d->empty()) bb::Fail("no delta");
  }

  std::printf("mesh_bench: %d changes each (medians), %d services x %d backends (%d remote each), "
              "a VIP and a published port each\n",
              n, kServices, kBackends, kBackends - 7);
  Row("berth-nft start (spawn, context, dry run)", start_ms, "once per namespace with a resident helper");
  Row("node: the whole table from scratch", scratch_ms, Target(scratch_ms, 100));
  Row("node: one task replaced among 1000 (elements only)", task_ms, Target(task_ms, 2));
  Row("node: one task leaves or comes among 1000 (+ its chains)", leave_ms, Target(leave_ms, 2));
  Row("node: a service comes or goes (whole table replaced)", service_ms, "service create/rm/update");
  Row("container ns: one backend changes, helper started per change", ctr_ms, "VIPs only, keep_helper=false");
  Row("Render of the whole table (CPU only)", render_ms, "");
  Row("Validate + RenderDelta of one task's change (CPU only)", delta_cpu_ms, "");
  return 0;
}
