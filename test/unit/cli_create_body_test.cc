// The request bodies run/create and network create send, against what the docker CLI sent in
// /work/shared/reference/api-traces (run-default-b1, publish-udp-and-ip, macvlan-run-m2,
// testbridge1-create-tutorial-form, testNetwork-create) and the client-side IPAM checks of the
// transcript.

#include "cli/container_opts.h"
#include "cli/network_opts.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using nlohmann::json;

// api-traces/run-default-b1.md: docker run -d -it --name b1 busybox
constexpr const char* kRunB1Body =
    R"json({"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":true,"OpenStdin":true,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}})json";

StatusOr<CreateRequest> Build(std::vector<std::string> args, bool is_run = true) {
  ContainerOptions o;
  FlagSet f;
  RegisterContainerFlags(f, &o, is_run);
  std::vector<std::string> pos;
  RETURN_IF_ERROR(f.Parse(args, &pos));
  return BuildCreateRequest(o, f, pos);
}

TEST(CliCreateBodyTest, RunDetachedInteractiveTtyMatchesTrace) {
  auto req = Build({"-d", "-it", "--name", "b1", "busybox"});
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->name, "b1");
  EXPECT_EQ(req->body, json::parse(kRunB1Body)) << req->body.dump(1);
}

TEST(CliCreateBodyTest, ForegroundInteractiveAttachesAllStreams) {
  auto req = Build({"-it", "busybox", "sh"});
  ASSERT_TRUE(req.ok());
  const json& b = req->body;
  EXPECT_TRUE(b["AttachStdin"]);
  EXPECT_TRUE(b["AttachStdout"]);
  EXPECT_TRUE(b["AttachStderr"]);
  EXPECT_TRUE(b["OpenStdin"]);
  EXPECT_TRUE(b["StdinOnce"]);
  EXPECT_EQ(b["Cmd"], json::array({"sh"}));
  auto plain = Build({"busybox", "echo", "hi"});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->body["AttachStdin"]);
  EXPECT_TRUE(plain->body["AttachStdout"]);
  EXPECT_FALSE(plain->body["StdinOnce"]);
}

TEST(CliCreateBodyTest, PublishMatchesTraceOfPweb4) {
  auto req =
      Build({"-d", "-p", "127.0.0.1:8082:80/tcp", "-p", "5353:53/udp", "--name", "pweb4", "web"});
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->body["ExposedPorts"], json::parse(R"({"53/udp":{},"80/tcp":{}})"));
  EXPECT_EQ(req->body["HostConfig"]["PortBindings"], json::parse(R"({
    "53/udp":[{"HostIp":"","HostPort":"5353"}],
    "80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8082"}]})"));
  EXPECT_FALSE(req->body["Tty"]);
  EXPECT_FALSE(req->body["OpenStdin"]);
}

TEST(CliCreateBodyTest, StaticIpGoesToTheNetworksEndpoint) {
  // api-traces/macvlan-run-m2.md
  auto req =
      Build({"-d", "-it", "--name", "mac2", "--net=macvlan50", "--ip=192.168.50.20", "busybox"});
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->body["HostConfig"]["NetworkMode"], "macvlan50");
  const json& ep = req->body["NetworkingConfig"]["EndpointsConfig"]["macvlan50"];
  EXPECT_EQ(ep["IPAMConfig"], json::parse(R"({"IPv4Address":"192.168.50.20"})"));
  EXPECT_EQ(ep["Aliases"], nullptr);
  EXPECT_EQ(ep["DNSNames"], nullptr);
}

TEST(CliCreateBodyTest, SingleNetworkWithoutOptionsSendsNoEndpoint) {
  // api-traces/testNetwork-run-c1.md and run-host-test.md: "EndpointsConfig": {}
  for (const char* net : {"--net=testNetwork", "--net=host", "--network=none"}) {
    auto req = Build({"-itd", "--name=c1", net, "busybox"});
    ASSERT_TRUE(req.ok());
    EXPECT_EQ(req->body["NetworkingConfig"]["EndpointsConfig"], json::object()) << net;
  }
  auto alias = Build({"--net=host", "--network-alias=a", "busybox"});
  EXPECT_EQ(alias.status().message(),
            "network-scoped aliases are only supported for user-defined networks");
}

