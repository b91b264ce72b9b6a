// resolv.conf and /etc/hosts as a container sees them, from the host's file and --dns,
// --dns-search, --dns-option and --add-host.

#include "network/resolv.h"

#include "nlohmann/json.hpp"
#include "spec/json/container_json.h"

#include <gtest/gtest.h>

namespace berth::network {
namespace {

using json = nlohmann::json;

// A HostConfig from Docker's JSON, through the API's parser.
spec::HostConfig Hc(const json& j) {
  auto hc = spec::ParseHostConfig(j.dump());
  EXPECT_TRUE(hc.ok()) << hc.status();
  return hc.ok() ? *hc : spec::HostConfig();
}

constexpr const char* kHost =
    "# from the host\n"
    "nameserver 127.0.0.53\n"
    "nameserver 10.255.255.53\n"
    "search corp.example\n"
    "options edns0 trust-ad\n";

TEST(ResolvConf, UserNetworkPointsAtTheEmbeddedServerWithNdots0) {
  EXPECT_EQ(ContainerResolvConf({kHost, true, false}, Hc(json::object())),
            "nameserver 127.0.0.11\nsearch corp.example\noptions edns0 trust-ad ndots:0\n");
}

TEST(ResolvConf, UserNetworkKeepsAGivenNdots) {
  json hc = {{"DnsOptions", {"ndots:3"}}, {"DnsSearch", {"a.example", "b.example"}}, {"Dns", {"10.1.2.3"}}};
  EXPECT_EQ(ContainerResolvConf({kHost, true, false}, Hc(hc)),
            "nameserver 127.0.0.11\nsearch a.example b.example\noptions ndots:3\n");
  EXPECT_EQ(DnsUpstreams(Hc(hc)), std::vector<std::string>{"10.1.2.3"});
}

TEST(ResolvConf, DefaultBridgeDropsLoopbackResolversAContainerCannotReach) {
  EXPECT_EQ(ContainerResolvConf({kHost, false, false}, Hc(json::object())),
            "nameserver 10.255.255.53\nsearch corp.example\noptions edns0 trust-ad\n");
}

TEST(ResolvConf, DnsReplacesTheHostsNameserversAndDotClearsSearch) {
  json hc = {{"Dns", {"10.9.9.9", "10.9.9.8"}}, {"DnsSearch", {"."}}};
  EXPECT_EQ(ContainerResolvConf({kHost, false, false}, Hc(hc)),
            "nameserver 10.9.9.9\nnameserver 10.9.9.8\noptions edns0 trust-ad\n");
}

TEST(ResolvConf, HostNetworkWithoutOverridesIsTheHostFile) {
  EXPECT_EQ(ContainerResolvConf({kHost, false, true}, Hc(json::object())), kHost);
  EXPECT_EQ(ContainerResolvConf({kHost, false, true}, Hc({{"Dns", {"10.0.0.1"}}})),
            "nameserver 10.0.0.1\nsearch corp.example\noptions edns0 trust-ad\n");
}

TEST(SearchDomains, DnsSearchOrTheHostsAndDotForNone) {
  EXPECT_EQ(SearchDomains(Hc(json::object()), kHost), std::vector<std::string>{"corp.example"});
  EXPECT_EQ(SearchDomains(Hc({{"DnsSearch", {"a.test"}}}), kHost), std::vector<std::string>{"a.test"});
  EXPECT_TRUE(SearchDomains(Hc({{"DnsSearch", {"."}}}), kHost).empty());
}

TEST(ExtraHosts, NameColonOrEqualsIpAndHostGateway) {
  json hc = {{"ExtraHosts", {"db:10.0.0.5", "cache=10.0.0.6", "v6:::1", "gw:host-gateway"}}};
  EXPECT_EQ(ExtraHostsLines(Hc(hc), "172.17.0.1"),
            "10.0.0.5\tdb\n10.0.0.6\tcache\n::1\tv6\n172.17.0.1\tgw\n");
  EXPECT_TRUE(ValidateDnsConfig(Hc(hc)).ok());
}

TEST(ValidateDnsConfig, DockersMessages) {
  auto st = ValidateDnsConfig(Hc({{"Dns", {"not-an-ip"}}}));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "IP address is not correctly formatted: not-an-ip");
  st = ValidateDnsConfig(Hc({{"ExtraHosts", {"nocolon"}}}));
  EXPECT_EQ(st.message(), "bad format for add-host: \"nocolon\"");
  st = ValidateDnsConfig(Hc({{"ExtraHosts", {"h:999.1.1.1"}}}));
  EXPECT_EQ(st.message(), "invalid IP address in add-host: \"999.1.1.1\"");
}

}  // namespace
}  // namespace berth::network
