// Swarm and node values against the bodies Docker 20.10 and the docker 28 CLI exchanged on this
// machine (shared/reference/api-traces: swarm-init, swarm-join-w1, node-ls, swarm-info-m1),
// copied to test/unit/testdata/swarm. Parse, then render: the same text, key for key.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "spec/json/swarm_json.h"

namespace berth::spec {
namespace {

using Json = nlohmann::ordered_json;

std::string Testdata(const std::string& name) {
  std::ifstream in(std::string(BERTH_SOURCE_DIR) + "/test/unit/testdata/swarm/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// The traces hold the bodies indented by one space (keys and values as sent).
std::string Indented(const Json& j) { return j.dump(1); }

TEST(SpecSwarm, NodeFromSwarmInitRendersBackByteForByte) {
  std::string text = Testdata("node-m1.json");
  ASSERT_FALSE(text.empty());
  auto node = ParseNode(text);
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->id, "t9nqvnrsvd2ms9uw7qcod4k0k");
  EXPECT_EQ(node->meta.version.index, 9u);
  EXPECT_EQ(node->meta.created_at, 1795836485790412630);  // 2026-11-28T03:28:05.79041263Z
  EXPECT_EQ(node->spec.role, "manager");
  EXPECT_EQ(node->spec.availability, "active");
  EXPECT_TRUE(node->spec.annotations.labels.empty());
  EXPECT_EQ(node->description.hostname, "vm");
  EXPECT_EQ(node->description.resources.nano_cpus, 2000000000);
  ASSERT_TRUE(node->description.engine.plugins.has_value());
  EXPECT_EQ(node->description.engine.plugins->size(), 17u);
  // CertIssuerSubject is DER: SEQUENCE { SET { ... CN=swarm-ca } }.
  EXPECT_EQ(node->description.tls_info.cert_issuer_subject.substr(0, 2), std::string("\x30\x13"));
  EXPECT_NE(node->description.tls_info.cert_issuer_subject.find("swarm-ca"), std::string::npos);
  EXPECT_EQ(node->status.state, "ready");
  EXPECT_EQ(node->status.addr, "192.168.77.11");
  ASSERT_TRUE(node->manager_status.has_value());
  EXPECT_TRUE(node->manager_status->leader);
  EXPECT_EQ(node->manager_status->addr, "192.168.77.11:2377");
  EXPECT_EQ(Indented(RenderNode(*node)), text);
}

TEST(SpecSwarm, SwarmAndNodeListRenderBackByteForByte) {
  std::string text = Testdata("swarm.json");
  auto sw = ParseSwarm(text);
  ASSERT_TRUE(sw.ok()) << sw.status();
  EXPECT_EQ(sw->cluster.id, "p4185nqqk2dxj3pk63zdp501b");
  EXPECT_EQ(sw->cluster.spec.annotations.name, "default");
  EXPECT_EQ(sw->cluster.spec.orchestration.task_history_retention_limit, 5);
  EXPECT_EQ(sw->cluster.spec.raft.keep_old_snapshots, 0u);  // present, and 0
  EXPECT_EQ(sw->cluster.spec.dispatcher.heartbeat_period, 5000000000);
  EXPECT_EQ(sw->cluster.spec.ca_config.node_cert_expiry, 7776000000000000);
  EXPECT_FALSE(sw->cluster.default_addr_pool.has_value());
  EXPECT_EQ(sw->cluster.data_path_port, 4789u);
  EXPECT_EQ(sw->join_tokens.worker.substr(0, 9), "SWMTKN-1-");
  EXPECT_EQ(Indented(RenderSwarm(*sw)), text);

  std::string list = Testdata("nodes.json");
  auto nodes = ParseNodes(list);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 3u);
  EXPECT_FALSE((*nodes)[0].manager_status.has_value());
  Json rendered = Json::array();
  for (const Node& n : *nodes) rendered.push_back(RenderNode(n));
  EXPECT_EQ(Indented(rendered), list);
}

TEST(SpecSwarm, SwarmInfoRendersBackByteForByte) {
  Json info = Json::parse(Testdata("info-m1.json"));
  std::string text = Indented(info["Swarm"]);
  auto si = ParseSwarmInfo(text);
  ASSERT_TRUE(si.ok()) << si.status();
  EXPECT_EQ(si->local_node_state, "active");
  EXPECT_TRUE(si->control_available);
  EXPECT_EQ(si->nodes, 3);
  EXPECT_EQ(si->managers, 1);
  ASSERT_TRUE(si->cluster.has_value());
  EXPECT_EQ(si->cluster->id, "p4185nqqk2dxj3pk63zdp501b");
  ASSERT_TRUE(si->remote_managers.has_value());
  EXPECT_EQ((*si->remote_managers)[0].addr, "192.168.77.11:2377");
  EXPECT_EQ(Indented(RenderSwarmInfo(*si)), text);

  // An inactive node (w1-info-after-manager-left): no Nodes, Managers, Cluster; null managers.
  constexpr const char* kInactive =
      R"({"NodeID":"","NodeAddr":"","LocalNodeState":"inactive","ControlAvailable":false,)"
      R"("Error":"","RemoteManagers":null})";
  auto inactive = ParseSwarmInfo(kInactive);
  ASSERT_TRUE(inactive.ok());
  EXPECT_FALSE(inactive->remote_managers.has_value());
  EXPECT_EQ(RenderSwarmInfo(*inactive).dump(), kInactive);
  EXPECT_EQ(RenderSwarmInfo(SwarmInfo{}).dump(),
            R"({"NodeID":"","NodeAddr":"","LocalNodeState":"","ControlAvailable":false,)"
            R"("Error":"","RemoteManagers":null})");
}

TEST(SpecSwarm, InitAndJoinRequestsOfTheDockerCli) {
  std::string init_text = Testdata("init-request.json");
  auto init = ParseSwarmInitRequest(init_text);
  ASSERT_TRUE(init.ok()) << init.status();
  EXPECT_EQ(init->listen_addr, "0.0.0.0:2377");
  EXPECT_EQ(init->advertise_addr, "192.168.77.11:2377");
  EXPECT_EQ(init->subnet_size, 24u);
  ASSERT_TRUE(init->default_addr_pool.has_value());
  EXPECT_TRUE(init->default_addr_pool->empty());
  EXPECT_FALSE(init->spec.orchestration.task_history_retention_limit.has_value());
  // Annotations.Labels is a map in spec/swarm.h, so the CLI's nil map ("Labels": null) comes
  // back as {}: the only difference from what docker sent.
  std::string expected = init_text;
  expected.replace(expected.find("\"Labels\": null"), 14, "\"Labels\": {}");
  EXPECT_EQ(Indented(RenderSwarmInitRequest(*init)), expected);

  std::string join_text = Testdata("join-request.json");
  auto join = ParseSwarmJoinRequest(join_text);
  ASSERT_TRUE(join.ok()) << join.status();
  ASSERT_TRUE(join->remote_addrs.has_value());
  EXPECT_EQ(*join->remote_addrs, std::vector<std::string>{"192.168.77.11:2377"});
  EXPECT_EQ(Indented(RenderSwarmJoinRequest(*join)), join_text);
}

TEST(SpecSwarm, OmitEmptyAsMobyDeclaresIt) {
  // A zero node: ID, the Meta (Version {} and zero times), the empty structs; no ManagerStatus.
  EXPECT_EQ(RenderNode(Node{}).dump(),
            R"({"ID":"","Version":{},"CreatedAt":"0001-01-01T00:00:00Z",)"
            R"("UpdatedAt":"0001-01-01T00:00:00Z","Spec":{"Labels":{}},)"
            R"("Description":{"Platform":{},"Resources":{},"Engine":{},"TLSInfo":{}},)"
            R"("Status":{}})");
  NodeSpec spec;
  spec.annotations.name = "n";
  spec.annotations.labels["a"] = "b";
  spec.role = "worker";
  spec.availability = "drain";
  EXPECT_EQ(RenderNodeSpec(spec).dump(),
            R"({"Name":"n","Labels":{"a":"b"},"Role":"worker","Availability":"drain"})");
  // A zero Spec as `docker swarm update` would send it, and the ExternalCA fields.
  SwarmSpec s;
  EXPECT_EQ(RenderSwarmSpec(s).dump(),
            R"({"Labels":{},"Orchestration":{},"Raft":{"ElectionTick":0,"HeartbeatTick":0},)"
            R"("Dispatcher":{},"CAConfig":{},"TaskDefaults":{},)"
            R"("EncryptionConfig":{"AutoLockManagers":false}})");
  s.ca_config.external_cas = std::vector<ExternalCA>{{"cfssl", "https://ca", std::nullopt, ""}};
  s.task_defaults.log_driver = LogDriver{"json-file", StringMap{{"max-size", "1m"}}};
  Json j = RenderSwarmSpec(s);
  EXPECT_EQ(j["CAConfig"].dump(),
            R"({"ExternalCAs":[{"Protocol":"cfssl","URL":"https://ca","CACert":""}]})");
  EXPECT_EQ(j["TaskDefaults"].dump(),
            R"({"LogDriver":{"Name":"json-file","Options":{"max-size":"1m"}}})");
  auto back = ParseSwarmSpec(j.dump());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
}

TEST(SpecSwarm, GoDecodingRules) {
  // Unknown keys are ignored, keys match case-insensitively, null leaves a value alone.
  auto spec = ParseNodeSpec(R"({"role":"manager","AVAILABILITY":"pause","Bogus":1,"Name":null})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->role, "manager");
  EXPECT_EQ(spec->availability, "pause");
  // Labels is a map: an object adds to it.
  auto labels = ParseNodeSpec(R"({"Labels":{"a":"1"},"Labels":{"b":"2"}})");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->annotations.labels, (StringMap{{"a", "1"}, {"b", "2"}}));
  // Durations are integer nanoseconds.
  auto s = ParseSwarmSpec(R"({"Dispatcher":{"HeartbeatPeriod":2000000000},)"
                          R"("CAConfig":{"NodeCertExpiry":3600000000000}})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->dispatcher.heartbeat_period, 2000000000);
  EXPECT_EQ(s->ca_config.node_cert_expiry, 3600000000000);
}

TEST(SpecSwarm, ErrorsInGosWords) {
  auto msg = [](const StatusOr<NodeSpec>& r) { return std::string(r.status().message()); };
  EXPECT_EQ(msg(ParseNodeSpec("")), "got EOF while reading request body");
  EXPECT_EQ(msg(ParseNodeSpec(R"({"Role":1})")),
            "json: cannot unmarshal number into Go struct field NodeSpec.Role of type "
            "swarm.NodeRole");
  EXPECT_EQ(msg(ParseNodeSpec(R"({"Labels":{"a":1}})")),
            "json: cannot unmarshal number into Go struct field NodeSpec.Labels of type string");
  EXPECT_EQ(msg(ParseNodeSpec(R"({"Availability":true)")), "unexpected EOF");
  EXPECT_EQ(ParseNodeSpec("[]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(msg(ParseNodeSpec("[]")),
            "json: cannot unmarshal array into Go value of type swarm.NodeSpec");

  EXPECT_EQ(ParseSwarmInitRequest(R"({"Spec":{"Raft":{"ElectionTick":"x"}}})").status().message(),
            "json: cannot unmarshal string into Go struct field RaftConfig.Spec.Raft.ElectionTick "
            "of type int");
  EXPECT_EQ(ParseSwarmInitRequest(R"({"SubnetSize":4294967296})").status().message(),
            "json: cannot unmarshal number 4294967296 into Go struct field "
            "InitRequest.SubnetSize of type uint32");
  EXPECT_EQ(ParseSwarmInitRequest(R"({"DefaultAddrPool":"10.0.0.0/8"})").status().message(),
            "json: cannot unmarshal string into Go struct field InitRequest.DefaultAddrPool of "
            "type []string");
  EXPECT_EQ(ParseSwarmJoinRequest(R"({"RemoteAddrs":[1]})").status().message(),
            "json: cannot unmarshal number into Go struct field JoinRequest.RemoteAddrs of type "
            "string");
  EXPECT_EQ(ParseSwarmJoinRequest("").status().message(), "got EOF while reading request body");
  EXPECT_EQ(ParseSwarmSpec(R"({"Dispatcher":{"HeartbeatPeriod":"5s"}})").status().message(),
            "json: cannot unmarshal string into Go struct field DispatcherConfig.Dispatcher."
            "HeartbeatPeriod of type time.Duration");
  EXPECT_EQ(
      ParseSwarmSpec(R"({"Orchestration":{"TaskHistoryRetentionLimit":1.5}})").status().message(),
      "json: cannot unmarshal number 1.5 into Go struct field OrchestrationConfig."
      "Orchestration.TaskHistoryRetentionLimit of type int64");
  // Answers: an empty body is Go's own EOF.
  EXPECT_EQ(ParseNode("").status().message(), "EOF");
  EXPECT_EQ(ParseNodes(R"([{"ID":1}])").status().message(),
            "json: cannot unmarshal number into Go struct field Node.ID of type string");
}

TEST(SpecSwarm, TimesAndBytes) {
  auto n = ParseNode(R"({"CreatedAt":"2026-11-28T03:28:05Z","UpdatedAt":null,)"
                     R"("Description":{"TLSInfo":{"CertIssuerSubject":"AAEC"}}})");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->meta.created_at, 1795836485000000000);
  EXPECT_EQ(n->meta.updated_at, 0);
  EXPECT_EQ(n->description.tls_info.cert_issuer_subject, std::string("\x00\x01\x02", 3));
  Json j = RenderNode(*n);
  EXPECT_EQ(j["CreatedAt"], "2026-11-28T03:28:05Z");
  EXPECT_EQ(j["Description"]["TLSInfo"].dump(), R"({"CertIssuerSubject":"AAEC"})");
  // time.Time's UnmarshalJSON error ends the decoding.
  EXPECT_FALSE(ParseNode(R"({"CreatedAt":1})").ok());
  EXPECT_FALSE(ParseNode(R"({"CreatedAt":"yesterday"})").ok());
  EXPECT_EQ(
      ParseNode(R"({"Description":{"TLSInfo":{"CertIssuerPublicKey":5}}})").status().message(),
      "json: cannot unmarshal number into Go struct field TLSInfo.Description.TLSInfo."
      "CertIssuerPublicKey of type []uint8");
}

}  // namespace
}  // namespace berth::spec
