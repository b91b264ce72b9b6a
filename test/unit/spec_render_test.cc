// The inspect renderers against Docker 20.10's own inspect output on this machine, and the
// round trips parse(render(x)) == x and Decode(Encode(x)) == x.

#include <algorithm>

#include <gtest/gtest.h>

#include "spec/codec.h"
#include "spec/json/container_json.h"

namespace berth::spec {
namespace {

// `docker run -dit --name b1 busybox` (run-default-b1.md).
constexpr const char* kB1CreateBody = R"json({
 "Hostname": "",
 "Domainname": "",
 "User": "",
 "AttachStdin": false,
 "AttachStdout": false,
 "AttachStderr": false,
 "Tty": true,
 "OpenStdin": true,
 "StdinOnce": false,
 "Env": null,
 "Cmd": null,
 "Image": "busybox",
 "Volumes": {},
 "WorkingDir": "",
 "Entrypoint": null,
 "OnBuild": null,
 "Labels": {},
 "HostConfig": {
  "Binds": null,
  "ContainerIDFile": "",
  "LogConfig": {
   "Type": "",
   "Config": {}
  },
  "NetworkMode": "default",
  "PortBindings": {},
  "RestartPolicy": {
   "Name": "no",
   "MaximumRetryCount": 0
  },
  "AutoRemove": false,
  "VolumeDriver": "",
  "VolumesFrom": null,
  "ConsoleSize": [
   0,
   0
  ],
  "CapAdd": null,
  "CapDrop": null,
  "CgroupnsMode": "",
  "Dns": [],
  "DnsOptions": [],
  "DnsSearch": [],
  "ExtraHosts": null,
  "GroupAdd": null,
  "IpcMode": "",
  "Cgroup": "",
  "Links": null,
  "OomScoreAdj": 0,
  "PidMode": "",
  "Privileged": false,
  "PublishAllPorts": false,
  "ReadonlyRootfs": false,
  "SecurityOpt": null,
  "UTSMode": "",
  "UsernsMode": "",
  "ShmSize": 0,
  "Isolation": "",
  "CpuShares": 0,
  "Memory": 0,
  "NanoCpus": 0,
  "CgroupParent": "",
  "BlkioWeight": 0,
  "BlkioWeightDevice": [],
  "BlkioDeviceReadBps": [],
  "BlkioDeviceWriteBps": [],
  "BlkioDeviceReadIOps": [],
  "BlkioDeviceWriteIOps": [],
  "CpuPeriod": 0,
  "CpuQuota": 0,
  "CpuRealtimePeriod": 0,
  "CpuRealtimeRuntime": 0,
  "CpusetCpus": "",
  "CpusetMems": "",
  "Devices": [],
  "DeviceCgroupRules": null,
  "DeviceRequests": null,
  "MemoryReservation": 0,
  "MemorySwap": 0,
  "MemorySwappiness": -1,
  "OomKillDisable": false,
  "PidsLimit": 0,
  "Ulimits": [],
  "CpuCount": 0,
  "CpuPercent": 0,
  "IOMaximumIOps": 0,
  "IOMaximumBandwidth": 0,
  "MaskedPaths": null,
  "ReadonlyPaths": null
 },
 "NetworkingConfig": {
  "EndpointsConfig": {
   "default": {
    "IPAMConfig": null,
    "Links": null,
    "Aliases": null,
    "MacAddress": "",
    "DriverOpts": null,
    "GwPriority": 0,
    "NetworkID": "",
    "EndpointID": "",
    "Gateway": "",
    "IPAddress": "",
    "IPPrefixLen": 0,
    "IPv6Gateway": "",
    "GlobalIPv6Address": "",
    "GlobalIPv6PrefixLen": 0,
    "DNSNames": null
   }
  }
 }
})json";

