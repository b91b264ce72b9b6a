// Container create and update parsing against the bodies the docker 28 CLI sent on this
// machine (shared/reference/api-traces), with Go's and Docker 20.10's error texts.

#include <gtest/gtest.h>

#include "spec/json/container_json.h"

namespace berth::spec {
namespace {

// `docker run -d -p 127.0.0.1:8082:80 -p 5353:53/udp web` (publish-udp-and-ip.md).
constexpr const char* kPublishCreateBody = R"json({
 "Hostname": "",
 "Domainname": "",
 "User": "",
 "AttachStdin": false,
 "AttachStdout": false,
 "AttachStderr": false,
 "ExposedPorts": {
  "53/udp": {},
  "80/tcp": {}
 },
 "Tty": false,
 "OpenStdin": false,
 "StdinOnce": false,
 "Env": null,
 "Cmd": null,
 "Image": "web",
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
  "PortBindings": {
   "53/udp": [
    {
     "HostIp": "",
     "HostPort": "5353"
    }
   ],
   "80/tcp": [
    {
     "HostIp": "127.0.0.1",
     "HostPort": "8082"
    }
   ]
  },
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

std::string CreateError(std::string_view body) {
  auto r = ParseContainerCreate(body, "c1");
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << body;
  return std::string(r.status().message());
}

ContainerCreateRequest Create(std::string_view body) {
  auto r = ParseContainerCreate(body, "c1");
  EXPECT_TRUE(r.ok()) << r.status() << " for " << body;
  return r.ok() ? *r : ContainerCreateRequest{};
}

TEST(SpecParseContainerCreate, ReadsTheCliBodyWithItsNullsAndEmpties) {
  auto r = ParseContainerCreate(kPublishCreateBody, "web1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "web1");
  const ContainerConfig& c = r->config;
  EXPECT_EQ(c.image, "web");
  EXPECT_FALSE(c.tty);
  EXPECT_FALSE(c.open_stdin);
  EXPECT_FALSE(c.env.has_value());
  EXPECT_FALSE(c.cmd.has_value());
  EXPECT_FALSE(c.entrypoint.has_value());
  ASSERT_TRUE(c.volumes.has_value());
  EXPECT_TRUE(c.volumes->empty());
  ASSERT_TRUE(c.labels.has_value());
  EXPECT_TRUE(c.labels->empty());

  ASSERT_TRUE(r->host_config.has_value());
  const HostConfig& hc = *r->host_config;
  EXPECT_FALSE(hc.binds.has_value());
  ASSERT_TRUE(hc.dns.has_value());
  EXPECT_TRUE(hc.dns->empty());
  EXPECT_EQ(hc.network_mode, "default");
  EXPECT_EQ(hc.restart_policy, (RestartPolicy{"no", 0}));
  EXPECT_EQ(hc.resources.memory_swappiness, -1);
  EXPECT_EQ(hc.resources.pids_limit, 0);
  EXPECT_EQ(hc.resources.oom_kill_disable, false);
  ASSERT_TRUE(hc.resources.ulimits.has_value());
  EXPECT_TRUE(hc.resources.ulimits->empty());
  EXPECT_FALSE(hc.resources.device_requests.has_value());
  EXPECT_FALSE(hc.masked_paths.has_value());
  EXPECT_EQ(hc.console_size, (std::array<uint64_t, 2>{0, 0}));
  EXPECT_FALSE(hc.init.has_value());

  // docker 28 names the network it was given: "default" here, with newer fields (GwPriority,
  // DNSNames) that API 1.41 does not have and that are ignored.
  ASSERT_TRUE(r->networking_config.has_value());
  ASSERT_TRUE(r->networking_config->endpoints_config.has_value());
  ASSERT_EQ(r->networking_config->endpoints_config->size(), 1u);
  const EndpointSettings& ep = r->networking_config->endpoints_config->at("default");
  EXPECT_FALSE(ep.ipam_config.has_value());
  EXPECT_FALSE(ep.aliases.has_value());
  EXPECT_FALSE(ep.driver_opts.has_value());
  EXPECT_EQ(ep, EndpointSettings{});
}

TEST(SpecParseContainerCreate, ReadsPublishedAndExposedPorts) {
  ContainerCreateRequest r = Create(kPublishCreateBody);
  EXPECT_EQ(r.config.exposed_ports, (PortSet{"53/udp", "80/tcp"}));
  ASSERT_TRUE(r.host_config->port_bindings.has_value());
  const PortMap& ports = *r.host_config->port_bindings;
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports.at("80/tcp"), (std::vector<PortBinding>{{"127.0.0.1", "8082"}}));
  EXPECT_EQ(ports.at("53/udp"), (std::vector<PortBinding>{{"", "5353"}}));
}

TEST(SpecParseContainerCreate, AcceptsNullWhereverDockerDoes) {
  ContainerCreateRequest r = Create(R"({"Image":"busybox","Hostname":null,"Tty":null,"Env":null,
      "Cmd":null,"Healthcheck":null,"StopTimeout":null,"Volumes":null,"Labels":null,
      "HostConfig":{"Binds":null,"LogConfig":null,"NetworkMode":null,"PortBindings":{"80/tcp":null},
        "RestartPolicy":{"Name":null,"MaximumRetryCount":null},"ConsoleSize":null,"Memory":null,
        "MemorySwappiness":null,"PidsLimit":null,"Ulimits":[null],"Mounts":null,"Init":null,
        "Tmpfs":null,"CapAdd":null},
      "NetworkingConfig":{"EndpointsConfig":{"n1":{"IPAMConfig":null,"Aliases":null,"IPAddress":null}}}})");
  EXPECT_EQ(r.config.image, "busybox");
  EXPECT_FALSE(r.config.labels.has_value());
  EXPECT_EQ(r.host_config->network_mode, "default");
  // An exposed-but-unpublished port keeps its null, as inspect's "Ports" shows it.
  ASSERT_EQ(r.host_config->port_bindings->count("80/tcp"), 1u);
  EXPECT_FALSE(r.host_config->port_bindings->at("80/tcp").has_value());
  EXPECT_EQ(r.host_config->resources.ulimits->size(), 1u);
  EXPECT_EQ(r.networking_config->endpoints_config->count("n1"), 1u);
}

TEST(SpecParseContainerCreate, GivesGosMessageForEachKindOfMismatch) {
  EXPECT_EQ(CreateError(R"({"Image":"b","Env":"notalist"})"),
            "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string");
  // An element of the wrong type reports the element's type, at the slice's path.
  EXPECT_EQ(CreateError(R"({"Image":"b","Env":[1]})"),
            "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type string");
  EXPECT_EQ(CreateError(R"({"Image":"b","Hostname":1})"),
            "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Hostname of type string");
  EXPECT_EQ(CreateError(R"({"Image":"b","Tty":"true"})"),
            "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Tty of type bool");
  EXPECT_EQ(CreateError(R"({"Image":"b","StopTimeout":"10"})"),
            "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.StopTimeout of type int");
  EXPECT_EQ(CreateError(R"({"Image":"b","ExposedPorts":{"80/tcp":1}})"),
            "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.ExposedPorts of type struct {}");
  EXPECT_EQ(CreateError(R"({"Image":"b","Volumes":["/data"]})"),
            "json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Volumes of type map[string]struct {}");
  EXPECT_EQ(CreateError(R"({"Image":"b","Healthcheck":{"Interval":"1s"}})"),
            "json: cannot unmarshal string into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":"x"})"),
            "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig");
  EXPECT_EQ(CreateError("[]"),
            "json: cannot unmarshal array into Go value of type runconfig.ContainerConfigWrapper");
}

