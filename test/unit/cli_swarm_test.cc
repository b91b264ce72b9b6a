// The swarm and node commands: their formatting against docker CLI 28's golden files and the
// reference transcript (shared/reference/docker-tutorial-transcript.md, api-traces), and whole
// commands against the fake engine (the calls they make, in docker's order, and what they print).

#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "cli/swarm_format.h"
#include "client_fake_server.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "spec/json/swarm_json.h"

namespace berth::cli {
namespace {

using berth::testing::FakeRequest;
using berth::testing::FakeResponse;
using berth::testing::FakeServer;
using berth::testing::FakeWriteAll;
using berth::testing::ServePing;

std::string Testdata(const std::string& name) {
  std::ifstream in(std::string(BERTH_SOURCE_DIR) + "/test/unit/testdata/swarm/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string InfoSwarmJson() {
  return nlohmann::json::parse(Testdata("info-m1.json"))["Swarm"].dump();
}

spec::SwarmInfo M1Info() {
  auto info = spec::ParseSwarmInfo(InfoSwarmJson());
  EXPECT_TRUE(info.ok()) << info.status();
  return *info;
}

// builders.Node() of docker/cli's internal/test/builders.
spec::Node BuilderNode() {
  spec::Node n;
  n.id = "nodeID";
  n.meta.created_at = 1257894000LL * 1000000000LL;  // 2009-11-10 23:00:00 UTC
  n.description.hostname = "defaultNodeHostname";
  n.description.platform = {"x86_64", "linux"};
  n.description.resources = {4, 20 * 1024 * 1024};
  n.description.engine.engine_version = "1.13.0";
  n.description.engine.labels = spec::StringMap{{"engine", "label"}};
  n.description.engine.plugins = std::vector<spec::PluginDescription>{
      {"Volume", "local"}, {"Network", "bridge"}, {"Network", "overlay"}};
  n.status.state = "ready";
  n.status.addr = "127.0.0.1";
  n.spec.annotations.name = "defaultNodeName";
  n.spec.role = "worker";
  n.spec.availability = "active";
  return n;
}

TEST(CliSwarmFormat, NodeLsOfTheTranscript) {
  auto nodes = spec::ParseNodes(Testdata("nodes.json"));
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  auto out = FormatNodeList(*nodes, M1Info(), "", false);
  ASSERT_TRUE(out.ok()) << out.status();
  // docker-tutorial-transcript.md, node-ls.
  EXPECT_EQ(*out,
            "ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   "
            "ENGINE VERSION\n"
            "rs0cvsd8gm80dq8llic7tic6z     vm         Ready     Active                          "
            "20.10.24+dfsg1\n"
            "t9nqvnrsvd2ms9uw7qcod4k0k *   vm         Ready     Active         Leader           "
            "20.10.24+dfsg1\n"
            "zl8buvgyfs72vu398eunwztwb     vm         Ready     Active                          "
            "20.10.24+dfsg1\n");
  auto quiet = FormatNodeList(*nodes, spec::SwarmInfo{}, "", true);
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ(*quiet,
            "rs0cvsd8gm80dq8llic7tic6z\nt9nqvnrsvd2ms9uw7qcod4k0k\nzl8buvgyfs72vu398eunwztwb\n");
  auto tmpl = FormatNodeList(*nodes, M1Info(), "{{.ID}}: {{.Self}} {{.TLSStatus}}", false);
  ASSERT_TRUE(tmpl.ok());
  EXPECT_EQ(*tmpl,
            "rs0cvsd8gm80dq8llic7tic6z: false Ready\nt9nqvnrsvd2ms9uw7qcod4k0k: true Ready\n"
            "zl8buvgyfs72vu398eunwztwb: false Ready\n");
  auto js = FormatNodeList({(*nodes)[1]}, M1Info(), "json", false);
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(*js, R"({"Availability":"Active","EngineVersion":"20.10.24+dfsg1","Hostname":"vm",)"
                 R"("ID":"t9nqvnrsvd2ms9uw7qcod4k0k","ManagerStatus":"Leader","Self":true,)"
                 R"("Status":"Ready","TLSStatus":"Ready"})"
                 "\n");
}

TEST(CliSwarmFormat, NodeLsSortsHostnamesNaturally) {
  // docker/cli node-list-sort.golden.
  spec::Node a = BuilderNode(), b = BuilderNode(), c = BuilderNode();
  a.id = "nodeID1";
  a.description.hostname = "node-2-foo";
  a.manager_status = spec::ManagerStatus{true, "reachable", ""};
  a.description.engine.engine_version = ".";
  b.id = "nodeID2";
  b.description.hostname = "node-10-foo";
  b.manager_status = spec::ManagerStatus{false, "reachable", ""};
  b.description.engine.engine_version = "18.03.0-ce";
  c.id = "nodeID3";
  c.description.hostname = "node-1-foo";
  spec::SwarmInfo info;
  info.node_id = "nodeID1";
  auto out = FormatNodeList({a, b, c}, info, "", false);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out,
            "ID          HOSTNAME      STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n"
            "nodeID3     node-1-foo    Ready     Active                          1.13.0\n"
            "nodeID1 *   node-2-foo    Ready     Active         Leader           .\n"
            "nodeID2     node-10-foo   Ready     Active         Reachable        18.03.0-ce\n");
  EXPECT_TRUE(NaturalLess("node-2", "node-10"));
  EXPECT_TRUE(NaturalLess("a1", "a01"));  // fewer leading zeros first
  EXPECT_FALSE(NaturalLess("b", "a"));
}

TEST(CliSwarmFormat, NodeInspectPrettyMatchesDockersGoldens) {
  spec::Node simple = BuilderNode();
  simple.spec.annotations.labels = {{"lbl1", "value1"}};
  EXPECT_EQ(NodeInspectPretty(simple),
            "ID:\t\t\tnodeID\n"
            "Name:\t\t\tdefaultNodeName\n"
            "Labels:\n"
            " - lbl1=value1\n"
            "Hostname:              \tdefaultNodeHostname\n"
            "Joined at:             \t2009-11-10 23:00:00 +0000 utc\n"
            "Status:\n"
            " State:\t\t\tReady\n"
            " Availability:         \tActive\n"
            " Address:\t\t127.0.0.1\n"
            "Platform:\n"
            " Operating System:\tlinux\n"
            " Architecture:\t\tx86_64\n"
            "Resources:\n"
            " CPUs:\t\t\t0\n"
            " Memory:\t\t20MiB\n"
            "Plugins:\n"
            " Network:\t\tbridge, overlay\n"
            " Volume:\t\tlocal\n"
            "Engine Version:\t\t1.13.0\n"
            "Engine Labels:\n"
            " - engine=label\n");
  spec::Node leader = BuilderNode();
  leader.spec.role = "manager";
  leader.manager_status = spec::ManagerStatus{true, "reachable", "127.0.0.1"};
  std::string out = NodeInspectPretty(leader);
  EXPECT_NE(out.find(" Address:\t\t127.0.0.1\n"
                     "Manager Status:\n"
                     " Address:\t\t127.0.0.1\n"
                     " Raft Status:\t\tReachable\n"
                     " Leader:\t\tYes\n"
                     "Platform:\n"),
            std::string::npos)
      << out;
  leader.manager_status->leader = false;
  EXPECT_NE(NodeInspectPretty(leader).find(" Leader:\t\tNo\nPlatform:"), std::string::npos);

  // The real node of the transcript: its TLS section, its fractional join time.
  auto m1 = spec::ParseNode(Testdata("node-m1.json"));
  ASSERT_TRUE(m1.ok());
  std::string real = NodeInspectPretty(*m1);
  EXPECT_NE(real.find("Joined at:             \t2026-11-28 03:28:05.79041263 +0000 utc\n"),
            std::string::npos);
  EXPECT_NE(real.find(" CPUs:\t\t\t2\n Memory:\t\t23.54GiB\n"), std::string::npos) << real;
  EXPECT_NE(real.find("\nTLS Info:\n TrustRoot:\n-----BEGIN CERTIFICATE-----\n"),
            std::string::npos);
  EXPECT_NE(
      real.find("-----END CERTIFICATE-----\n\n Issuer Subject:\tMBMxETAPBgNVBAMTCHN3YXJtLWNh\n"
                " Issuer Public Key:\tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkpQs8tk5neuc"),
      std::string::npos);
  EXPECT_NE(real.find(" Log:\t\tawslogs, fluentd, gcplogs"), std::string::npos);
}

TEST(CliSwarmFormat, InfoSwarmSection) {
  EXPECT_EQ(SwarmInfoSection(M1Info()),
            " Swarm: active\n"
            "  NodeID: t9nqvnrsvd2ms9uw7qcod4k0k\n"
            "  Is Manager: true\n"
            "  ClusterID: p4185nqqk2dxj3pk63zdp501b\n"
            "  Managers: 1\n"
            "  Nodes: 3\n"
            "  Data Path Port: 4789\n"
            "  Orchestration:\n"
            "   Task History Retention Limit: 5\n"
            "  Raft:\n"
            "   Snapshot Interval: 10000\n"
            "   Number of Old Snapshots to Retain: 0\n"
            "   Heartbeat Tick: 1\n"
            "   Election Tick: 10\n"
            "  Dispatcher:\n"
            "   Heartbeat Period: 5 seconds\n"
            "  CA Configuration:\n"
            "   Expiry Duration: 3 months\n"
            "   Force Rotate: 0\n"
            "  Autolock Managers: false\n"
            "  Root Rotation In Progress: false\n"
            "  Node Address: 192.168.77.11\n"
            "  Manager Addresses:\n"
            "   192.168.77.11:2377\n");
  spec::SwarmInfo inactive;
  inactive.local_node_state = "inactive";
  EXPECT_EQ(SwarmInfoSection(inactive), " Swarm: inactive\n");
  // A worker (w2-info-after-removed): no cluster part.
  spec::SwarmInfo worker;
  worker.node_id = "zl8buvgyfs72vu398eunwztwb";
  worker.node_addr = "192.168.77.13";
  worker.local_node_state = "active";
  worker.remote_managers = std::vector<spec::SwarmPeer>{{"t9nq", "192.168.77.11:2377"}};
  EXPECT_EQ(SwarmInfoSection(worker),
            " Swarm: active\n  NodeID: zl8buvgyfs72vu398eunwztwb\n  Is Manager: false\n"
            "  Node Address: 192.168.77.13\n  Manager Addresses:\n   192.168.77.11:2377\n");
  // Default address pools print with two trailing spaces each, then the subnet size.
  spec::SwarmInfo pools = M1Info();
  pools.cluster->default_addr_pool = std::vector<std::string>{"10.20.0.0/16"};
  EXPECT_NE(SwarmInfoSection(pools).find(
                "  Default Address Pool: 10.20.0.0/16  \n  SubnetSize: 24\n  Data Path Port:"),
            std::string::npos);
  pools.error = "boom";
  EXPECT_EQ(SwarmInfoSection(pools).find("ClusterID"), std::string::npos);
}

TEST(CliSwarmFormat, TaskListTable) {
  // docker/cli node-ps.simple.golden.
  nlohmann::json task = nlohmann::json::parse(R"({
    "ID": "taskID", "ServiceID": "rl02d5gwz6chzu7il5fhtb8be", "Slot": 1, "NodeID": "nodeID",
    "DesiredState": "ready",
    "Spec": {"ContainerSpec": {"Image": "myimage:mytag"}},
    "Status": {"State": "ready", "Timestamp": "2026-12-02T07:00:00Z",
               "PortStatus": {"Ports": [{"TargetPort": 80, "PublishedPort": 80,
                                         "Protocol": "tcp"}]}}})");
  int64_t now = 0;
  ASSERT_TRUE(ParseRfc3339("2026-12-02T09:00:00Z", &now));
  auto out = FormatTaskList({task}, {{"taskID", "rl02d5gwz6chzu7il5fhtb8be.1"}},
                            {{"taskID", "defaultNodeName"}}, "", false, true, now);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "ID        NAME                          IMAGE           NODE              DESIRED "
            "STATE   CURRENT STATE       ERROR     PORTS\n"
            "taskID    rl02d5gwz6chzu7il5fhtb8be.1   myimage:mytag   defaultNodeName   Ready    "
            "       Ready 2 hours ago             *:80->80/tcp\n");
  auto none = FormatTaskList({}, {}, {}, "", false, true, now);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none,
            "ID        NAME      IMAGE     NODE      DESIRED STATE   CURRENT STATE   ERROR     "
            "PORTS\n");
}

