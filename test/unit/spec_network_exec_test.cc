// Network create/connect/disconnect, endpoint settings and exec requests against the bodies the
// docker 28 CLI sent on this machine (shared/reference/api-traces).

#include <gtest/gtest.h>

#include "spec/codec.h"
#include "spec/json/exec_json.h"
#include "spec/json/network_json.h"

namespace berth::spec {
namespace {

// `docker network create --subnet 10.16.1.0/24 --aux-address my-router=10.16.1.5 ...`
// (aux-address-named-key.md).
constexpr const char* kAuxNetworkCreate = R"json({
 "Driver": "bridge",
 "Scope": "",
 "IPAM": {
  "Driver": "default",
  "Options": {},
  "Config": [
   {
    "Subnet": "10.16.1.0/24",
    "AuxiliaryAddresses": {
     "my-router": "10.16.1.5",
     "my-switch": "10.16.1.6"
    }
   }
  ]
 },
 "Internal": false,
 "Attachable": false,
 "Ingress": false,
 "ConfigOnly": false,
 "ConfigFrom": null,
 "Options": {},
 "Labels": {},
 "Name": "auxnamed",
 "CheckDuplicate": true
})json";

// `docker network connect --alias web1 testNetwork c1` (testNetwork-connect-c1-alias.md).
constexpr const char* kConnectWithAlias = R"json({
 "Container": "c1",
 "EndpointConfig": {
  "IPAMConfig": {},
  "Links": null,
  "Aliases": [
   "web1"
  ],
  "MacAddress": "",
  "DriverOpts": {},
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
})json";

// `docker exec b1 cat /etc/resolv.conf /etc/hosts` (b1-resolv-conf.md).
constexpr const char* kExecCreate = R"json({
 "User": "",
 "Privileged": false,
 "Tty": false,
 "AttachStdin": false,
 "AttachStderr": true,
 "AttachStdout": true,
 "Detach": false,
 "DetachKeys": "",
 "Env": null,
 "WorkingDir": "",
 "Cmd": [
  "cat",
  "/etc/resolv.conf",
  "/etc/hosts"
 ]
})json";

TEST(SpecParseNetworkCreate, ReadsTheCliBody) {
  auto r = ParseNetworkCreate(kAuxNetworkCreate);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "auxnamed");
  EXPECT_TRUE(r->check_duplicate);
  EXPECT_EQ(r->driver, "bridge");
  ASSERT_TRUE(r->ipam.has_value());
  EXPECT_EQ(r->ipam->driver, "default");
  ASSERT_TRUE(r->ipam->config.has_value());
  ASSERT_EQ(r->ipam->config->size(), 1u);
  const IPAMConfig& pool = r->ipam->config->front();
  EXPECT_EQ(pool.subnet, "10.16.1.0/24");
  EXPECT_EQ(pool.ip_range, "");
  EXPECT_EQ(pool.aux_addresses, (StringMap{{"my-router", "10.16.1.5"}, {"my-switch", "10.16.1.6"}}));
  EXPECT_FALSE(r->config_from.has_value());
  ASSERT_TRUE(r->options.has_value());
  EXPECT_TRUE(r->options->empty());
}

