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

}  // namespace
}  // namespace berth::cluster