TEST(CliSwarmFormat, JoinCommandOnlyFromAManager) {
  auto sw = spec::ParseSwarm(Testdata("swarm.json"));
  auto m1 = spec::ParseNode(Testdata("node-m1.json"));
  ASSERT_TRUE(sw.ok() && m1.ok());
  std::string token(sw->join_tokens.worker);
  EXPECT_EQ(JoinCommandText(*sw, *m1, true, false),
            "To add a worker to this swarm, run the following command:\n\n"
            "    docker swarm join --token " +
                token + " 192.168.77.11:2377\n\n");
  spec::Node worker = *m1;
  worker.manager_status.reset();
  EXPECT_EQ(JoinCommandText(*sw, worker, true, true), "");
}

// ---- whole commands against the fake engine ---------------------------------------------------

struct Result {
  int rc;
  std::string out, err;
};

Result RunCli(const FakeServer& server, std::vector<std::string> args) {
  std::vector<std::string> full = {"-H", server.host()};
  full.insert(full.end(), args.begin(), args.end());
  std::ostringstream out, err;
  int rc = Run(full, out, err);
  return {rc, out.str(), err.str()};
}

// A manager m1 as the traces show it.
void ServeM1(const FakeRequest& r, int fd) {
  if (ServePing(r, fd)) return;
  std::string info = R"({"ID":"x","Swarm":)" + InfoSwarmJson() + "}";
  if (r.target == "/v1.41/swarm/init") {
    FakeWriteAll(fd, FakeResponse(200, "\"t9nqvnrsvd2ms9uw7qcod4k0k\"\n"));
  } else if (r.target == "/v1.41/nodes/t9nqvnrsvd2ms9uw7qcod4k0k") {
    FakeWriteAll(fd, FakeResponse(200, Testdata("node-m1.json")));
  } else if (r.target == "/v1.41/swarm") {
    FakeWriteAll(fd, FakeResponse(200, Testdata("swarm.json")));
  } else if (r.target == "/v1.41/info") {
    FakeWriteAll(fd, FakeResponse(200, info));
  } else if (r.target.rfind("/v1.41/nodes", 0) == 0 && r.method == "GET") {
    FakeWriteAll(fd, FakeResponse(200, Testdata("nodes.json")));
  } else if (r.target.rfind("/v1.41/swarm/update", 0) == 0 ||
             r.target.rfind("/v1.41/swarm/leave", 0) == 0 ||
             r.target.rfind("/v1.41/nodes/", 0) == 0) {
    FakeWriteAll(fd, FakeResponse(200, ""));
  } else {
    FakeWriteAll(fd, FakeResponse(404, R"({"message":"page not found"})"));
  }
}

