// engine_bench: Berth's container round trips against bare runc, measured in one process.
//
//   engine_bench BIN_DIR [ITERATIONS]
//
// Starts its own berthd (temporary roots, its own socket), imports a busybox-static rootfs, then
// reports medians of:
//   floor      `runc run` of a prepared busybox bundle running `true` (the baseline)
//   floor+sc   the same bundle with the seccomp filter berthd gives a container by default (runc
//              compiles it with libseccomp at every start): what the default profile costs
//   run --rm   create(AutoRemove) + wait(removed) + start, until the container is gone; also
//              with seccomp=unconfined, against the plain floor
//   run -d     create + start, until start returns (the container is running)
//   stop -t 0  of that container, until stop returns (killed, its exit handled: runtime state,
//              mounts and network undone)
//   docker CLI `docker run --rm busybox true` and `docker run -d busybox sleep`, wall time
// and 50 `run -d` in a row, then the RSS of berthd and of every shim. berthd runs inside a network
// namespace of its own (bt-bench-host-<pid>): it builds bridges and nftables rules, and must not
// touch the host's.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "nlohmann/json.hpp"

namespace {

using berth::bench::Clock;
using berth::bench::Median;
using berth::bench::Ms;

std::vector<pid_t> ShimPids(const std::string& exec_root) {
  std::vector<pid_t> out;
  FILE* p = popen(("cat " + exec_root + "/c/*/shim.pid 2>/dev/null").c_str(), "r");
  if (!p) return out;
  int pid;
  while (fscanf(p, "%d", &pid) == 1) out.push_back(pid);
  pclose(p);
  return out;
}

// A second bundle over the floor's rootfs whose config.json carries the seccomp filter berthd put
// in a default container's config.json.
std::string MakeSeccompBundle(const std::string& dir, const std::string& bundle,
                              const std::string& container_config) {
  namespace bb = berth::bench;
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return nlohmann::json::parse(ss.str(), nullptr, false);
  };
  nlohmann::json floor = read(bundle + "/config.json");
  nlohmann::json berth = read(container_config);
  if (floor.is_discarded() || berth.is_discarded() || !berth["linux"].contains("seccomp"))
    bb::Fail("no seccomp section in %s", container_config.c_str());
  floor["linux"]["seccomp"] = berth["linux"]["seccomp"];
  floor["root"]["path"] = bundle + "/rootfs";
  std::string out = dir + "/bundle-seccomp";
  bb::MustRun({"mkdir", "-p", out});
  std::ofstream(out + "/config.json") << floor.dump();
  return out;
}

void RunRmTrue(const berth::bench::Api& api, const nlohmann::json& host_config) {
  // run --rm true, as the CLI does it: create, wait(removed), start, read the wait result.
  std::string id =
      api.CreateContainer({{"Image", "busybox"}, {"Cmd", {"true"}}, {"HostConfig", host_config}});
  int wfd = api.Connect();
  berth::bench::Api::SendRequest(wfd, "POST", "/containers/" + id + "/wait?condition=removed", "");
  std::string wbody;
  berth::bench::Api::ReadResponse(wfd, &wbody, /*headers_only=*/true);
  api.StartContainer(id);
  char tmp[4096];
  while (wbody.find("StatusCode") == std::string::npos) {
    ssize_t n = read(wfd, tmp, sizeof tmp);
    if (n <= 0) break;
    wbody.append(tmp, static_cast<size_t>(n));
  }
  close(wfd);
}

}  // namespace