TEST(SpecParseContainerCreate, NamesTheInnermostStructThenTheWholePath) {
  // Go 1.19's UnmarshalTypeError: Struct is the struct holding the field, Field the path from
  // the root; Resources is embedded in HostConfig, so its fields are HostConfig's.
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"Memory":"1g"}})"),
            "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"Binds":{}}})"),
            "json: cannot unmarshal object into Go struct field HostConfig.HostConfig.Binds of type []string");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"NetworkMode":5}})"),
            "json: cannot unmarshal number into Go struct field HostConfig.HostConfig.NetworkMode of type container.NetworkMode");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"RestartPolicy":{"MaximumRetryCount":"3"}}})"),
            "json: cannot unmarshal string into Go struct field RestartPolicy.HostConfig.RestartPolicy.MaximumRetryCount of type int");
  // Map keys are not part of the path.
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":8080}]}}})"),
            "json: cannot unmarshal number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"PortBindings":{"80/tcp":"8080"}}})"),
            "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.PortBindings of type []nat.PortBinding");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"Ulimits":[1]}})"),
            "json: cannot unmarshal number into Go struct field HostConfig.HostConfig.Ulimits of type units.Ulimit");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"Mounts":[{"TmpfsOptions":{"Mode":"0755"}}]}})"),
            "json: cannot unmarshal string into Go struct field TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode of type fs.FileMode");
  EXPECT_EQ(CreateError(R"({"Image":"b","NetworkingConfig":{"EndpointsConfig":{"n":{"Aliases":"a"}}}})"),
            "json: cannot unmarshal string into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases of type []string");
  // The deprecated top-level HostConfig fields are promoted into the wrapper itself.
  EXPECT_EQ(CreateError(R"({"Image":"b","Memory":"x"})"),
            "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Memory of type int64");
}