TEST(CliSwarmCommands, InitPrintsTheJoinCommandAsDockerDoes) {
  FakeServer server(ServeM1);
  Result res = RunCli(server, {"swarm", "init", "--advertise-addr", "192.168.77.11:2377"});
  ASSERT_EQ(res.rc, 0) << res.err;
  std::string token = spec::ParseSwarm(Testdata("swarm.json"))->join_tokens.worker;
  // docker-tutorial-transcript.md, swarm-init.
  EXPECT_EQ(res.out,
            "Swarm initialized: current node (t9nqvnrsvd2ms9uw7qcod4k0k) is now a manager.\n\n"
            "To add a worker to this swarm, run the following command:\n\n"
            "    docker swarm join --token " +
                token +
                " 192.168.77.11:2377\n\n"
                "To add a manager to this swarm, run 'docker swarm join-token manager' and "
                "follow the instructions.\n");
  // api-traces/swarm-init.md: the calls, and the body docker sent (but "Labels": {}).
  std::vector<std::string> calls = server.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[1], "POST /v1.41/swarm/init");
  EXPECT_EQ(calls[2], "GET /v1.41/nodes/t9nqvnrsvd2ms9uw7qcod4k0k");
  EXPECT_EQ(calls[3], "GET /v1.41/swarm");
  nlohmann::ordered_json sent = nlohmann::ordered_json::parse(server.requests()[1].body);
  std::string expected = Testdata("init-request.json");
  expected.replace(expected.find("\"Labels\": null"), 14, "\"Labels\": {}");
  EXPECT_EQ(sent.dump(1) + "\n", expected);
}

