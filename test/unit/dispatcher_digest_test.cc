// The digest a node's assignment long poll compares (dispatcher.h: AssignmentDigest): what the
// node acts on changes it, its own status reports coming back do not.
#include <gtest/gtest.h>

#include "cluster/dispatcher.h"
#include "nlohmann/json.hpp"

namespace berth::cluster {
namespace {

nlohmann::json Set(const std::string& state, uint64_t version, const std::string& desired) {
  nlohmann::json task = {{"ID", "t1"},
                         {"Version", {{"Index", version}}},
                         {"UpdatedAt", "2026-12-02T22:00:0" + std::to_string(version % 10) + "Z"},
                         {"DesiredState", desired},
                         {"Spec", {{"ContainerSpec", {{"Image", "web:latest"}}}}},
                         {"Status", {{"State", state}, {"Message", state}}}};
  return {{"tasks", nlohmann::json::array({{{"task", task}, {"service_name", "web"}}})},
          {"networks", nlohmann::json::array()},
          {"mesh", nlohmann::json::object()}};
}

TEST(DispatcherDigest, ANodesOwnStatusReportsDoNotChangeIt) {
  std::string assigned = AssignmentDigest(Set("assigned", 10, "running"));
  EXPECT_EQ(AssignmentDigest(Set("preparing", 11, "running")), assigned);
  EXPECT_EQ(AssignmentDigest(Set("running", 14, "running")), assigned);
}

TEST(DispatcherDigest, WhatTheNodeActsOnChangesIt) {
  std::string before = AssignmentDigest(Set("running", 14, "running"));
  EXPECT_NE(AssignmentDigest(Set("running", 15, "shutdown")), before);
  nlohmann::json image = Set("running", 14, "running");
  image["tasks"][0]["task"]["Spec"]["ContainerSpec"]["Image"] = "web:v2";
  EXPECT_NE(AssignmentDigest(image), before);
  nlohmann::json more = Set("running", 14, "running");
  more["tasks"].push_back(more["tasks"][0]);
  more["tasks"][1]["task"]["ID"] = "t2";
  EXPECT_NE(AssignmentDigest(more), before);
  nlohmann::json peers = Set("running", 14, "running");
  peers["networks"].push_back({{"network", {{"id", "n1"}}}, {"peers", nlohmann::json::array()}});
  EXPECT_NE(AssignmentDigest(peers), before);
  EXPECT_NE(AssignmentDigest(nlohmann::json::object()), before);
}

std::string Record(const std::string& state, uint64_t version, const std::string& desired,
                   bool attached = false) {
  nlohmann::json t = Set(state, version, desired)["tasks"][0]["task"];
  if (attached)
    t["NetworksAttachments"] = {{{"Network", {{"ID", "n1"}}}, {"Addresses", {"10.0.1.3/24"}}}};
  return t.dump();
}

TEST(DispatcherTaskShape, AStatusReportAloneKeepsItsShape) {
  std::optional<std::string> assigned = TaskShape(Record("assigned", 10, "running"));
  ASSERT_TRUE(assigned.has_value());
  EXPECT_EQ(TaskShape(Record("starting", 13, "running")), assigned);
  EXPECT_EQ(TaskShape(Record("running", 14, "running")), assigned);
}

TEST(DispatcherTaskShape, WhatANodeSeesChangesIt) {
  std::optional<std::string> running = TaskShape(Record("running", 14, "running"));
  ASSERT_TRUE(running.has_value());
  EXPECT_NE(TaskShape(Record("running", 15, "shutdown")), running);
  // Past running its secrets and configs are no longer sent.
  EXPECT_NE(TaskShape(Record("failed", 15, "running")), running);
  // A task on a network: its state decides other nodes' peers.
  EXPECT_FALSE(TaskShape(Record("running", 14, "running", /*attached=*/true)).has_value());
  EXPECT_FALSE(TaskShape("not json").has_value());
}

}  // namespace
}  // namespace berth::cluster