TEST(SpecParseContainerCreate, NumbersThatDoNotFitAreQuoted) {
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"Memory":1.5}})"),
            "json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"Memory":1e3}})"),
            "json: cannot unmarshal number 1e3 into Go struct field HostConfig.HostConfig.Memory of type int64");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"Memory":9223372036854775808}})"),
            "json: cannot unmarshal number 9223372036854775808 into Go struct field HostConfig.HostConfig.Memory of type int64");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"BlkioWeight":70000}})"),
            "json: cannot unmarshal number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"ConsoleSize":[24,-1]}})"),
            "json: cannot unmarshal number -1 into Go struct field HostConfig.HostConfig.ConsoleSize of type uint");
  EXPECT_EQ(Create(R"({"Image":"b","HostConfig":{"Memory":-0,"MemorySwap":-1}})").host_config->resources.memory_swap, -1);
}

TEST(SpecParseContainerCreate, FirstMismatchWinsButAStrSliceErrorStopsEverything) {
  EXPECT_EQ(CreateError(R"({"Image":"b","Env":"x","Tty":"y"})"),
            "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string");
  // StrSlice's UnmarshalJSON returns its own error: it ends decoding and replaces a saved one.
  EXPECT_EQ(CreateError(R"({"Image":"b","Tty":"y","Cmd":1})"),
            "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string");
  EXPECT_EQ(CreateError(R"({"Image":"b","Cmd":[1]})"),
            "json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Cmd of type string");
  EXPECT_EQ(CreateError(R"({"Image":"b","Entrypoint":{}})"),
            "json: cannot unmarshal object into Go struct field ContainerConfigWrapper.Entrypoint of type string");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"CapAdd":true}})"),
            "json: cannot unmarshal bool into Go struct field HostConfig.HostConfig.CapAdd of type string");
}

TEST(SpecParseContainerCreate, SyntaxErrorsAndEmptyBodiesAreGosAndDockersTexts) {
  EXPECT_EQ(CreateError(R"({"Image": x})"), "invalid character 'x' looking for beginning of value");
  EXPECT_EQ(CreateError(R"({"Image":"b",})"), "invalid character '}' looking for beginning of object key string");
  EXPECT_EQ(CreateError(R"({"Image":"b")"), "unexpected EOF");
  EXPECT_EQ(CreateError(""), "EOF");
  EXPECT_EQ(CreateError("null"), "Config cannot be empty in order to create a container");
  EXPECT_EQ(CreateError("{}"), "Config cannot be empty in order to create a container");
  // Only a Config key allocates Config: HostConfig alone does not.
  EXPECT_EQ(CreateError(R"({"HostConfig":{}})"), "Config cannot be empty in order to create a container");
  // ... but any Config key does, even a null one (Go allocates the embedded pointer first).
  EXPECT_EQ(Create(R"({"Env":null})").config.image, "");
  // json.Decoder reads one value: what follows it is never looked at.
  EXPECT_EQ(Create(R"({"Image":"b"} trailing)").config.image, "b");
}