TEST(CliCreateBodyTest, ResourceAndMiscFlags) {
  auto req = Build({"-m",
                    "512m",
                    "--cpus",
                    "1.5",
                    "--restart",
                    "on-failure:3",
                    "-e",
                    "A=1",
                    "-l",
                    "k=v",
                    "-w",
                    "/tmp",
                    "-u",
                    "nobody",
                    "--entrypoint",
                    "/bin/sh",
                    "-h",
                    "box",
                    "--privileged",
                    "--cap-add",
                    "NET_ADMIN",
                    "--cap-drop",
                    "MKNOD",
                    "--dns",
                    "1.1.1.1",
                    "--add-host",
                    "db:10.0.0.2",
                    "-v",
                    "/srv:/data:ro",
                    "-v",
                    "/anon",
                    "-P",
                    "--mac-address",
                    "02:42:ac:11:00:09",
                    "--rm=false",
                    "busybox",
                    "-c",
                    "ls -l"});
  ASSERT_TRUE(req.ok()) << req.status();
  const json& b = req->body;
  const json& hc = b["HostConfig"];
  EXPECT_EQ(hc["Memory"], 512LL * 1024 * 1024);
  EXPECT_EQ(hc["NanoCpus"], 1500000000LL);
  EXPECT_EQ(hc["RestartPolicy"], json::parse(R"({"Name":"on-failure","MaximumRetryCount":3})"));
  EXPECT_EQ(b["Env"], json::array({"A=1"}));
  EXPECT_EQ(b["Labels"], json::parse(R"({"k":"v"})"));
  EXPECT_EQ(b["WorkingDir"], "/tmp");
  EXPECT_EQ(b["User"], "nobody");
  EXPECT_EQ(b["Entrypoint"], json::array({"/bin/sh"}));
  EXPECT_EQ(b["Cmd"], json::array({"-c", "ls -l"}));
  EXPECT_EQ(b["Hostname"], "box");
  EXPECT_EQ(b["MacAddress"], "02:42:ac:11:00:09");
  EXPECT_TRUE(hc["Privileged"]);
  EXPECT_TRUE(hc["PublishAllPorts"]);
  EXPECT_EQ(hc["CapAdd"], json::array({"CAP_NET_ADMIN"}));
  EXPECT_EQ(hc["CapDrop"], json::array({"CAP_MKNOD"}));
  EXPECT_EQ(hc["Dns"], json::array({"1.1.1.1"}));
  EXPECT_EQ(hc["ExtraHosts"], json::array({"db:10.0.0.2"}));
  EXPECT_EQ(hc["Binds"], json::array({"/srv:/data:ro"}));
  EXPECT_EQ(b["Volumes"], json::parse(R"({"/anon":{}})"));
}

TEST(CliCreateBodyTest, EmptyEntrypointResetsIt) {
  auto req = Build({"--entrypoint=", "busybox"});
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->body["Entrypoint"], json::array({""}));
}

TEST(CliCreateBodyTest, ClientSideErrors) {
  EXPECT_EQ(Build({"--rm", "--restart=always", "busybox"}).status().message(),
            "conflicting options: cannot specify both --restart and --rm");
  EXPECT_EQ(Build({"--mac-address=zz", "busybox"}).status().message(),
            "zz is not a valid mac address");
  EXPECT_FALSE(Build({"-m", "lots", "busybox"}).ok());
  EXPECT_FALSE(Build({"--restart=sometimes", "busybox"}).ok());
  EXPECT_FALSE(Build({"-p", "x:y", "busybox"}).ok());
}

TEST(CliCreateBodyTest, FamiliarNameGetsLatest) {
  EXPECT_EQ(FamiliarWithTag("busybox"), "busybox:latest");
  EXPECT_EQ(FamiliarWithTag("web:v2"), "web:v2");
  EXPECT_EQ(FamiliarWithTag("localhost:5000/web"), "localhost:5000/web:latest");
}

// ------------------------------------------------------------ network create

StatusOr<json> NetBody(NetworkCreateOptions o) { return BuildNetworkCreateBody(o); }

TEST(CliNetworkBodyTest, TutorialFormMatchesTrace) {
  NetworkCreateOptions o;
  o.name = "testbridge1";
  o.driver = "bridge";
  o.subnets = {"10.15.20.0/24"};
  o.gateways = {"10.15.20.1"};
  o.aux_addresses = {"1=10.15.20.2", "2=10.15.20.3"};
  o.opts = {"com.docker.network.bridge.host_binding_ipv4=10.10.10.101",
            "com.docker.network.bridge.name=linuxbridge1"};
  auto body = NetBody(o);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, json::parse(R"({
    "Driver": "bridge", "Scope": "",
    "IPAM": {"Driver": "default", "Options": {}, "Config": [{
      "Subnet": "10.15.20.0/24", "Gateway": "10.15.20.1",
      "AuxiliaryAddresses": {"1": "10.15.20.2", "2": "10.15.20.3"}}]},
    "Internal": false, "Attachable": false, "Ingress": false, "ConfigOnly": false,
    "ConfigFrom": null,
    "Options": {"com.docker.network.bridge.host_binding_ipv4": "10.10.10.101",
                "com.docker.network.bridge.name": "linuxbridge1"},
    "Labels": {}, "Name": "testbridge1", "CheckDuplicate": true})"));
}