TEST(CliSwarmCommands, InitFlagsBecomeTheSpec) {
  FakeServer server(ServeM1);
  Result res = RunCli(
      server, {"swarm", "init", "--listen-addr", "10.0.0.1", "--default-addr-pool",
               "10.20.1.0/16,10.30.0.0/16", "--default-addr-pool-mask-length", "26",
               "--dispatcher-heartbeat", "2s", "--cert-expiry", "24h", "--availability", "DRAIN"});
  ASSERT_EQ(res.rc, 0) << res.err;
  auto req = spec::ParseSwarmInitRequest(server.requests()[1].body);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->listen_addr, "10.0.0.1:2377");
  EXPECT_EQ(*req->default_addr_pool, (std::vector<std::string>{"10.20.0.0/16", "10.30.0.0/16"}));
  EXPECT_EQ(req->subnet_size, 26u);
  EXPECT_EQ(req->spec.dispatcher.heartbeat_period, 2000000000);
  EXPECT_EQ(req->spec.ca_config.node_cert_expiry, 86400000000000);
  EXPECT_FALSE(req->spec.orchestration.task_history_retention_limit.has_value());
  EXPECT_EQ(req->availability, "drain");

  Result bad = RunCli(server, {"swarm", "init", "--availability", "gone"});
  EXPECT_EQ(bad.rc, 1);
  EXPECT_EQ(bad.err, "invalid availability \"gone\", only active, pause and drain are supported\n");
  Result pool = RunCli(server, {"swarm", "init", "--default-addr-pool", "10.0.0.0"});
  EXPECT_EQ(pool.rc, 125);
  EXPECT_EQ(pool.err.substr(0, pool.err.find('\n')),
            "invalid argument \"10.0.0.0\" for \"--default-addr-pool\" flag: invalid CIDR "
            "address: 10.0.0.0");
}