TEST(SpecParseNetworkCreate, AcceptsNullsDockerAccepts) {
  auto r = ParseNetworkCreate(
      R"({"Name":"n","Driver":null,"IPAM":{"Driver":null,"Options":null,"Config":[{"Subnet":"10.1.0.0/16","IPRange":null,"Gateway":null,"AuxiliaryAddresses":null}]},"Options":null,"Labels":null,"EnableIPv6":null})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ipam->config->front().subnet, "10.1.0.0/16");
  EXPECT_EQ(r->ipam->config->front().ip_range, "");
  EXPECT_FALSE(r->labels.has_value());
}

TEST(SpecParseNetworkCreate, GivesGosAndDockersMessages) {
  EXPECT_EQ(ParseNetworkCreate(R"({"Name":"n","Internal":"yes"})").status().message(),
            "json: cannot unmarshal string into Go struct field NetworkCreateRequest.Internal of type bool");
  EXPECT_EQ(ParseNetworkCreate(R"({"Name":"n","IPAM":{"Config":[{"Subnet":10}]}})").status().message(),
            "json: cannot unmarshal number into Go struct field IPAMConfig.IPAM.Config.Subnet of type string");
  EXPECT_EQ(ParseNetworkCreate(R"({"Name":"n","IPAM":{"Config":{"Subnet":"10.0.0.0/8"}}})").status().message(),
            "json: cannot unmarshal object into Go struct field IPAM.IPAM.Config of type []network.IPAMConfig");
  EXPECT_EQ(ParseNetworkCreate(R"({"Name":"n","Labels":["a=b"]})").status().message(),
            "json: cannot unmarshal array into Go struct field NetworkCreateRequest.Labels of type map[string]string");
  EXPECT_EQ(ParseNetworkCreate(R"({"Name":"n","Options":{"mtu":1500}})").status().message(),
            "json: cannot unmarshal number into Go struct field NetworkCreateRequest.Options of type string");
  EXPECT_EQ(ParseNetworkCreate("").status().message(), "got EOF while reading request body");
  EXPECT_EQ(ParseNetworkCreate("{").status().message(), "unexpected EOF");
  EXPECT_EQ(ParseNetworkCreate(R"({"Name" "n"})").status().message(), "invalid character '\"' after object key");
  EXPECT_EQ(ParseNetworkCreate("\"n\"").status().message(),
            "json: cannot unmarshal string into Go value of type types.NetworkCreateRequest");
  EXPECT_EQ(ParseNetworkCreate("{}").status().code(), absl::StatusCode::kOk);
}

TEST(SpecParseNetworkConnect, ReadsTheCliBody) {
  auto r = ParseNetworkConnect(kConnectWithAlias);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->container, "c1");
  ASSERT_TRUE(r->endpoint_config.has_value());
  const EndpointSettings& ep = *r->endpoint_config;
  ASSERT_TRUE(ep.ipam_config.has_value());
  EXPECT_EQ(*ep.ipam_config, EndpointIPAMConfig{});
  EXPECT_FALSE(ep.links.has_value());
  EXPECT_EQ(ep.aliases, (std::vector<std::string>{"web1"}));
  ASSERT_TRUE(ep.driver_opts.has_value());
  EXPECT_TRUE(ep.driver_opts->empty());

  auto ip = ParseNetworkConnect(
      R"({"Container":"c2","EndpointConfig":{"IPAMConfig":{"IPv4Address":"172.28.9.9","LinkLocalIPs":["169.254.1.1"]}}})");
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(ip->endpoint_config->ipam_config->ipv4_address, "172.28.9.9");
  EXPECT_EQ(ip->endpoint_config->ipam_config->link_local_ips, (std::vector<std::string>{"169.254.1.1"}));

  auto bare = ParseNetworkConnect(R"({"Container":"c3"})");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->endpoint_config.has_value());
  EXPECT_EQ(ParseNetworkConnect(R"({"Container":"c","EndpointConfig":{"IPPrefixLen":"16"}})").status().message(),
            "json: cannot unmarshal string into Go struct field EndpointSettings.EndpointConfig.IPPrefixLen of type int");
  EXPECT_EQ(ParseNetworkConnect("").status().message(), "got EOF while reading request body");
}

