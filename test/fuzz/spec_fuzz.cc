// The typed-spec parsers (spec/json/*.h) on arbitrary request bodies: each input goes to every
// parser, as any body can reach any route.
//
// Invariants, for each parser P and its renderer R:
//   - P fails only with InvalidArgument and a message (the API answers 400 with it), never by
//     throwing or crashing, whatever the nesting, numbers, escapes or invalid UTF-8;
//   - where P(body) = x succeeds, R(x) is JSON the API can send (nlohmann's strict dump, which
//     throws on invalid UTF-8, as the server's SendJson uses) and P(R(x)) == x: rendering loses
//     nothing and normalisation (NetworkMode "default", Volumes {}, PidsLimit) is idempotent;
//   - the store's codec (spec/codec.h) gives back what it was given: Decode(Encode(x)) == x;
//   - ParseFilters(EncodeFilters(f)) == f.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "fuzz_check.h"
#include "spec/codec.h"
#include "spec/json/container_json.h"
#include "spec/json/exec_json.h"
#include "spec/json/filters_json.h"
#include "spec/json/network_json.h"
#include "spec/json/service_json.h"
#include "spec/json/swarm_json.h"

namespace berth::spec {
namespace {

std::string Show(std::string_view s) {
  s = s.substr(0, 2000);
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(s.data(), s.size())), "\"");
}

template <class T>
void CheckError(const StatusOr<T>& r, absl::string_view what, std::string_view body) {
  FUZZ_CHECK(r.status().code() == absl::StatusCode::kInvalidArgument,
             absl::StrCat(what, ": ", r.status().ToString(), " for ", Show(body)));
  FUZZ_CHECK(!r.status().message().empty(), absl::StrCat(what, ": empty message"));
}

// The rendered value as the API server writes it: a strict dump throws on invalid UTF-8.
std::string StrictDump(const nlohmann::ordered_json& j, absl::string_view what,
                       std::string_view body) {
  try {
    return j.dump();
  } catch (const nlohmann::json::exception& e) {
    ::berth::fuzz::Fail("strict dump", __FILE__, __LINE__,
         absl::StrCat(what, " renders JSON that cannot be sent: ", e.what(), " for ", Show(body)));
  }
}

// P(body); where it succeeds, P(R(x)) == x.
template <class T, class Parse, class Render>
void RoundTrip(absl::string_view what, std::string_view body, Parse parse, Render render) {
  StatusOr<T> x = parse(body);
  if (!x.ok()) {
    CheckError(x, what, body);
    return;
  }
  std::string text = StrictDump(render(*x), what, body);
  StatusOr<T> y = parse(text);
  FUZZ_CHECK(y.ok(), absl::StrCat(what, ": the rendering of ", Show(body), " does not parse: ",
                                  y.status().ToString(), "\n     rendered: ", Show(text)));
  FUZZ_CHECK(*x == *y, absl::StrCat(what, ": parse(render(x)) != x for ", Show(body),
                                    "\n     rendered: ", Show(text)));
}