int main(int argc, char** argv) {
  namespace bb = berth::bench;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BIN_DIR [ITERATIONS]\n", argv[0]);
    return 2;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "engine_bench needs root (runc, mounts, namespaces)\n");
    return 2;
  }
  bb::InstallExitHandling();
  std::string bin = argv[1];
  int iters = bb::Iterations(argc, argv, 2);
  std::string dir = bb::MakeBenchDir();
  std::string exec_root = dir + "/exec";

  // A busybox-static rootfs: the image, and the bundle of the runc floor.
  std::string rootfs = bb::MakeBusyboxRootfs(dir);
  std::string bundle = bb::MakeFloorBundle(dir, rootfs);

  bb::Daemon daemon;
  daemon.Start(bin, dir);
  const bb::Api& api = daemon.api();
  bb::ImportBusybox(api, dir);

  std::string probe = api.CreateContainer({{"Image", "busybox"}, {"Cmd", {"sleep", "600"}}});
  api.StartContainer(probe);
  std::string bundle_sc = MakeSeccompBundle(dir, bundle, exec_root + "/c/" + probe.substr(0, 12) + "/config.json");
  api.Must("DELETE", "/containers/" + probe + "?force=1", "", 204);

  std::vector<double> floor, floor_sc, rm_rt, rm_unconfined, rund, stop0, cli_rm, cli_d;
  for (int i = 0; i < iters; ++i) {
    floor.push_back(bb::RuncFloor(dir, bundle, i));
    floor_sc.push_back(bb::RuncFloor(dir, bundle_sc, i, "floor-sc"));

    auto t0 = Clock::now();
    RunRmTrue(api, {{"AutoRemove", true}});
    rm_rt.push_back(Ms(t0, Clock::now()));
    t0 = Clock::now();
    RunRmTrue(api, {{"AutoRemove", true}, {"SecurityOpt", {"seccomp=unconfined"}}});
    rm_unconfined.push_back(Ms(t0, Clock::now()));

    t0 = Clock::now();
    std::string id = api.CreateContainer({{"Image", "busybox"}, {"Cmd", {"sleep", "600"}}});
    api.StartContainer(id);
    rund.push_back(Ms(t0, Clock::now()));
    t0 = Clock::now();
    api.Must("POST", "/containers/" + id + "/stop?t=0", "", 204);
    stop0.push_back(Ms(t0, Clock::now()));
    api.Must("DELETE", "/containers/" + id + "?force=1", "", 204);
  }
  setenv("DOCKER_HOST", ("unix://" + api.socket_path()).c_str(), 1);
  bool have_docker = bb::Run({"docker", "version"}) == 0;
  for (int i = 0; have_docker && i < iters; ++i) {
    auto t0 = Clock::now();
    bb::Run({"docker", "run", "--rm", "busybox", "true"});
    cli_rm.push_back(Ms(t0, Clock::now()));
    t0 = Clock::now();
    bb::Run(
        {"docker", "run", "-d", "--name", "cli" + std::to_string(i), "busybox", "sleep", "600"});
    cli_d.push_back(Ms(t0, Clock::now()));
    bb::Run({"docker", "rm", "-f", "cli" + std::to_string(i)});
  }

  auto t0 = Clock::now();
  for (int i = 0; i < 50; ++i) {
    std::string id = api.CreateContainer({{"Image", "busybox"}, {"Cmd", {"sleep", "600"}}});
    api.StartContainer(id);
  }
  double fifty = Ms(t0, Clock::now());
  bb::Sleep(std::chrono::milliseconds(300));  // let the shims settle to idle
  long berthd_rss = bb::RssKb(daemon.pid());
  auto shims = ShimPids(exec_root);
  std::vector<double> shim_rss;
  long shim_total = 0;
  for (pid_t p : shims) {
    long r = bb::RssKb(p);
    shim_rss.push_back(static_cast<double>(r));
    shim_total += r;
  }

  double f = Median(floor);
  std::printf(
      "engine_bench: %d iterations, medians (ms); baseline = bare runc run of the same bundle\n",
      iters);
  double fsc = Median(floor_sc);
  std::printf("  runc run (floor)            %8.2f  1.00x\n", f);
  std::printf("  runc run + Berth's seccomp  %8.2f  %.2fx floor\n", fsc, fsc / f);
  std::printf("  API run --rm true           %8.2f  %.2fx floor, %.2fx floor+seccomp\n",
              Median(rm_rt), Median(rm_rt) / f, Median(rm_rt) / fsc);
  std::printf("  API run --rm, unconfined    %8.2f  %.2fx floor\n", Median(rm_unconfined),
              Median(rm_unconfined) / f);
  std::printf("  API run -d to running       %8.2f  %.2fx floor\n", Median(rund), Median(rund) / f);
  std::printf("  API stop -t 0 (SIGKILL)     %8.2f  %.2fx floor\n", Median(stop0), Median(stop0) / f);
  if (have_docker) {
    std::printf("  docker CLI run --rm true    %8.2f  %.2fx floor\n", Median(cli_rm),
                Median(cli_rm) / f);
    std::printf("  docker CLI run -d           %8.2f  %.2fx floor\n", Median(cli_d),
                Median(cli_d) / f);
  }
  std::printf("  50 run -d in a row (API)    %8.0f ms total\n", fifty);
  std::printf("  RSS with %zu running: berthd %.1f MB, shims median %.2f MB each, all %.1f MB\n",
              shims.size(), berthd_rss / 1024.0, Median(shim_rss) / 1024.0,
              (berthd_rss + shim_total) / 1024.0);
  // Everything this run made (containers, berthd, its namespace, the directory) goes at exit.
  return 0;
}