TEST(CliSwarmCommands, JoinTokenLeaveAndUpdate) {
  FakeServer server(ServeM1);
  std::string token = spec::ParseSwarm(Testdata("swarm.json"))->join_tokens.worker;
  Result jt = RunCli(server, {"swarm", "join-token", "worker"});
  ASSERT_EQ(jt.rc, 0) << jt.err;
  EXPECT_EQ(jt.out,
            "To add a worker to this swarm, run the following command:\n\n"
            "    docker swarm join --token " +
                token + " 192.168.77.11:2377\n\n");
  // api-traces/swarm-join-token-worker.md: /swarm, /info, /nodes/self, /swarm.
  std::vector<std::string> calls = server.calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[1], "GET /v1.41/swarm");
  EXPECT_EQ(calls[2], "GET /v1.41/info");
  EXPECT_EQ(calls[3], "GET /v1.41/nodes/t9nqvnrsvd2ms9uw7qcod4k0k");
  EXPECT_EQ(calls[4], "GET /v1.41/swarm");

  Result q = RunCli(server, {"swarm", "join-token", "-q", "--rotate", "manager"});
  ASSERT_EQ(q.rc, 0) << q.err;
  EXPECT_EQ(q.out, spec::ParseSwarm(Testdata("swarm.json"))->join_tokens.manager + "\n");
  EXPECT_EQ(server.calls()[7],
            "POST /v1.41/swarm/update?rotateManagerToken=true&rotateManagerUnlockKey=false&"
            "rotateWorkerToken=false&version=10");

  Result role = RunCli(server, {"swarm", "join-token", "boss"});
  EXPECT_EQ(role.rc, 1);
  EXPECT_EQ(role.err, "unknown role boss\n");

  Result leave = RunCli(server, {"swarm", "leave", "-f"});
  EXPECT_EQ(leave.out, "Node left the swarm.\n");
  EXPECT_EQ(server.calls().back(), "POST /v1.41/swarm/leave?force=1");

  Result update = RunCli(server, {"swarm", "update", "--task-history-limit", "3"});
  ASSERT_EQ(update.rc, 0) << update.err;
  EXPECT_EQ(update.out, "Swarm updated.\n");
  auto sent = spec::ParseSwarmSpec(server.requests().back().body);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->orchestration.task_history_retention_limit, 3);
  EXPECT_EQ(sent->raft.snapshot_interval, 10000u);  // the rest as inspected
  Result help = RunCli(server, {"swarm", "update"});
  EXPECT_EQ(help.rc, 0);
  EXPECT_EQ(help.out, "\nUsage:  docker swarm update [OPTIONS]\n\nUpdate the swarm\n");

  Result unlock = RunCli(server, {"swarm", "unlock"});
  EXPECT_EQ(unlock.rc, 1);
  EXPECT_NE(unlock.err.find("not supported by berth"), std::string::npos);
}

