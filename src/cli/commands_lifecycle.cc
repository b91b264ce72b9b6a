// berth pause, unpause and update, with docker's flags and output (docker/cli
// cli/command/container/{pause,unpause,update}.go).

#include "absl/strings/str_cat.h"
#include "cli/cli.h"
#include "cli/opts.h"

namespace berth::cli {
namespace {

using nlohmann::json;

std::string Esc(const std::string& s) { return client::QueryEscape(s); }

// POST /containers/NAME/<action> for each name: the name on success, the error otherwise.
int EachContainer(Cli& cli, const Invocation& inv, const char* action) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  for (const auto& n : pos) {
    Status s = (*api)->Call("POST", absl::StrCat("/containers/", Esc(n), "/", action)).status();
    if (s.ok()) {
      cli.out() << n << "\n";
    } else {
      cli.err() << s.message() << "\n";
      rc = 1;
    }
  }
  return rc;
}

// A size flag's value as docker reports a bad one.
Status Size(const std::string& flag, const std::string& value, bool allow_minus_one, int64_t* out) {
  if (value.empty()) return absl::OkStatus();
  if (allow_minus_one && value == "-1") {
    *out = -1;
    return absl::OkStatus();
  }
  auto n = RamInBytes(value);
  if (!n.ok())
    return absl::InvalidArgumentError(absl::StrCat("invalid argument \"", value, "\" for \"", flag,
                                                   "\" flag: ", n.status().message()));
  *out = *n;
  return absl::OkStatus();
}

}  // namespace

int CmdPause(Cli& cli, const Invocation& inv) { return EachContainer(cli, inv, "pause"); }
int CmdUnpause(Cli& cli, const Invocation& inv) { return EachContainer(cli, inv, "unpause"); }

int CmdUpdate(Cli& cli, const Invocation& inv) {
  int64_t blkio_weight = 0, cpu_period = 0, cpu_quota = 0, cpu_rt_period = 0, cpu_rt_runtime = 0,
          cpu_shares = 0, pids_limit = 0;
  std::string cpus, cpuset_cpus, cpuset_mems, kernel_memory, memory, memory_reservation,
      memory_swap, restart;
  FlagSet f;
  f.Int("blkio-weight", 0, &blkio_weight);
  f.Int("cpu-period", 0, &cpu_period);
  f.Int("cpu-quota", 0, &cpu_quota);
  f.Int("cpu-rt-period", 0, &cpu_rt_period);
  f.Int("cpu-rt-runtime", 0, &cpu_rt_runtime);
  f.Int("cpu-shares", 'c', &cpu_shares);
  f.String("cpus", 0, &cpus);
  f.String("cpuset-cpus", 0, &cpuset_cpus);
  f.String("cpuset-mems", 0, &cpuset_mems);
  f.String("kernel-memory", 0, &kernel_memory);
  f.String("memory", 'm', &memory);
  f.String("memory-reservation", 0, &memory_reservation);
  f.String("memory-swap", 0, &memory_swap);
  f.Int("pids-limit", 0, &pids_limit);
  f.String("restart", 0, &restart);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  bool any = false;
  for (const char* name : {"blkio-weight", "cpu-period", "cpu-quota", "cpu-rt-period",
                           "cpu-rt-runtime", "cpu-shares", "cpus", "cpuset-cpus", "cpuset-mems",
                           "kernel-memory", "memory", "memory-reservation", "memory-swap",
                           "pids-limit", "restart"})
    any |= f.Changed(name);
  if (!any) {
    cli.err() << "you must provide one or more flags when using this command\n";
    return 1;
  }
  if (blkio_weight < 0 || blkio_weight > 0xFFFF) {
    cli.err() << "invalid argument \"" << blkio_weight
              << "\" for \"--blkio-weight\" flag: value out of range\n";
    return 125;
  }
  int64_t mem = 0, mem_res = 0, mem_swap = 0, kmem = 0, nano = 0;
  Status st = Size("-m, --memory", memory, false, &mem);
  if (st.ok()) st = Size("--memory-reservation", memory_reservation, false, &mem_res);
  if (st.ok()) st = Size("--memory-swap", memory_swap, true, &mem_swap);
  if (st.ok()) st = Size("--kernel-memory", kernel_memory, false, &kmem);
  if (st.ok() && !cpus.empty()) {
    auto n = ParseNanoCpus(cpus);
    if (n.ok()) nano = *n;
    else
      st = absl::InvalidArgumentError(absl::StrCat("invalid argument \"", cpus,
                                                   "\" for \"--cpus\" flag: ", n.status().message()));
  }
  json restart_policy = {{"Name", ""}, {"MaximumRetryCount", 0}};
  if (st.ok() && !restart.empty()) {
    auto p = ParseRestartPolicy(restart);
    if (p.ok()) restart_policy = *p;
    else st = p.status();
  }
  if (!st.ok()) {
    cli.err() << st.message() << "\nSee '" << inv.path << " --help'.\n";
    return 125;
  }
  // The body docker sends: container.UpdateConfig, zero values for what is not set.
  json body = {{"BlkioWeight", blkio_weight},
               {"CpuShares", cpu_shares},
               {"Memory", mem},
               {"NanoCpus", nano},
               {"CpuPeriod", cpu_period},
               {"CpuQuota", cpu_quota},
               {"CpuRealtimePeriod", cpu_rt_period},
               {"CpuRealtimeRuntime", cpu_rt_runtime},
               {"CpusetCpus", cpuset_cpus},
               {"CpusetMems", cpuset_mems},
               {"KernelMemory", kmem},
               {"MemoryReservation", mem_res},
               {"MemorySwap", mem_swap},
               {"RestartPolicy", restart_policy}};
  if (f.Changed("pids-limit")) body["PidsLimit"] = pids_limit;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  for (const auto& n : pos) {
    auto r = (*api)->CallJson("POST", "/containers/" + Esc(n) + "/update", body);
    if (!r.ok()) {
      cli.err() << r.status().message() << "\n";
      rc = 1;
      continue;
    }
    try {
      for (const auto& w : json::parse(r->body).value("Warnings", json::array()))
        if (w.is_string()) cli.err() << w.get<std::string>() << "\n";
    } catch (const json::exception&) {
    }
    cli.out() << n << "\n";
  }
  return rc;
}

}  // namespace berth::cli