TEST(SpecParseNetworkDisconnect, ReadsTheCliBody) {
  auto r = ParseNetworkDisconnect("{\n \"Container\": \"c1\",\n \"Force\": false\n}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (NetworkDisconnect{"c1", false}));
  EXPECT_EQ(ParseNetworkDisconnect(R"({"container":"c1","force":true})").value(), (NetworkDisconnect{"c1", true}));
  EXPECT_EQ(ParseNetworkDisconnect(R"({"Container":"c1","Force":1})").status().message(),
            "json: cannot unmarshal number into Go struct field NetworkDisconnect.Force of type bool");
}

TEST(SpecRenderEndpointSettings, IsDockersInspectEntry) {
  // NetworkSettings.Networks.bridge of b1 (b1-resolv-conf.md).
  EndpointSettings ep;
  ep.network_id = "955830a6de53e8a11be15968983b31cba44993df7b0940d43d682224ba5f6e95";
  ep.endpoint_id = "c989f1da8aa48de090fa8a2d0a4c3e5b4477d3469dfd9fb0863554c6142c6ce0";
  ep.gateway = "172.17.0.1";
  ep.ip_address = "172.17.0.2";
  ep.ip_prefix_len = 16;
  ep.mac_address = "02:42:ac:11:00:02";
  EXPECT_EQ(RenderEndpointSettings(ep).dump(1), R"json({
 "IPAMConfig": null,
 "Links": null,
 "Aliases": null,
 "NetworkID": "955830a6de53e8a11be15968983b31cba44993df7b0940d43d682224ba5f6e95",
 "EndpointID": "c989f1da8aa48de090fa8a2d0a4c3e5b4477d3469dfd9fb0863554c6142c6ce0",
 "Gateway": "172.17.0.1",
 "IPAddress": "172.17.0.2",
 "IPPrefixLen": 16,
 "IPv6Gateway": "",
 "GlobalIPv6Address": "",
 "GlobalIPv6PrefixLen": 0,
 "MacAddress": "02:42:ac:11:00:02",
 "DriverOpts": null
})json");
  ep.ipam_config = EndpointIPAMConfig{"172.28.9.9", "", {}};
  EXPECT_EQ(RenderEndpointSettings(ep)["IPAMConfig"].dump(), R"({"IPv4Address":"172.28.9.9"})");
}

TEST(SpecRenderIpam, IsDockersNetworkInspectSection) {
  auto r = ParseNetworkCreate(kAuxNetworkCreate);
  ASSERT_TRUE(r.ok());
  // The "IPAM" of `docker network inspect auxnamed` (aux-address-named-key.md).
  EXPECT_EQ(RenderIpam(*r->ipam).dump(1), R"json({
 "Driver": "default",
 "Options": {},
 "Config": [
  {
   "Subnet": "10.16.1.0/24",
   "AuxiliaryAddresses": {
    "my-router": "10.16.1.5",
    "my-switch": "10.16.1.6"
   }
  }
 ]
})json");
}

TEST(SpecRoundTrip, NetworkRequestsAndEndpointSettings) {
  NetworkCreateRequest n;
  n.name = "n1";
  n.check_duplicate = true;
  n.driver = "macvlan";
  n.scope = "local";
  n.enable_ipv6 = true;
  n.ipam = IPAM{"default", StringMap{{"o", "v"}},
                std::vector<IPAMConfig>{{"10.1.0.0/16", "10.1.5.0/24", "10.1.0.1", {{"r", "10.1.0.2"}}}}};
  n.internal = n.attachable = n.ingress = n.config_only = true;
  n.config_from = ConfigReference{"base"};
  n.options = StringMap{{"parent", "eth0"}};
  n.labels = StringMap{};
  auto back = ParseNetworkCreate(RenderNetworkCreate(n).dump());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, n);
  auto stored = DecodeNetworkCreate(EncodeNetworkCreate(n));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, n);
  // Name comes last: NetworkCreateRequest embeds NetworkCreate, then declares Name.
  EXPECT_EQ(RenderNetworkCreate(NetworkCreateRequest{}).dump(),
            R"({"CheckDuplicate":false,"Driver":"","Scope":"","EnableIPv6":false,"IPAM":null,"Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":null,"Labels":null,"Name":""})");

  EndpointSettings ep;
  ep.ipam_config = EndpointIPAMConfig{"10.1.0.9", "fd00::9", {"169.254.0.9"}};
  ep.links = std::vector<std::string>{"a:b"};
  ep.aliases = std::vector<std::string>{};
  ep.network_id = "nid";
  ep.endpoint_id = "eid";
  ep.gateway = "10.1.0.1";
  ep.ip_address = "10.1.0.9";
  ep.ip_prefix_len = 16;
  ep.ipv6_gateway = "fd00::1";
  ep.global_ipv6_address = "fd00::9";
  ep.global_ipv6_prefix_len = 64;
  ep.mac_address = "02:42:0a:01:00:09";
  ep.driver_opts = StringMap{{"k", "v"}};
  auto ep_back = DecodeEndpointSettings(EncodeEndpointSettings(ep));
  ASSERT_TRUE(ep_back.ok()) << ep_back.status();
  EXPECT_EQ(*ep_back, ep);

  NetworkConnect c{"c1", ep};
  EXPECT_EQ(ParseNetworkConnect(RenderNetworkConnect(c).dump()).value(), c);
  EXPECT_EQ(RenderNetworkConnect(NetworkConnect{"c2", std::nullopt}).dump(), R"({"Container":"c2"})");
  NetworkDisconnect d{"c1", true};
  EXPECT_EQ(ParseNetworkDisconnect(RenderNetworkDisconnect(d).dump()).value(), d);
}