TEST(SpecParseContainerCreate, MatchesKeysCaseInsensitivelyPreferringExact) {
  ContainerCreateRequest r = Create(
      R"({"image":"busybox","CMD":"sh","hostconfig":{"memory":5,"networkmode":"host","dns":["1.1.1.1"]}})");
  EXPECT_EQ(r.config.image, "busybox");
  EXPECT_EQ(r.config.cmd, (StrSlice{"sh"}));
  EXPECT_EQ(r.host_config->resources.memory, 5);
  EXPECT_EQ(r.host_config->network_mode, "host");
  EXPECT_EQ(r.host_config->dns, (std::vector<std::string>{"1.1.1.1"}));
  // Both keys land on the same field; each is applied in document order.
  EXPECT_EQ(Create(R"({"image":"a","Image":"b"})").config.image, "b");
  EXPECT_EQ(Create(R"({"Image":"b","image":"a"})").config.image, "a");
  // Go folds the Kelvin sign onto k.
  EXPECT_EQ(Create("{\"Image\":\"b\",\"HostConfig\":{\"Lin\xE2\x84\xAAs\":[\"x:y\"]}}").host_config->links,
            (std::vector<std::string>{"x:y"}));
}

TEST(SpecParseContainerCreate, StrSliceTakesAStringOrAnArray) {
  ContainerCreateRequest r = Create(R"({"Image":"b","Cmd":"echo hi","Entrypoint":["/bin/sh","-c"],"Shell":"sh"})");
  EXPECT_EQ(r.config.cmd, (StrSlice{"echo hi"}));
  EXPECT_EQ(r.config.entrypoint, (StrSlice{"/bin/sh", "-c"}));
  EXPECT_EQ(r.config.shell, (StrSlice{"sh"}));
  ContainerCreateRequest empty = Create(R"({"Image":"b","Cmd":[],"Entrypoint":[null]})");
  ASSERT_TRUE(empty.config.cmd.has_value());
  EXPECT_TRUE(empty.config.cmd->empty());
  EXPECT_EQ(empty.config.entrypoint, (StrSlice{""}));
}

TEST(SpecParseContainerCreate, IgnoresFieldsItDoesNotKnow) {
  ContainerCreateRequest r = Create(
      R"({"Image":"b","Foo":{"Bar":[1,2]},"NetworkingConfig":{"EndpointsConfig":{"n":{"GwPriority":0,"DNSNames":null,"Aliases":["w"]}}}})");
  EXPECT_EQ(r.networking_config->endpoints_config->at("n").aliases, (std::vector<std::string>{"w"}));
}

TEST(SpecParseContainerCreate, MergesTheDeprecatedTopLevelHostConfigAsDockerDoes) {
  ContainerCreateRequest alone = Create(R"({"Image":"b","Binds":["/a:/b"],"Memory":5})");
  ASSERT_TRUE(alone.host_config.has_value());
  EXPECT_EQ(alone.host_config->binds, (std::vector<std::string>{"/a:/b"}));
  EXPECT_EQ(alone.host_config->resources.memory, 5);
  EXPECT_EQ(alone.host_config->network_mode, "default");

  ContainerCreateRequest both =
      Create(R"({"Image":"b","Binds":["/a:/b"],"Memory":7,"Cpuset":"0-1","HostConfig":{"Binds":["/c:/d"]}})");
  EXPECT_EQ(both.host_config->binds, (std::vector<std::string>{"/c:/d"}));
  EXPECT_EQ(both.host_config->resources.memory, 7);
  EXPECT_EQ(both.host_config->resources.cpuset_cpus, "0-1");
}

