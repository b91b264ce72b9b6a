// overlay_bench: issue 12's throughput ratios across swarm nodes, on a real `berth lab` cluster
// (m1 manager, w1 worker), each against a baseline measured in the same run:
//   1. the underlay: iperf3 between the two nodes' namespaces (a veth each, the lab's bridge);
//   2. an attachable overlay: container on w1 -> container on m1, over VXLAN (Docker here:
//      0.74x of its underlay; target >= 0.85x)                       against 1;
//   3. the routing mesh, a published service (5201 -> 5201, one task, on w1): from w1's namespace
//      to w1's address:5201 (DNAT to the local task), and from m1's to m1's address:5201 (DNAT,
//      then the ingress overlay to w1)                                against the same client
//      straight to the task's ingress address (no DNAT; from m1 over the same overlay).
// The iperf3 servers are the host's binary run inside the containers' namespaces (nsenter
// --net), the same datapath as a binary in their image.
//
//   overlay_bench BIN_DIR [SECONDS]     (SECONDS of each iperf3 run, also from $OVERLAY_SECONDS;
//                                        default 4; root; needs etcd and iperf3)
//
// Each path is measured in 5 turns with its baseline, one run of each in turn, and its ratio is
// the median of the turns' ratios: the lab's throughput drifts by several per cent between runs.
//
// The lab is bt-ovlbench-<pid> on a /24 of its own, taken down at the end and, whatever way the
// program ends, at exit.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"
#include "iperf_util.h"
#include "lab_util.h"
#include "nlohmann/json.hpp"

namespace {

namespace bb = berth::bench;
using namespace berth::bench::lab;
using bb::Median;

constexpr char kOverlay[] = "bt-ovlbench";
constexpr char kService[] = "bt-ovlbench-mesh";
constexpr int kRuns = 5;  // turns of each pair

// A container's sandbox (its namespace file) and its address on `network`, from inspect on node.
struct Endpoint {
  std::string sandbox, ip;
};
Endpoint EndpointOf(const Lab& lab, const std::string& node, const std::string& container,
                    const std::string& network) {
  int st;
  json j = GetJson(lab.Api(node), "/containers/" + container + "/json", &st);
  if (st != 200) bb::Fail("inspect %s on %s: %d", container.c_str(), node.c_str(), st);
  Endpoint e;
  const json& ns = j["NetworkSettings"];
  e.sandbox = ns.value("SandboxKey", "");
  if (ns.contains("Networks") && ns["Networks"].contains(network))
    e.ip = ns["Networks"][network].value("IPAddress", "");
  if (e.sandbox.empty() || e.ip.empty())
    bb::Fail("%s on %s: no sandbox or no address on %s: %s", container.c_str(), node.c_str(),
             network.c_str(), ns.dump().c_str());
  return e;
}

std::string NodeNs(const std::string& lab, const std::string& node) {
  return "/run/netns/" + lab + "-" + node;
}

// One iperf3 path: the server's namespace, the client's, the address the client connects to.
struct Path {
  std::string server, client, addr;
};

// A path and its baseline measured alternately, one run each in turn (the machine's drift hits
// both alike); the ratio is the median of each turn's ratio.
struct Pair {
  bb::Throughput base, path;
  std::vector<double> ratios;
};
Pair Alternate(const std::string& dir, const Path& base, const Path& path, int seconds) {
  Pair p;
  for (int r = 0; r < kRuns; ++r) {
    bb::Throughput b = bb::IperfSeries(dir, base.server, base.client, base.addr, seconds, 1);
    bb::Throughput t = bb::IperfSeries(dir, path.server, path.client, path.addr, seconds, 1);
    if (!b.error.empty()) p.base.error = b.error;
    if (!t.error.empty()) p.path.error = t.error;
    if (!b.error.empty() || !t.error.empty()) break;
    p.base.gbps.push_back(b.gbps[0]);
    p.path.gbps.push_back(t.gbps[0]);
    p.ratios.push_back(t.gbps[0] / b.gbps[0]);
  }
  return p;
}

void Row(const std::string& label, const bb::Throughput& t, const std::vector<double>* ratios,
         const std::string& vs, const std::string& note) {
  if (!t.error.empty()) {
    std::printf("  %-44s FAILED: %s\n", label.c_str(), t.error.c_str());
    bb::MarkFailed();
    return;
  }
  double g = Median(t.gbps);
  char ratio[64] = "1.00x";
  if (ratios != nullptr && !ratios->empty())
    std::snprintf(ratio, sizeof ratio, "%.2fx %s", Median(*ratios), vs.c_str());
  std::printf("  %-44s %6.2f Gbit/s  %-18s %s\n", label.c_str(), g, ratio, note.c_str());
}

void Rows(const std::string& base_label, const std::string& base_note, const std::string& label,
          const Pair& p, const std::string& vs, const std::string& note) {
  Row(base_label, p.base, nullptr, "", base_note);
  Row(label, p.path, &p.ratios, vs, note);
}

}  // namespace