// GET /containers/b1/json from Docker 20.10.24 (b1-resolv-conf.md): HostConfig and Config.
constexpr const char* kB1InspectHostConfig = R"json({
 "Binds": null,
 "ContainerIDFile": "",
 "LogConfig": {
  "Type": "json-file",
  "Config": {}
 },
 "NetworkMode": "default",
 "PortBindings": {},
 "RestartPolicy": {
  "Name": "no",
  "MaximumRetryCount": 0
 },
 "AutoRemove": false,
 "VolumeDriver": "",
 "VolumesFrom": null,
 "CapAdd": null,
 "CapDrop": null,
 "CgroupnsMode": "host",
 "Dns": [],
 "DnsOptions": [],
 "DnsSearch": [],
 "ExtraHosts": null,
 "GroupAdd": null,
 "IpcMode": "private",
 "Cgroup": "",
 "Links": null,
 "OomScoreAdj": 0,
 "PidMode": "",
 "Privileged": false,
 "PublishAllPorts": false,
 "ReadonlyRootfs": false,
 "SecurityOpt": null,
 "UTSMode": "",
 "UsernsMode": "",
 "ShmSize": 67108864,
 "Runtime": "runc",
 "ConsoleSize": [
  0,
  0
 ],
 "Isolation": "",
 "CpuShares": 0,
 "Memory": 0,
 "NanoCpus": 0,
 "CgroupParent": "",
 "BlkioWeight": 0,
 "BlkioWeightDevice": [],
 "BlkioDeviceReadBps": [],
 "BlkioDeviceWriteBps": [],
 "BlkioDeviceReadIOps": [],
 "BlkioDeviceWriteIOps": [],
 "CpuPeriod": 0,
 "CpuQuota": 0,
 "CpuRealtimePeriod": 0,
 "CpuRealtimeRuntime": 0,
 "CpusetCpus": "",
 "CpusetMems": "",
 "Devices": [],
 "DeviceCgroupRules": null,
 "DeviceRequests": null,
 "KernelMemory": 0,
 "KernelMemoryTCP": 0,
 "MemoryReservation": 0,
 "MemorySwap": 0,
 "MemorySwappiness": null,
 "OomKillDisable": false,
 "PidsLimit": null,
 "Ulimits": [],
 "CpuCount": 0,
 "CpuPercent": 0,
 "IOMaximumIOps": 0,
 "IOMaximumBandwidth": 0,
 "MaskedPaths": [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware"
 ],
 "ReadonlyPaths": [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger"
 ]
})json";
constexpr const char* kB1InspectConfig = R"json({
 "Hostname": "b5264de1247f",
 "Domainname": "",
 "User": "",
 "AttachStdin": false,
 "AttachStdout": false,
 "AttachStderr": false,
 "Tty": true,
 "OpenStdin": true,
 "StdinOnce": false,
 "Env": null,
 "Cmd": [
  "/bin/sh"
 ],
 "Image": "busybox",
 "Volumes": null,
 "WorkingDir": "",
 "Entrypoint": null,
 "OnBuild": null,
 "Labels": {}
})json";

ContainerCreateRequest Create(std::string_view body) {
  auto r = ParseContainerCreate(body, "c1");
  EXPECT_TRUE(r.ok()) << r.status() << " for " << body;
  return r.ok() ? *r : ContainerCreateRequest{};
}

TEST(SpecRenderHostConfig, IsDockersInspectOfTheSameCreate) {
  auto r = ParseContainerCreate(kB1CreateBody, "b1");
  ASSERT_TRUE(r.ok()) << r.status();
  HostConfig hc = *r->host_config;
  // What Docker 20.10's daemon filled in between that create and the inspect.
  hc.log_config.type = "json-file";
  hc.cgroupns_mode = "host";
  hc.ipc_mode = "private";
  hc.shm_size = 64 << 20;
  hc.runtime = "runc";
  hc.resources.memory_swappiness.reset();
  hc.resources.pids_limit.reset();
  hc.masked_paths = std::vector<std::string>{
      "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"};
  hc.readonly_paths = std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                               "/proc/sysrq-trigger"};
  EXPECT_EQ(RenderHostConfig(hc).dump(1), kB1InspectHostConfig);
}

TEST(SpecRenderContainerConfig, IsDockersInspectOfTheSameCreate) {
  auto r = ParseContainerCreate(kB1CreateBody, "b1");
  ASSERT_TRUE(r.ok()) << r.status();
  ContainerConfig c = r->config;
  c.hostname = "b5264de1247f";  // the short id
  c.cmd = StrSlice{"/bin/sh"};  // from the image
  c.volumes.reset();
  EXPECT_EQ(RenderContainerConfig(c).dump(1), kB1InspectConfig);
}

