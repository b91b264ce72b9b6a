// docker update's pure rules (engine/container_update.h): checks, merge, runc's resources.

#include "engine/container_update.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace berth::engine {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

HostFacts Facts() {
  HostFacts f;
  f.cpus_online = "0-1";
  f.mems_online = "0";
  return f;
}

spec::UpdateConfig Resources(void (*set)(spec::Resources&)) {
  spec::UpdateConfig u;
  set(u.resources);
  return u;
}

TEST(VerifyUpdate, DockerMessages) {
  auto msg = [](const spec::UpdateConfig& u) {
    return std::string(VerifyUpdate(u, Facts()).message());
  };
  EXPECT_TRUE(VerifyUpdate(spec::UpdateConfig{}, Facts()).ok());
  EXPECT_EQ(msg(Resources([](auto& r) { r.memory = 4 * kMiB; })), "Minimum memory limit allowed is 6MB");
  EXPECT_EQ(msg(Resources([](auto& r) { r.memory = 64 * kMiB; r.memory_swap = 32 * kMiB; })),
            "Minimum memoryswap limit should be larger than memory limit, see usage");
  EXPECT_EQ(msg(Resources([](auto& r) { r.memory = 64 * kMiB; r.memory_reservation = 128 * kMiB; })),
            "Minimum memory limit can not be less than memory reservation limit, see usage");
  EXPECT_EQ(msg(Resources([](auto& r) { r.nano_cpus = 1000000000; r.cpu_period = 50000; })),
            "Conflicting options: Nano CPUs and CPU Period cannot both be set");
  EXPECT_EQ(msg(Resources([](auto& r) { r.cpu_period = 500; })),
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  EXPECT_EQ(msg(Resources([](auto& r) { r.cpu_quota = 10; })),
            "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  EXPECT_EQ(msg(Resources([](auto& r) { r.blkio_weight = 5; })), "Range of blkio weight is from 10 to 1000");
  EXPECT_EQ(msg(Resources([](auto& r) { r.cpuset_cpus = "0-3"; })),
            "Requested CPUs are not available - requested 0-3, available: 0-1");
  EXPECT_EQ(msg(Resources([](auto& r) { r.cpuset_cpus = "x"; })), "Invalid value x for cpuset cpus");
  EXPECT_EQ(VerifyUpdate(Resources([](auto& r) { r.ulimits = std::vector<spec::Ulimit>{{"nofile", 1, 1}}; }),
                         Facts())
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyUpdate(Resources([](auto& r) { r.kernel_memory = 64 * kMiB; }), Facts()).code(),
            absl::StatusCode::kInvalidArgument);
  // Docker's update leaves the real-time CPU settings as they are: refused, whatever the kernel.
  EXPECT_EQ(msg(Resources([](auto& r) { r.cpu_realtime_runtime = 1000; })),
            "CpuRealtimePeriod/CpuRealtimeRuntime cannot be changed by an update: Docker's update "
            "applies only CPU, memory, pids and blkio weight limits and the restart policy; "
            "recreate the container");
  EXPECT_EQ(VerifyUpdate(Resources([](auto& r) { r.memory_swappiness = 10; }), Facts()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(VerifyUpdate(Resources([](auto& r) { r.memory_swappiness = -1; }), Facts()).ok());
  spec::UpdateConfig bad_policy;
  bad_policy.restart_policy = {"always", 3};
  EXPECT_EQ(msg(bad_policy), "maximum retry count cannot be used with restart policy 'always'");
  bad_policy.restart_policy = {"sometimes", 0};
  EXPECT_EQ(msg(bad_policy), "invalid restart policy 'sometimes'");
}

// A kernel whose blkio controller takes no weights (no CFQ or BFQ): refused with Docker's words
// (dockerd warns "... Weight discarded." and drops it; runc would fail on the missing file).
TEST(VerifyUpdate, BlkioWeightWithoutKernelSupportIsRefused) {
  HostFacts host = Facts();
  host.blkio_weight = false;
  auto weight = Resources([](auto& r) { r.blkio_weight = 300; });
  EXPECT_EQ(VerifyUpdate(weight, host).message(),
            "Your kernel does not support Block I/O weight or the cgroup is not mounted");
  EXPECT_TRUE(VerifyUpdate(weight, Facts()).ok());
  EXPECT_TRUE(VerifyUpdate(Resources([](auto& r) { r.memory = 64 * kMiB; }), host).ok());
}

TEST(MergeUpdate, ZeroLeavesASettingAsItIs) {
  spec::HostConfig hc;
  hc.resources.cpu_shares = 512;
  hc.resources.memory = 64 * kMiB;
  spec::UpdateConfig u;
  u.resources.pids_limit = 50;
  ASSERT_TRUE(MergeUpdate(u, hc).ok());
  EXPECT_EQ(hc.resources.cpu_shares, 512);
  EXPECT_EQ(hc.resources.memory, 64 * kMiB);
  EXPECT_EQ(hc.resources.pids_limit, 50);
  EXPECT_EQ(hc.restart_policy.name, "");
}

TEST(MergeUpdate, MemoryAboveTheSwapInForceNeedsNewSwap) {
  spec::HostConfig hc;
  hc.resources.memory = 64 * kMiB;  // swap in force: 128m (twice)
  spec::UpdateConfig u;
  u.resources.memory = 200 * kMiB;
  Status st = MergeUpdate(u, hc);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "Memory limit should be smaller than already set memoryswap limit, update the "
            "memoryswap at the same time");
  EXPECT_EQ(hc.resources.memory, 64 * kMiB);  // unchanged
  // Below it, the swap limit in force is kept (Docker stored it at create).
  u.resources.memory = 100 * kMiB;
  ASSERT_TRUE(MergeUpdate(u, hc).ok());
  EXPECT_EQ(hc.resources.memory, 100 * kMiB);
  EXPECT_EQ(EffectiveMemorySwap(hc.resources), 128 * kMiB);
  // With a new swap limit it goes through.
  u.resources.memory = 300 * kMiB;
  u.resources.memory_swap = -1;
  ASSERT_TRUE(MergeUpdate(u, hc).ok());
  EXPECT_EQ(EffectiveMemorySwap(hc.resources), -1);
  // No memory limit at all: any is fine.
  spec::HostConfig none;
  spec::UpdateConfig m;
  m.resources.memory = 300 * kMiB;
  ASSERT_TRUE(MergeUpdate(m, none).ok());
  EXPECT_EQ(EffectiveMemorySwap(none.resources), 600 * kMiB);
}

TEST(MergeUpdate, NanoCpusAndCfsSettingsDoNotMix) {
  spec::HostConfig hc;
  hc.resources.nano_cpus = 1000000000;
  spec::UpdateConfig u;
  u.resources.cpu_quota = 50000;
  EXPECT_EQ(MergeUpdate(u, hc).message(),
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
  spec::HostConfig cfs;
  cfs.resources.cpu_period = 50000;
  spec::UpdateConfig n;
  n.resources.nano_cpus = 500000000;
  EXPECT_EQ(MergeUpdate(n, cfs).message(),
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
}

TEST(MergeUpdate, RestartPolicy) {
  spec::HostConfig hc;
  hc.restart_policy = {"no", 0};
  spec::UpdateConfig u;
  u.restart_policy = {"on-failure", 3};
  ASSERT_TRUE(MergeUpdate(u, hc).ok());
  EXPECT_EQ(hc.restart_policy, (spec::RestartPolicy{"on-failure", 3}));
  spec::HostConfig rm;
  rm.auto_remove = true;
  rm.restart_policy = {"no", 0};
  u.restart_policy = {"always", 0};
  Status st = MergeUpdate(u, rm);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), "Restart policy cannot be updated because AutoRemove is enabled for the container");
  EXPECT_EQ(rm.restart_policy.name, "no");
  u.restart_policy = {"no", 0};
  EXPECT_TRUE(MergeUpdate(u, rm).ok());
}

TEST(OciCgroupResources, WhatRuncGets) {
  using nlohmann::json;
  spec::Resources r;
  EXPECT_EQ(json::parse(OciCgroupResourcesJson(r)), json::object());
  r.memory = 64 * kMiB;
  r.memory_reservation = 32 * kMiB;
  r.nano_cpus = 1500000000;
  r.cpu_shares = 512;
  r.cpuset_cpus = "0";
  r.pids_limit = 0;  // unlimited
  r.blkio_weight = 300;
  json j = json::parse(OciCgroupResourcesJson(r));
  EXPECT_EQ(j["memory"], (json{{"limit", 64 * kMiB}, {"swap", 128 * kMiB}, {"reservation", 32 * kMiB}}));
  EXPECT_EQ(j["cpu"], (json{{"period", 100000}, {"quota", 150000}, {"shares", 512}, {"cpus", "0"}}));
  EXPECT_EQ(j["pids"], (json{{"limit", -1}}));
  EXPECT_EQ(j["blockIO"], (json{{"weight", 300}}));
  spec::Resources cfs;
  cfs.cpu_period = 50000;
  cfs.cpu_quota = 25000;
  cfs.pids_limit = 20;
  j = json::parse(OciCgroupResourcesJson(cfs));
  EXPECT_EQ(j["cpu"], (json{{"period", 50000}, {"quota", 25000}}));
  EXPECT_EQ(j["pids"], (json{{"limit", 20}}));
}

}  // namespace
}  // namespace berth::engine