int main(int argc, char** argv) {
  bb::InstallExitHandling();
  if (argc < 2) {
    std::fprintf(stderr, "usage: overlay_bench BIN_DIR [SECONDS]\n");
    return 2;
  }
  const std::string bin = argv[1];
  const char* secs = argc > 2 ? argv[2] : std::getenv("OVERLAY_SECONDS");
  int seconds = secs != nullptr && std::atoi(secs) > 0 ? std::atoi(secs) : 4;
  if (geteuid() != 0) bb::Fail("overlay_bench needs root (berth lab)");
  struct stat st;
  if (stat("/usr/bin/etcd", &st) != 0) bb::Fail("overlay_bench needs etcd (etcd-server)");
  if (stat("/usr/bin/iperf3", &st) != 0) bb::Fail("overlay_bench needs iperf3");
  pid_t pid = getpid();
  std::string net = "10." + std::to_string(150 + pid % 10) + "." + std::to_string((pid / 10) % 250);
  const std::string name = "bt-ovlbench-" + std::to_string(pid);
  std::printf("overlay_bench: a lab of m1 and w1 (%s.0/24), iperf3 %d x %d s per path\n", net.c_str(),
              kRuns, seconds);
  std::fflush(stdout);
  Lab lab(bin, name, net, 1, 1);
  std::string dir = bb::MakeBenchDir();

  // web:latest (busybox httpd in the foreground) on both nodes; the swarm.
  std::string tar = dir + "/web.tar";
  bb::MustRun({"sh", "-c",
               "set -e; d=$(mktemp -d); mkdir -p $d/bin $d/var/www; cp /bin/busybox $d/bin/; "
               "for a in $(/bin/busybox --list); do [ $a = busybox ] || ln -sf busybox $d/bin/$a; "
               "done; tar -C $d -cf " +
                   tar + " .; rm -rf $d"});
  for (const char* node : {"m1", "w1"})
    lab.Docker(node, {"import", "-c", "CMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/var/www\"]",
                      tar, "web:latest"});
  lab.Docker("m1", {"swarm", "init", "--advertise-addr", lab.Ip("m1")});
  std::string token = Trim(lab.Docker("m1", {"swarm", "join-token", "-q", "worker"}));
  lab.Docker("w1", {"swarm", "join", "--token", token, lab.Ip("m1") + ":2377"});

  // 1-2. The underlay (w1's namespace -> m1's) and an attachable overlay, a container on each
  // node, in turns.
  lab.Docker("m1", {"network", "create", "-d", "overlay", "--attachable", kOverlay});
  lab.Docker("m1", {"run", "-d", "--name", "ovl-m1", "--net", kOverlay, "web:latest"});
  lab.Docker("w1", {"run", "-d", "--name", "ovl-w1", "--net", kOverlay, "web:latest"});
  Endpoint server = EndpointOf(lab, "m1", "ovl-m1", kOverlay);
  Endpoint client = EndpointOf(lab, "w1", "ovl-w1", kOverlay);
  Pair overlay = Alternate(dir, {NodeNs(name, "m1"), NodeNs(name, "w1"), lab.Ip("m1")},
                           {server.sandbox, client.sandbox, server.ip}, seconds);
  lab.Docker("w1", {"rm", "-f", "ovl-w1"});
  lab.Docker("m1", {"rm", "-f", "ovl-m1"});

  // 3. The routing mesh: one task on w1 publishing 5201.
  lab.Docker("m1", {"service", "create", "--detach", "--name", kService, "--constraint",
                    "node.hostname==w1", "--publish",
                    "published=" + std::to_string(bb::kIperfPort) + ",target=" +
                        std::to_string(bb::kIperfPort),
                    "web:latest"});
  std::string task;
  WaitFor(60, "the mesh service's task running on w1", [&] {
    task = Trim(lab.Docker(
        "w1", {"ps", "-q", "--filter", std::string("label=com.docker.swarm.service.name=") + kService}));
    return !task.empty();
  });
  Endpoint backend = EndpointOf(lab, "w1", task, "ingress");
  Pair local = Alternate(dir, {backend.sandbox, NodeNs(name, "w1"), backend.ip},
                         {backend.sandbox, NodeNs(name, "w1"), lab.Ip("w1")}, seconds);
  Pair remote = Alternate(dir, {backend.sandbox, NodeNs(name, "m1"), backend.ip},
                          {backend.sandbox, NodeNs(name, "m1"), lab.Ip("m1")}, seconds);
  lab.Docker("m1", {"service", "rm", kService});

  std::printf("overlay_bench: medians of %d turns; a ratio is the median of each turn's ratio to\n"
              "the row above it, measured just before it\n",
              kRuns);
  Rows("underlay: w1 node -> m1 node", "veths and the lab's bridge",
       "overlay: container on w1 -> container on m1", overlay, "underlay",
       "target >= 0.85x; Docker here 0.74x");
  Rows("w1 node -> the task's ingress address", "the task is on w1; no DNAT",
       "w1 node -> w1:5201 (mesh, local task)", local, "direct", "DNAT on w1");
  Rows("m1 node -> the task's ingress address", "over the ingress overlay",
       "m1 node -> m1:5201 (mesh, task on w1)", remote, "direct",
       "DNAT + SNAT on m1, then the overlay; Docker here: refused (no IPVS)");
  return bb::Failed() ? 1 : 0;
}