TEST(SpecRenderHostConfig, ShowsOmitEmptyFieldsOnlyWhenSet) {
  HostConfig hc;
  nlohmann::ordered_json plain = RenderHostConfig(hc);
  for (const char* key : {"StorageOpt", "Tmpfs", "Sysctls", "Runtime", "Mounts", "Init"}) {
    EXPECT_FALSE(plain.contains(key)) << key;
  }
  EXPECT_TRUE(plain["Binds"].is_null());
  EXPECT_EQ(plain["ConsoleSize"], nlohmann::ordered_json::parse("[0,0]"));

  hc.tmpfs = {{"/run", "rw,size=64m"}};
  hc.init = false;
  hc.mounts = {Mount{"tmpfs", "", "/scratch", false, "", std::nullopt, std::nullopt, TmpfsOptions{1 << 20, 01777}}};
  nlohmann::ordered_json set = RenderHostConfig(hc);
  EXPECT_EQ(set["Tmpfs"]["/run"], "rw,size=64m");
  EXPECT_EQ(set["Init"], false);  // a pointer: false is not empty
  EXPECT_EQ(set["Mounts"].dump(), R"([{"Type":"tmpfs","Target":"/scratch","TmpfsOptions":{"SizeBytes":1048576,"Mode":1023}}])");
  // Tmpfs sits between SecurityOpt and UTSMode, Init last: Go's struct order.
  std::vector<std::string> keys;
  for (const auto& [k, v] : set.items()) keys.push_back(k);
  auto pos = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) - keys.begin(); };
  EXPECT_LT(pos("SecurityOpt"), pos("Tmpfs"));
  EXPECT_LT(pos("Tmpfs"), pos("UTSMode"));
  EXPECT_EQ(keys.back(), "Init");
}

TEST(SpecRenderMountPoint, UsesDockersKeysAndOrder) {
  MountPoint m{"bind", "", "/srv", "/data", "", "", true, "rprivate"};
  EXPECT_EQ(RenderMountPoints({m}).dump(),
            R"([{"Type":"bind","Source":"/srv","Destination":"/data","Mode":"","RW":true,"Propagation":"rprivate"}])");
}

// Every field set to something that is not its zero value.
HostConfig FullHostConfig() {
  HostConfig hc;
  hc.binds = std::vector<std::string>{"/a:/b:ro"};
  hc.container_id_file = "/tmp/cid";
  hc.log_config = {"json-file", StringMap{{"max-size", "10m"}}};
  hc.network_mode = "net1";
  hc.port_bindings = PortMap{{"80/tcp", std::vector<PortBinding>{{"0.0.0.0", "8080"}}}, {"81/tcp", std::nullopt}};
  hc.restart_policy = {"on-failure", 5};
  hc.auto_remove = true;
  hc.volume_driver = "local";
  hc.volumes_from = std::vector<std::string>{"other:ro"};
  hc.cap_add = StrSlice{"NET_ADMIN"};
  hc.cap_drop = StrSlice{};
  hc.cgroupns_mode = "private";
  hc.dns = std::vector<std::string>{"10.0.0.1"};
  hc.dns_options = std::vector<std::string>{"ndots:2"};
  hc.dns_search = std::vector<std::string>{"example.test"};
  hc.extra_hosts = std::vector<std::string>{"db:10.0.0.5"};
  hc.group_add = std::vector<std::string>{"audio"};
  hc.ipc_mode = "shareable";
  hc.cgroup = "container:x";
  hc.links = std::vector<std::string>{"/db:/web/db"};
  hc.oom_score_adj = -500;
  hc.pid_mode = "host";
  hc.privileged = true;
  hc.publish_all_ports = true;
  hc.readonly_rootfs = true;
  hc.security_opt = std::vector<std::string>{"no-new-privileges"};
  hc.storage_opt = {{"size", "10G"}};
  hc.tmpfs = {{"/run", ""}};
  hc.uts_mode = "host";
  hc.userns_mode = "host";
  hc.shm_size = 1 << 26;
  hc.sysctls = {{"net.ipv4.ip_forward", "1"}};
  hc.runtime = "runc";
  hc.console_size = {24, 80};
  hc.isolation = "default";
  Resources& r = hc.resources;
  r.cpu_shares = 512;
  r.memory = 1 << 30;
  r.nano_cpus = 1500000000;
  r.cgroup_parent = "/berth";
  r.blkio_weight = 300;
  r.blkio_weight_device = std::vector<WeightDevice>{{"/dev/sda", 200}};
  r.blkio_device_read_bps = std::vector<ThrottleDevice>{{"/dev/sda", 1 << 20}};
  r.blkio_device_write_bps = std::vector<ThrottleDevice>{{"/dev/sda", 2 << 20}};
  r.blkio_device_read_iops = std::vector<ThrottleDevice>{{"/dev/sda", 100}};
  r.blkio_device_write_iops = std::vector<ThrottleDevice>{{"/dev/sda", 200}};
  r.cpu_period = 100000;
  r.cpu_quota = 50000;
  r.cpu_realtime_period = 1000000;
  r.cpu_realtime_runtime = 950000;
  r.cpuset_cpus = "0-1";
  r.cpuset_mems = "0";
  r.devices = std::vector<DeviceMapping>{{"/dev/fuse", "/dev/fuse", "rwm"}};
  r.device_cgroup_rules = std::vector<std::string>{"c 10:229 rwm"};
  r.device_requests = std::vector<DeviceRequest>{
      {"nvidia", -1, std::vector<std::string>{"0"}, std::vector<std::vector<std::string>>{{"gpu"}}, StringMap{{"a", "b"}}}};
  r.kernel_memory = 1 << 20;
  r.kernel_memory_tcp = 1 << 21;
  r.memory_reservation = 1 << 29;
  r.memory_swap = -1;
  r.memory_swappiness = 60;
  r.oom_kill_disable = true;
  r.pids_limit = 100;
  r.ulimits = std::vector<Ulimit>{{"nofile", 2048, 1024}};
  r.cpu_count = 2;
  r.cpu_percent = 50;
  r.io_maximum_iops = 10;
  r.io_maximum_bandwidth = 20;
  hc.mounts = {
      Mount{"bind", "/src", "/dst", true, "cached", BindOptions{"rshared", true}, std::nullopt, std::nullopt},
      Mount{"volume", "vol", "/v", false, "", std::nullopt,
            VolumeOptions{true, {{"l", "v"}}, MountDriver{"local", {{"type", "tmpfs"}}}}, std::nullopt}};
  hc.masked_paths = std::vector<std::string>{"/proc/kcore"};
  hc.readonly_paths = std::vector<std::string>{};
  hc.init = true;
  return hc;
}

