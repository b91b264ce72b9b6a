#pragma once
// What the unit tests of runc's spec share: a HostConfig from Docker's JSON (through the API's
// parser) and the spec BuildOciSpec makes of it for one fixed container running `sh -c true`.

#include "engine/runtime.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spec/json/container_json.h"

namespace berth::engine::oci_test {

inline spec::HostConfig Hc(const nlohmann::json& j) {
  auto hc = spec::ParseHostConfig(j.dump());
  EXPECT_TRUE(hc.ok()) << hc.status();
  return hc.ok() ? *hc : spec::HostConfig();
}

inline nlohmann::json Spec(const spec::HostConfig& hc, OciInputs in = OciInputs()) {
  in.id = "abc";
  in.hostname = "h";
  in.args = {"sh", "-c", "true"};
  in.container_dir = "/c";
  in.host_config = &hc;
  in.kernel = KernelVersion{6, 1};
  auto s = BuildOciSpec(in);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? nlohmann::json::parse(*s) : nlohmann::json();
}

}  // namespace berth::engine::oci_test