TEST(SpecParseExecConfig, ReadsTheCliBody) {
  auto r = ParseExecConfig(kExecCreate);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->attach_stdout);
  EXPECT_TRUE(r->attach_stderr);
  EXPECT_FALSE(r->attach_stdin);
  EXPECT_FALSE(r->env.has_value());
  EXPECT_EQ(r->cmd, (std::vector<std::string>{"cat", "/etc/resolv.conf", "/etc/hosts"}));
  EXPECT_EQ(RenderExecConfig(*r).dump(1), kExecCreate);
}

TEST(SpecParseExecConfig, GivesDockersMessages) {
  EXPECT_EQ(ParseExecConfig(R"({"Cmd":[]})").status().message(), "No exec command specified");
  EXPECT_EQ(ParseExecConfig(R"({"Cmd":null})").status().message(), "No exec command specified");
  EXPECT_EQ(ParseExecConfig("").status().message(), "got EOF while reading request body");
  // ExecConfig.Cmd is a plain []string, not a StrSlice: a string is a mismatch.
  EXPECT_EQ(ParseExecConfig(R"({"Cmd":"ls"})").status().message(),
            "json: cannot unmarshal string into Go struct field ExecConfig.Cmd of type []string");
  EXPECT_EQ(ParseExecConfig(R"({"Cmd":["ls"],"Env":["A=1",2]})").status().message(),
            "json: cannot unmarshal number into Go struct field ExecConfig.Env of type string");
}

TEST(SpecParseExecStart, ReadsTheCliBodyAndConsoleSize) {
  auto r = ParseExecStart("{\n \"Detach\": false,\n \"Tty\": false\n}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, ExecStartCheck{});
  auto tty = ParseExecStart(R"({"Detach":false,"Tty":true,"ConsoleSize":[40,120]})");
  ASSERT_TRUE(tty.ok()) << tty.status();
  EXPECT_EQ(tty->console_size, (std::array<uint64_t, 2>{40, 120}));
  EXPECT_EQ(RenderExecStart(*tty).dump(), R"({"Detach":false,"Tty":true,"ConsoleSize":[40,120]})");
  EXPECT_EQ(RenderExecStart(ExecStartCheck{}).dump(), R"({"Detach":false,"Tty":false})");
  EXPECT_EQ(ParseExecStart(R"({"Detach":"no"})").status().message(),
            "json: cannot unmarshal string into Go struct field ExecStartCheck.Detach of type bool");
  EXPECT_EQ(ParseExecStart("").status().message(), "got EOF while reading request body");
}

}  // namespace
}  // namespace berth::spec