TEST(CliSwarmCommands, JoinSaysWhichRole) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (r.target == "/v1.41/swarm/join") {
      FakeWriteAll(fd, FakeResponse(200, ""));
    } else {
      FakeWriteAll(fd, FakeResponse(200, R"({"Swarm":{"NodeID":"rs0c","LocalNodeState":"active",)"
                                         R"("ControlAvailable":false,"RemoteManagers":null}})"));
    }
  });
  Result res = RunCli(server, {"swarm", "join", "--token", "SWMTKN-1-abc", "192.168.77.11:2377"});
  ASSERT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out, "This node joined a swarm as a worker.\n");
  std::string expected = Testdata("join-request.json");
  size_t at = expected.find("SWMTKN");
  expected.replace(at, expected.find('"', at) - at, "SWMTKN-1-abc");
  EXPECT_EQ(nlohmann::ordered_json::parse(server.requests()[1].body).dump(1) + "\n", expected);
}

TEST(CliSwarmCommands, NodeCommands) {
  FakeServer server(ServeM1);
  Result ls = RunCli(server, {"node", "ls"});
  ASSERT_EQ(ls.rc, 0) << ls.err;
  EXPECT_NE(ls.out.find("t9nqvnrsvd2ms9uw7qcod4k0k *   vm"), std::string::npos);
  // node-ls.md: /nodes, then /info.
  EXPECT_EQ(server.calls()[1], "GET /v1.41/nodes");
  EXPECT_EQ(server.calls()[2], "GET /v1.41/info");

  Result rm = RunCli(server, {"node", "rm", "-f", "zl8buvgyfs72vu398eunwztwb"});
  EXPECT_EQ(rm.out, "zl8buvgyfs72vu398eunwztwb\n");
  EXPECT_EQ(server.calls().back(), "DELETE /v1.41/nodes/zl8buvgyfs72vu398eunwztwb?force=1");

  Result upd = RunCli(server, {"node", "update", "--label-add", "zone=a", "--availability", "drain",
                               "t9nqvnrsvd2ms9uw7qcod4k0k"});
  ASSERT_EQ(upd.rc, 0) << upd.err;
  EXPECT_EQ(upd.out, "t9nqvnrsvd2ms9uw7qcod4k0k\n");
  EXPECT_EQ(server.calls().back(), "POST /v1.41/nodes/t9nqvnrsvd2ms9uw7qcod4k0k/update?version=9");
  EXPECT_EQ(server.requests().back().body,
            R"({"Labels":{"zone":"a"},"Role":"manager","Availability":"drain"})");
  Result rm_label =
      RunCli(server, {"node", "update", "--label-rm", "nope", "t9nqvnrsvd2ms9uw7qcod4k0k"});
  EXPECT_EQ(rm_label.rc, 1);
  EXPECT_EQ(rm_label.err, "key nope doesn't exist in node's labels\n");

  Result promote = RunCli(server, {"node", "promote", "t9nqvnrsvd2ms9uw7qcod4k0k"});
  EXPECT_EQ(promote.out, "Node t9nqvnrsvd2ms9uw7qcod4k0k is already a manager.\n");
  Result demote = RunCli(server, {"node", "demote", "t9nqvnrsvd2ms9uw7qcod4k0k"});
  EXPECT_EQ(demote.out, "Manager t9nqvnrsvd2ms9uw7qcod4k0k demoted in the swarm.\n");
  EXPECT_EQ(server.requests().back().body,
            R"({"Labels":{},"Role":"worker","Availability":"active"})");

  Result pretty = RunCli(server, {"node", "inspect", "--pretty", "self"});
  ASSERT_EQ(pretty.rc, 0) << pretty.err;
  EXPECT_EQ(pretty.out.substr(0, 32), "ID:\t\t\tt9nqvnrsvd2ms9uw7qcod4k0k\n");
  Result raw = RunCli(server, {"node", "inspect", "self"});
  ASSERT_EQ(raw.rc, 0) << raw.err;
  EXPECT_EQ(nlohmann::ordered_json::parse(raw.out)[0].dump(1) + "\n", Testdata("node-m1.json"));
}