// Decode(text); where it succeeds, Decode(Encode(x)) == x.
template <class T, class Decode, class Encode>
void StoreRoundTrip(absl::string_view what, std::string_view text, Decode decode, Encode encode) {
  StatusOr<T> x = decode(text);
  if (!x.ok()) {
    CheckError(x, what, text);
    return;
  }
  std::string stored = encode(*x);
  StatusOr<T> y = decode(stored);
  FUZZ_CHECK(y.ok(), absl::StrCat(what, ": stored ", Show(stored), " does not decode: ",
                                  y.status().ToString()));
  FUZZ_CHECK(*x == *y, absl::StrCat(what, ": Decode(Encode(x)) != x for ", Show(text),
                                    "\n     stored: ", Show(stored)));
}

}  // namespace
}  // namespace berth::spec

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::spec;
  std::string_view body(reinterpret_cast<const char*>(data), size);

  RoundTrip<ContainerCreateRequest>(
      "ParseContainerCreate", body,
      [](std::string_view b) { return ParseContainerCreate(b, "fuzz_1"); },
      RenderContainerCreateBody);
  RoundTrip<UpdateConfig>("ParseContainerUpdate", body, ParseContainerUpdate, RenderUpdateConfig);
  RoundTrip<ContainerConfig>("ParseContainerConfig", body, ParseContainerConfig,
                             RenderContainerConfig);
  RoundTrip<HostConfig>("ParseHostConfig", body, ParseHostConfig, RenderHostConfig);
  RoundTrip<NetworkCreateRequest>("ParseNetworkCreate", body, ParseNetworkCreate,
                                  RenderNetworkCreate);
  RoundTrip<NetworkConnect>("ParseNetworkConnect", body, ParseNetworkConnect,
                            RenderNetworkConnect);
  RoundTrip<NetworkDisconnect>("ParseNetworkDisconnect", body, ParseNetworkDisconnect,
                               RenderNetworkDisconnect);
  RoundTrip<EndpointSettings>("ParseEndpointSettings", body, ParseEndpointSettings,
                              RenderEndpointSettings);
  RoundTrip<ExecConfig>("ParseExecConfig", body, ParseExecConfig, RenderExecConfig);
  RoundTrip<ExecStartCheck>("ParseExecStart", body, ParseExecStart, RenderExecStart);
  // Swarm mode: request bodies, and the records the cluster keeps in etcd.
  RoundTrip<SwarmInitRequest>("ParseSwarmInitRequest", body, ParseSwarmInitRequest,
                              RenderSwarmInitRequest);
  RoundTrip<SwarmJoinRequest>("ParseSwarmJoinRequest", body, ParseSwarmJoinRequest,
                              RenderSwarmJoinRequest);
  RoundTrip<SwarmSpec>("ParseSwarmSpec", body, ParseSwarmSpec, RenderSwarmSpec);
  RoundTrip<NodeSpec>("ParseNodeSpec", body, ParseNodeSpec, RenderNodeSpec);
  RoundTrip<Node>("ParseNode", body, ParseNode, RenderNode);
  RoundTrip<ClusterInfo>("ParseClusterInfo", body, ParseClusterInfo, RenderClusterInfo);
  RoundTrip<SwarmInfo>("ParseSwarmInfo", body, ParseSwarmInfo, RenderSwarmInfo);
  // Services, tasks, secrets and configs: request bodies, answers and the store's records.
  RoundTrip<ServiceSpec>("ParseServiceSpec", body, ParseServiceSpec, RenderServiceSpec);
  RoundTrip<SecretSpec>("ParseSecretSpec", body, ParseSecretSpec, RenderSecretSpec);
  RoundTrip<ConfigSpec>("ParseConfigSpec", body, ParseConfigSpec, RenderConfigSpec);
  RoundTrip<Service>("ParseService", body, ParseService, RenderService);
  RoundTrip<Task>("ParseTask", body, ParseTask, RenderTask);
  RoundTrip<Secret>("ParseSecret", body, ParseSecret, RenderSecret);
  RoundTrip<Config>("ParseConfig", body, ParseConfig, RenderConfig);
  RoundTrip<ServiceUpdateResponse>("ParseServiceUpdateResponse", body,
                                   ParseServiceUpdateResponse, RenderServiceUpdateResponse);
  if (auto spec = ParseServiceSpec(body); spec.ok()) {
    absl::Status v = ValidateServiceSpec(*spec);  // must not crash; any refusal has words
    FUZZ_CHECK(v.ok() || !v.message().empty(), "ValidateServiceSpec: empty message");
  }

  StoreRoundTrip<ContainerCreateRequest>("DecodeContainerCreate", body, DecodeContainerCreate,
                                         EncodeContainerCreate);
  StoreRoundTrip<HostConfig>("DecodeHostConfig", body, DecodeHostConfig, EncodeHostConfig);
  StoreRoundTrip<NetworkCreateRequest>("DecodeNetworkCreate", body, DecodeNetworkCreate,
                                       EncodeNetworkCreate);
  StoreRoundTrip<EndpointSettings>("DecodeEndpointSettings", body, DecodeEndpointSettings,
                                   EncodeEndpointSettings);

  absl::StatusOr<Filters> f = ParseFilters(body);
  if (f.ok()) {
    std::string text = EncodeFilters(*f);
    absl::StatusOr<Filters> g = ParseFilters(text);
    FUZZ_CHECK(g.ok() && *f == *g, "ParseFilters(EncodeFilters(f)) != f for " + Show(body));
  } else {
    CheckError(f, "ParseFilters", body);
  }
  return 0;
}