TEST(SpecParseContainerCreate, LeavesAMissingHostConfigMissing) {
  ContainerCreateRequest r = Create(R"({"Image":"b"})");
  EXPECT_FALSE(r.host_config.has_value());
  EXPECT_FALSE(r.config.volumes.has_value());
  EXPECT_FALSE(r.networking_config.has_value());
}

TEST(SpecParseContainerCreate, RefusesNetworkModeConflictsWithDockersWords) {
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"NetworkMode":"container:"}})"),
            "Invalid network mode: invalid container format container:<name|id>");
  EXPECT_EQ(CreateError(R"({"Image":"b","Hostname":"h","HostConfig":{"NetworkMode":"container:c1"}})"),
            "conflicting options: hostname and the network mode");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"NetworkMode":"container:c1","PortBindings":{"80/tcp":[]}}})"),
            "conflicting options: port publishing and the container type network mode");
  EXPECT_EQ(CreateError(R"({"Image":"b","ExposedPorts":{"80/tcp":{}},"HostConfig":{"NetworkMode":"container:c1"}})"),
            "conflicting options: port exposing and the container type network mode");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"NetworkMode":"host","Links":["a:b"]}})"),
            "conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  EXPECT_EQ(CreateError(R"({"Image":"b","MacAddress":"02:42:ac:11:00:09","HostConfig":{"NetworkMode":"host"}})"),
            "conflicting options: mac-address and the network mode");
  EXPECT_EQ(CreateError(R"({"Image":"b","Hostname":"h","HostConfig":{"UTSMode":"host"}})"),
            "conflicting options: hostname and the UTS mode");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"Isolation":"hyperv"}})"),
            "Invalid isolation: \"hyperv\" - linux only supports 'default'");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"IOMaximumIOps":5}})"),
            "Invalid QoS settings: linux does not support configuration of maximum IOPs");
  EXPECT_EQ(CreateError(R"({"Image":"b","HostConfig":{"CpuRealtimePeriod":1000,"CpuRealtimeRuntime":2000}})"),
            "cpu real-time runtime cannot be higher than cpu real-time period");
  EXPECT_TRUE(ParseContainerCreate(R"({"Image":"b","HostConfig":{"Isolation":"Default"}})", "c1").ok());
}

TEST(SpecParseContainerCreate, RefusesNamesDockerRefuses) {
  EXPECT_TRUE(ParseContainerCreate(R"({"Image":"b"})", "web_1.a-b").ok());
  EXPECT_TRUE(ParseContainerCreate(R"({"Image":"b"})", "/web").ok());
  EXPECT_TRUE(ParseContainerCreate(R"({"Image":"b"})", "").ok());  // Docker makes one up
  for (const char* name : {"-web", "we b", "a", "web/1", "/"}) {
    auto r = ParseContainerCreate(R"({"Image":"b"})", name);
    EXPECT_EQ(r.status().message(), absl::StrCat("Invalid container name (", name,
                                                  "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"));
  }
}

TEST(SpecParseContainerUpdate, ReadsResourcesAndRestartPolicy) {
  auto u = ParseContainerUpdate(R"({"Memory":1048576,"CpuShares":512,"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"PidsLimit":-1})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->resources.memory, 1048576);
  EXPECT_EQ(u->resources.cpu_shares, 512);
  EXPECT_EQ(u->restart_policy, (RestartPolicy{"on-failure", 3}));
  EXPECT_EQ(u->resources.pids_limit, 0);  // <= 0 means unlimited
  EXPECT_EQ(ParseContainerUpdate(R"({"Memory":"x"})").status().message(),
            "json: cannot unmarshal string into Go struct field UpdateConfig.Memory of type int64");
  EXPECT_EQ(ParseContainerUpdate("").status().message(), "EOF");
}

}  // namespace
}  // namespace berth::spec