TEST(CliSwarmCommands, InfoPrintsTheSwarmSection) {
  FakeServer server(ServeM1);
  Result res = RunCli(server, {"info"});
  ASSERT_EQ(res.rc, 0) << res.err;
  EXPECT_NE(res.out.find(" Swarm: active\n  NodeID: t9nqvnrsvd2ms9uw7qcod4k0k\n  Is Manager: true\n"
                         "  ClusterID: p4185nqqk2dxj3pk63zdp501b\n"),
            std::string::npos)
      << res.out;
  EXPECT_NE(res.out.find("  Manager Addresses:\n   192.168.77.11:2377\n Default Runtime:"),
            std::string::npos)
      << res.out;
}

TEST(CliSwarmCommands, DaemonRefusalsPrintDockersText) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd,
                 FakeResponse(503, R"({"message":"This node is not a swarm manager. Worker nodes )"
                                   R"(can't be used to view or modify cluster state. Please run )"
                                   R"(this command on a manager node or promote the current node )"
                                   R"(to a manager."})"));
  });
  Result res = RunCli(server, {"node", "ls"});
  EXPECT_EQ(res.rc, 1);
  // docker-tutorial-transcript.md, node-ls-on-worker.
  EXPECT_EQ(res.err,
            "Error response from daemon: This node is not a swarm manager. Worker nodes can't be "
            "used to view or modify cluster state. Please run this command on a manager node or "
            "promote the current node to a manager.\n");
}

TEST(CliSwarmCommands, NodePsAsksForTheNodesTasks) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (r.target.rfind("/v1.41/tasks", 0) == 0) {
      FakeWriteAll(fd, FakeResponse(200, "[]"));
    } else {
      ServeM1(r, fd);
    }
  });
  Result res = RunCli(server, {"node", "ps"});
  ASSERT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out,
            "ID        NAME      IMAGE     NODE      DESIRED STATE   CURRENT STATE   ERROR     "
            "PORTS\n");
  std::vector<std::string> calls = server.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[1], "GET /v1.41/info");
  EXPECT_EQ(calls[2], "GET /v1.41/nodes/t9nqvnrsvd2ms9uw7qcod4k0k");
  EXPECT_EQ(
      calls[3],
      "GET /v1.41/tasks?filters=%7B%22node%22%3A%7B%22t9nqvnrsvd2ms9uw7qcod4k0k%22%3Atrue%7D%7D");
}

}  // namespace
}  // namespace berth::cli