TEST(CliNetworkBodyTest, PlainCreateMatchesTrace) {
  NetworkCreateOptions o;
  o.name = "testNetwork";
  auto body = NetBody(o);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, json::parse(R"({
    "Driver": "bridge", "Scope": "", "IPAM": {"Driver": "default", "Options": {}, "Config": []},
    "Internal": false, "Attachable": false, "Ingress": false, "ConfigOnly": false,
    "ConfigFrom": null, "Options": {}, "Labels": {}, "Name": "testNetwork",
    "CheckDuplicate": true})"));
}

TEST(CliNetworkBodyTest, IpRangeAndGateway) {
  NetworkCreateOptions o;
  o.name = "br-iprange";
  o.subnets = {"172.28.0.0/16"};
  o.ip_ranges = {"172.28.5.0/24"};
  o.gateways = {"172.28.5.254"};
  auto body = NetBody(o);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)["IPAM"]["Config"], json::parse(R"([{
    "Subnet":"172.28.0.0/16","IPRange":"172.28.5.0/24","Gateway":"172.28.5.254"}])"));
}

TEST(CliNetworkBodyTest, TranscriptValidationMessages) {
  NetworkCreateOptions bare;
  bare.subnets = {"10.16.0.0/24"};
  bare.aux_addresses = {"10.16.0.2"};
  // Note the trailing space: the bare value is read as an empty address.
  EXPECT_EQ(NetBody(bare).status().message(), "no matching subnet for aux-address ");
  NetworkCreateOptions outside;
  outside.subnets = {"10.16.2.0/24"};
  outside.aux_addresses = {"a=10.99.0.5"};
  EXPECT_EQ(NetBody(outside).status().message(), "no matching subnet for aux-address 10.99.0.5");
  NetworkCreateOptions nosub;
  nosub.aux_addresses = {"a=10.16.3.5"};
  EXPECT_EQ(NetBody(nosub).status().message(), "no matching subnet for aux-address 10.16.3.5");
  NetworkCreateOptions gw;
  gw.subnets = {"10.16.4.0/24"};
  gw.gateways = {"10.17.0.1"};
  EXPECT_EQ(NetBody(gw).status().message(), "no matching subnet for gateway 10.17.0.1");
  NetworkCreateOptions range;
  range.subnets = {"10.18.0.0/24"};
  range.ip_ranges = {"10.19.0.0/24"};
  EXPECT_EQ(NetBody(range).status().message(), "no matching subnet for range 10.19.0.0/24");
  NetworkCreateOptions lonely;
  lonely.gateways = {"10.0.0.1"};
  EXPECT_EQ(NetBody(lonely).status().message(),
            "every ip-range or gateway must have a corresponding subnet");
  NetworkCreateOptions overlap;
  overlap.subnets = {"10.0.0.0/16", "10.0.1.0/24"};
  EXPECT_EQ(NetBody(overlap).status().message(),
            "multiple overlapping subnet configuration is not supported");
  NetworkCreateOptions named;
  named.subnets = {"10.16.1.0/24"};
  named.aux_addresses = {"my-router=10.16.1.5", "my-switch=10.16.1.6"};
  auto ok = NetBody(named);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["IPAM"]["Config"][0]["AuxiliaryAddresses"],
            json::parse(R"({"my-router":"10.16.1.5","my-switch":"10.16.1.6"})"));
}

TEST(CliNetworkBodyTest, SubnetContainment) {
  EXPECT_TRUE(*SubnetContains("10.15.20.0/24", "10.15.20.7"));
  EXPECT_FALSE(*SubnetContains("10.15.20.0/24", "10.15.21.7"));
  EXPECT_TRUE(*SubnetContains("172.28.0.0/16", "172.28.5.0/24"));
  EXPECT_FALSE(*SubnetContains("172.28.5.0/24", "172.28.0.0/16"));
  EXPECT_TRUE(*SubnetContains("fd00::/64", "fd00::1"));
  EXPECT_FALSE(*SubnetContains("10.0.0.0/8", "fd00::1"));
  EXPECT_FALSE(SubnetContains("bogus", "10.0.0.1").ok());
}

TEST(CliNetworkBodyTest, ListItem) {
  json n = json::parse(
      R"({"Name":"bridge","Id":"955830a6de53e8a11be15968983b31cba44993df7b0940d43d682224ba5f6e95",
    "Driver":"bridge","Scope":"local","EnableIPv6":false,"Internal":false,"Labels":{"b":"2","a":"1"}})");
  json item = NetworkListItem(n, true);
  EXPECT_EQ(item["ID"], "955830a6de53");
  EXPECT_EQ(item["Labels"], "a=1,b=2");
  EXPECT_EQ(NetworkListItem(n, false)["ID"].get<std::string>().size(), 64u);
}

}  // namespace
}  // namespace berth::cli
