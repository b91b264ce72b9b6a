// Service records in the cluster store: the API's JSON plus, beside it, the sealed registry auths
// of --with-registry-auth, which the API never shows.

#include "cluster/store_internal.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spec/json/service_json.h"

namespace berth::cluster {
namespace {

spec::Service Web() {
  spec::Service s;
  s.id = "svc1";
  s.spec.annotations.name = "web";
  s.spec.task_template.container_spec = spec::ServiceContainerSpec{};
  s.spec.task_template.container_spec->image = "registry.example:5000/web:1";
  return s;
}

TEST(ServiceRecord, RegistryAuthsAreKeptBesideTheApiJsonAndNeverRendered) {
  spec::Service s = Web();
  s.registry_auth = "v1:sealed-current";
  s.previous_registry_auth = "v1:sealed-previous";
  std::string record = EncodeServiceRecord(s);
  nlohmann::json j = nlohmann::json::parse(record);
  EXPECT_EQ(j.value("BerthRegistryAuth", ""), "v1:sealed-current");
  EXPECT_EQ(j.value("BerthPreviousRegistryAuth", ""), "v1:sealed-previous");

  StatusOr<spec::Service> back = DecodeServiceRecord(record);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);

  // What GET /services and service inspect show: no trace of either.
  std::string api = spec::RenderService(*back).dump();
  EXPECT_EQ(api.find("RegistryAuth"), std::string::npos) << api;
  EXPECT_EQ(api.find("sealed"), std::string::npos) << api;
}

TEST(ServiceRecord, OnlyAPreviousAuthOrNoneRoundTrips) {
  spec::Service s = Web();
  s.previous_registry_auth = "v1:only-previous";
  StatusOr<spec::Service> back = DecodeServiceRecord(EncodeServiceRecord(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);

  spec::Service plain = Web();
  std::string record = EncodeServiceRecord(plain);
  EXPECT_EQ(record.find("RegistryAuth"), std::string::npos);
  back = DecodeServiceRecord(record);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, plain);
}

}  // namespace
}  // namespace berth::cluster