TEST(SpecRoundTrip, ParseOfRenderIsTheSameHostConfig) {
  HostConfig hc = FullHostConfig();
  auto back = ParseHostConfig(RenderHostConfig(hc).dump());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, hc);
  auto zero = ParseHostConfig(RenderHostConfig(HostConfig{}).dump());
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, HostConfig{});
}

TEST(SpecRoundTrip, ParseOfRenderIsTheSameCreateRequest) {
  {
    ContainerCreateRequest r = Create(kB1CreateBody);
    r.config.healthcheck = HealthConfig{{"CMD", "true"}, 1000000000, 2000000000, 0, 3};
    r.config.stop_timeout = 5;
    r.config.labels = StringMap{{"a", "1"}};
    r.host_config = FullHostConfig();
    r.host_config->network_mode = "bridge";
    // Windows-only QoS settings that create refuses on Linux.
    r.host_config->resources.io_maximum_iops = 0;
    r.host_config->resources.io_maximum_bandwidth = 0;
    auto back = ParseContainerCreate(RenderContainerCreateBody(r).dump(), "c1");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, r);
  }
}

TEST(SpecRoundTrip, ParseOfRenderIsTheSameUpdate) {
  UpdateConfig u;
  u.resources = FullHostConfig().resources;
  u.restart_policy = {"always", 0};
  auto back = ParseContainerUpdate(RenderUpdateConfig(u).dump());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, u);
}

TEST(SpecCodec, StoresAContainerCreateAsDockersJsonWithItsName) {
  ContainerCreateRequest r = Create(kB1CreateBody);
  r.name = "web";
  r.host_config = FullHostConfig();
  std::string text = EncodeContainerCreate(r);
  EXPECT_EQ(text.rfind("{\"Hostname\":\"\",", 0), 0u) << text;
  EXPECT_NE(text.find("\"Name\":\"web\""), std::string::npos);
  auto back = DecodeContainerCreate(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  // Stored specs are not re-judged by create-time rules.
  r.host_config->network_mode = "container:x";
  r.config.hostname = "h";
  auto stored = DecodeContainerCreate(EncodeContainerCreate(r));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, r);
  EXPECT_FALSE(DecodeContainerCreate("{\"Image\":").ok());

  auto hc = DecodeHostConfig(EncodeHostConfig(FullHostConfig()));
  ASSERT_TRUE(hc.ok()) << hc.status();
  EXPECT_EQ(*hc, FullHostConfig());
}

}  // namespace
}  // namespace berth::spec
