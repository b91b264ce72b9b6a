// Service, task, secret and config values against the bodies Docker 20.10 and the docker CLI
// exchanged on this machine (shared/reference/api-traces/service-*.md), copied to
// test/unit/testdata/service: a file per distinct body, chosen so that together they hold
// every key path and every state, message and mode value the traces show. Parse, then render:
// the same text, key for key. Then the Go decoding's words, the omitempty rules, a round trip
// of every field, and the refusals of ValidateServiceSpec in Docker's words.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "spec/json/service_json.h"

namespace berth::spec {
namespace {

using Json = nlohmann::ordered_json;

const std::string kTestdata = std::string(BERTH_SOURCE_DIR) + "/test/unit/testdata/service/";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

std::string Testdata(const std::string& name) { return Read(kTestdata + name); }

// The traces hold the bodies indented by one space (keys and values as sent).
std::string Indented(const Json& j) { return j.dump(1); }

template <class T>
std::string RenderList(const std::vector<T>& xs, Json (*render)(const T&)) {
  Json a = Json::array();
  for (const T& x : xs) a.push_back(render(x));
  return Indented(a);
}

// Parses text as the body its file name says, and renders the value back (or the error).
std::string ParseAndRender(const std::string& kind, const std::string& text) {
  auto err = [](const Status& s) { return "error: " + s.ToString(); };
  if (kind == "service") {
    auto v = ParseService(text);
    return v.ok() ? Indented(RenderService(*v)) : err(v.status());
  }
  if (kind == "services") {
    auto v = ParseServices(text);
    return v.ok() ? RenderList<Service>(*v, RenderService) : err(v.status());
  }
  if (kind == "tasks") {
    auto v = ParseTasks(text);
    return v.ok() ? RenderList<Task>(*v, RenderTask) : err(v.status());
  }
  if (kind == "spec") {
    auto v = ParseServiceSpec(text);
    return v.ok() ? Indented(RenderServiceSpec(*v)) : err(v.status());
  }
  if (kind == "create") {
    auto v = ParseServiceCreateResponse(text);
    return v.ok() ? Indented(RenderServiceCreateResponse(*v)) : err(v.status());
  }
  if (kind == "update") {
    auto v = ParseServiceUpdateResponse(text);
    return v.ok() ? Indented(RenderServiceUpdateResponse(*v)) : err(v.status());
  }
  return "unknown kind " + kind;
}

TEST(SpecService, EveryTraceBodyRendersBackByteForByte) {
  std::map<std::string, int> seen;
  for (const auto& entry : std::filesystem::directory_iterator(kTestdata)) {
    std::string name = entry.path().filename().string();
    std::string kind = name.substr(0, name.find('-'));
    std::string text = Read(entry.path().string());
    ASSERT_FALSE(text.empty()) << name;
    EXPECT_EQ(ParseAndRender(kind, text), text) << name;
    ++seen[kind];
  }
  for (const char* kind : {"service", "services", "tasks", "spec", "create", "update"}) {
    EXPECT_GT(seen[kind], 0) << kind;
  }
}

TEST(SpecService, CreateRequestOfTheDockerCli) {
  auto spec = ParseServiceSpec(Testdata("spec-create-service-create-web.json"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->annotations.name, "web");
  ASSERT_TRUE(spec->task_template.container_spec.has_value());
  const ServiceContainerSpec& c = *spec->task_template.container_spec;
  EXPECT_EQ(c.image, "web:latest");
  EXPECT_EQ(c.init, false);  // "Init": false is sent, so it is set
  ASSERT_TRUE(c.dns_config.has_value());
  EXPECT_TRUE(c.dns_config->nameservers.empty());
  ASSERT_TRUE(spec->task_template.resources.has_value());
  EXPECT_TRUE(spec->task_template.resources->limits.has_value());
  EXPECT_TRUE(spec->task_template.placement.has_value());
  EXPECT_TRUE(spec->mode.replicated);
  EXPECT_EQ(spec->mode.replicas, 2u);
  EXPECT_FALSE(spec->mode.global);
  ASSERT_TRUE(spec->endpoint_spec.has_value());
  EXPECT_EQ(spec->endpoint_spec->mode, "vip");
  ASSERT_EQ(spec->endpoint_spec->ports.size(), 1u);
  EXPECT_EQ(spec->endpoint_spec->ports[0],
            (ServicePortConfig{"", "tcp", 80, 8080, "ingress"}));
  EXPECT_FALSE(spec->update_config.has_value());
  EXPECT_TRUE(ValidateServiceSpec(*spec).ok()) << ValidateServiceSpec(*spec);

  auto created = ParseServiceCreateResponse(Testdata("create-response-service-create-web.json"));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->id, "kyu7py1nzxgp7hhusmvtu5olp");
  EXPECT_TRUE(created->warnings.empty());
}

TEST(SpecService, UpdateStatusAndPreviousSpecThroughAFailedUpdate) {
  auto updating = ParseService(Testdata("service-service-update-failure-rollback.json"));
  ASSERT_TRUE(updating.ok()) << updating.status();
  ASSERT_TRUE(updating->update_status.has_value());
  EXPECT_EQ(updating->update_status->state, kUpdateUpdating);
  EXPECT_EQ(updating->update_status->message, "update in progress");
  EXPECT_TRUE(updating->update_status->started_at.has_value());
  EXPECT_FALSE(updating->update_status->completed_at.has_value());
  ASSERT_TRUE(updating->spec.update_config.has_value());
  EXPECT_EQ(updating->spec.update_config->failure_action, "rollback");
  EXPECT_EQ(updating->spec.update_config->max_failure_ratio, static_cast<double>(0.2f));
  ASSERT_TRUE(updating->previous_spec.has_value());
  EXPECT_EQ(updating->previous_spec->task_template.container_spec->image, "web:v2");

  auto rolled_back = ParseService(Testdata("service-service-inspect-after-failed-update.json"));
  ASSERT_TRUE(rolled_back.ok()) << rolled_back.status();
  ASSERT_TRUE(rolled_back->update_status.has_value());
  EXPECT_EQ(rolled_back->update_status->state, kUpdateRollbackCompleted);
  EXPECT_EQ(rolled_back->update_status->message, "rollback completed");
  EXPECT_EQ(rolled_back->update_status->completed_at, 1795836624745230489);
  EXPECT_FALSE(rolled_back->previous_spec.has_value());
  const ServiceSpec& s = rolled_back->spec;
  EXPECT_EQ(s.task_template.container_spec->stop_grace_period, 10000000000);
  EXPECT_EQ(s.task_template.container_spec->isolation, "default");
  EXPECT_EQ(s.task_template.runtime, "container");
  ASSERT_TRUE(s.task_template.restart_policy.has_value());
  EXPECT_EQ(s.task_template.restart_policy->condition, "any");
  EXPECT_EQ(s.task_template.restart_policy->max_attempts, 0u);  // present, and 0
  EXPECT_FALSE(s.task_template.restart_policy->window.has_value());
  ASSERT_TRUE(s.rollback_config.has_value());
  EXPECT_EQ(s.rollback_config->order, "stop-first");
  EXPECT_EQ(s.rollback_config->delay, 0);
  ASSERT_EQ(rolled_back->endpoint.virtual_ips.size(), 1u);
  EXPECT_EQ(rolled_back->endpoint.virtual_ips[0].addr, "10.0.0.5/24");

  auto listed = ParseServices(Testdata("services-service-ls.json"));
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  ASSERT_TRUE((*listed)[0].service_status.has_value());
  EXPECT_EQ((*listed)[0].service_status->desired_tasks, 2u);

  auto update = ParseServiceUpdateResponse(Testdata("update-response-service-scale-1.json"));
  ASSERT_TRUE(update.ok());
  EXPECT_TRUE(update->warnings.empty());
}

TEST(SpecService, TasksOfTheTraces) {
  auto pending = ParseTasks(Testdata("tasks-service-create-web.json"));
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 2u);
  const Task& t = (*pending)[0];
  EXPECT_EQ(t.service_id, "kyu7py1nzxgp7hhusmvtu5olp");
  EXPECT_EQ(t.slot, 1);
  EXPECT_TRUE(t.node_id.empty());
  EXPECT_EQ(t.status.state, "pending");
  EXPECT_EQ(t.status.message, "pending task scheduling");
  EXPECT_EQ(t.desired_state, "running");
  EXPECT_FALSE(t.status.container_status.has_value());
  ASSERT_EQ(t.networks_attachments.size(), 1u);
  const SwarmNetwork& ingress = t.networks_attachments[0].network;
  EXPECT_EQ(ingress.spec.annotations.name, "ingress");
  EXPECT_TRUE(ingress.spec.ingress);
  EXPECT_EQ(ingress.spec.scope, "swarm");
  EXPECT_EQ(ingress.driver_state.name, "overlay");
  ASSERT_TRUE(ingress.ipam_options.has_value());
  EXPECT_EQ(ingress.ipam_options->configs.at(0).subnet, "10.0.0.0/24");
  EXPECT_EQ(t.networks_attachments[0].addresses, std::vector<std::string>{"10.0.0.6/24"});

  // Failed and shut-down tasks keep their container's status, PID 0 and all.
  auto history = ParseTasks(Testdata("tasks-service-ps-after-failed-update.json"));
  ASSERT_TRUE(history.ok()) << history.status();
  bool killed = false;
  for (const Task& task : *history) {
    if (task.status.container_status && task.status.container_status->exit_code == 137) {
      killed = true;
      EXPECT_EQ(task.status.state, "shutdown");
      EXPECT_EQ(task.status.container_status->pid, 0);
    }
  }
  EXPECT_TRUE(killed);
}

TEST(SpecService, OmitEmptyAsMobyDeclaresIt) {
  constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";
  EXPECT_EQ(RenderServiceSpec(ServiceSpec{}).dump(),
            R"({"Labels":{},"TaskTemplate":{"ForceUpdate":0},"Mode":{}})");
  EXPECT_EQ(RenderService(Service{}).dump(),
            absl::StrCat(R"({"ID":"","Version":{},"CreatedAt":")", kZeroTime,
                         R"(","UpdatedAt":")", kZeroTime,
                         R"(","Spec":{"Labels":{},"TaskTemplate":{"ForceUpdate":0},"Mode":{}},)"
                         R"("Endpoint":{"Spec":{}}})"));
  EXPECT_EQ(RenderTask(Task{}).dump(),
            absl::StrCat(R"({"ID":"","Version":{},"CreatedAt":")", kZeroTime,
                         R"(","UpdatedAt":")", kZeroTime,
                         R"(","Labels":{},"Spec":{"ForceUpdate":0},"Status":{"Timestamp":")",
                         kZeroTime, R"(","PortStatus":{}}})"));
  EXPECT_EQ(RenderSecret(Secret{}).dump(),
            absl::StrCat(R"({"ID":"","Version":{},"CreatedAt":")", kZeroTime,
                         R"(","UpdatedAt":")", kZeroTime, R"(","Spec":{"Labels":{}}})"));
  EXPECT_EQ(RenderConfigSpec(ConfigSpec{}).dump(), R"({"Labels":{}})");
  EXPECT_EQ(RenderServiceCreateResponse({"abc", {}}).dump(), R"({"ID":"abc"})");
  EXPECT_EQ(RenderServiceCreateResponse({"abc", {"w"}}).dump(), R"({"ID":"abc","Warnings":["w"]})");
  // types.ServiceUpdateResponse has no omitempty: null (the trace's answer) when there is none.
  EXPECT_EQ(RenderServiceUpdateResponse({}).dump(), R"({"Warnings":null})");
  EXPECT_EQ(RenderServiceUpdateResponse({{"w"}}).dump(), R"({"Warnings":["w"]})");
  EXPECT_EQ(RenderIdResponse({"s1"}).dump(), R"({"ID":"s1"})");

  // A pointer that is set renders, even when what it holds is zero.
  ServiceSpec s;
  s.task_template.container_spec.emplace().init = false;
  s.task_template.restart_policy.emplace().max_attempts = 0;
  s.update_config.emplace();
  s.mode.replicated = true;
  EXPECT_EQ(RenderServiceSpec(s).dump(),
            R"({"Labels":{},"TaskTemplate":{"ContainerSpec":{"Init":false},)"
            R"("RestartPolicy":{"MaxAttempts":0},"ForceUpdate":0},"Mode":{"Replicated":{}},)"
            R"("UpdateConfig":{"Parallelism":0,"MaxFailureRatio":0,"Order":""}})");
  // ContainerStatus, SecretReference.File, Privileges, CredentialSpec: no omitempty.
  Task t;
  t.status.container_status.emplace();
  EXPECT_EQ(RenderTask(t)["Status"]["ContainerStatus"].dump(),
            R"({"ContainerID":"","PID":0,"ExitCode":0})");
  ServiceContainerSpec c;
  c.secrets.push_back({std::nullopt, "id", "name"});
  c.privileges.emplace().credential_spec.emplace();
  ServiceSpec with_secret;
  with_secret.task_template.container_spec = c;
  Json cj = RenderServiceSpec(with_secret)["TaskTemplate"]["ContainerSpec"];
  EXPECT_EQ(cj["Secrets"].dump(), R"([{"File":null,"SecretID":"id","SecretName":"name"}])");
  EXPECT_EQ(cj["Privileges"].dump(),
            R"({"CredentialSpec":{"Config":"","File":"","Registry":""},"SELinuxContext":null})");
}

// Every field set, so that every key renders and comes back.
ServiceSpec FullServiceSpec() {
  ServiceSpec s;
  s.annotations = {"web", {{"tier", "front"}}};
  ServiceContainerSpec& c = s.task_template.container_spec.emplace();
  c.image = "nginx:1.25@sha256:" + std::string(64, 'a');
  c.labels = {{"l", "v"}};
  c.command = {"nginx"};
  c.args = {"-g", "daemon off;"};
  c.hostname = "{{.Task.Name}}";
  c.env = {"A=1"};
  c.dir = "/srv";
  c.user = "www";
  c.groups = {"adm"};
  c.privileges = Privileges{CredentialSpec{"", "spec.json", ""},
                            SELinuxContext{true, "u", "r", "t", "s0"}};
  c.init = true;
  c.stop_signal = "SIGQUIT";
  c.tty = true;
  c.open_stdin = true;
  c.read_only = true;
  Mount m;
  m.type = "volume";
  m.source = "data";
  m.target = "/data";
  m.volume_options.emplace().no_copy = true;
  c.mounts = {m};
  c.stop_grace_period = 3000000000;
  c.healthcheck = HealthConfig{{"CMD", "true"}, 1000000000, 2000000000, 3000000000, 4};
  c.hosts = {"10.0.0.1 db"};
  c.dns_config = DnsConfig{{"1.1.1.1"}, {"example.com"}, {"ndots:2"}};
  c.secrets = {{SecretReferenceFileTarget{"s", "0", "0", 0444}, "sid", "sname"}};
  c.configs = {{SecretReferenceFileTarget{"/etc/c", "1", "2", 0400}, false, "cid", "cname"},
               {std::nullopt, true, "cid2", "cname2"}};
  c.isolation = "default";
  c.sysctls = {{"net.core.somaxconn", "1024"}};
  c.capability_add = {"CAP_NET_ADMIN"};
  c.capability_drop = {"CAP_MKNOD"};
  c.ulimits = {{"nofile", 2048, 1024}};
  TaskSpec& t = s.task_template;
  t.resources = ResourceRequirements{ServiceLimit{2000000000, 1 << 30, 100},
                                     NodeResources{500000000, 64 << 20}};
  t.restart_policy = ServiceRestartPolicy{"on-failure", 5000000000, 3, 60000000000};
  t.placement = Placement{{"node.role == worker"}, {{"node.labels.zone"}}, 2, {{"amd64", "linux"}}};
  t.networks = {{"backend", {"web"}, {{"opt", "1"}}}};
  t.log_driver = LogDriver{"json-file", StringMap{{"max-size", "1m"}}};
  t.force_update = 7;
  t.runtime = "container";
  s.mode.replicated = true;
  s.mode.replicas = 3;
  s.update_config = ServiceUpdateConfig{2, 1000000000, "rollback", 5000000000, 0.25, "start-first"};
  s.rollback_config = ServiceUpdateConfig{0, 0, "continue", 0, 0, "stop-first"};
  s.networks = {{"legacy", {}, {}}};
  s.endpoint_spec = EndpointSpec{"vip", {{"http", "tcp", 80, 8080, "ingress"},
                                         {"", "udp", 53, 0, "host"}}};
  return s;
}

std::vector<std::string> Keys(const Json& j) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  return keys;
}

using Strings = std::vector<std::string>;

TEST(SpecService, EveryServiceFieldRoundTripsInGoOrder) {
  ServiceSpec s = FullServiceSpec();
  Json j = RenderServiceSpec(s);
  EXPECT_EQ(Keys(j), (Strings{"Name", "Labels", "TaskTemplate", "Mode", "UpdateConfig",
                              "RollbackConfig", "Networks", "EndpointSpec"}));
  EXPECT_EQ(Keys(j["TaskTemplate"]),
            (Strings{"ContainerSpec", "Resources", "RestartPolicy", "Placement", "Networks",
                     "LogDriver", "ForceUpdate", "Runtime"}));
  EXPECT_EQ(Keys(j["TaskTemplate"]["ContainerSpec"]),
            (Strings{"Image", "Labels", "Command", "Args", "Hostname", "Env", "Dir", "User",
                     "Groups", "Privileges", "Init", "StopSignal", "TTY", "OpenStdin",
                     "ReadOnly", "Mounts", "StopGracePeriod", "Healthcheck", "Hosts",
                     "DNSConfig", "Secrets", "Configs", "Isolation", "Sysctls", "CapabilityAdd",
                     "CapabilityDrop", "Ulimits"}));
  const Json& c = j["TaskTemplate"]["ContainerSpec"];
  EXPECT_EQ(c["Configs"].dump(),
            R"([{"File":{"Name":"/etc/c","UID":"1","GID":"2","Mode":256},"ConfigID":"cid",)"
            R"("ConfigName":"cname"},{"Runtime":{},"ConfigID":"cid2","ConfigName":"cname2"}])");
  EXPECT_EQ(c["Ulimits"].dump(), R"([{"Name":"nofile","Hard":2048,"Soft":1024}])");
  EXPECT_EQ(c["Healthcheck"].dump(),
            R"({"Test":["CMD","true"],"Interval":1000000000,"Timeout":2000000000,)"
            R"("StartPeriod":3000000000,"Retries":4})");
  EXPECT_EQ(j["TaskTemplate"]["Resources"].dump(),
            R"({"Limits":{"NanoCPUs":2000000000,"MemoryBytes":1073741824,"Pids":100},)"
            R"("Reservations":{"NanoCPUs":500000000,"MemoryBytes":67108864}})");
  EXPECT_EQ(j["TaskTemplate"]["Placement"].dump(),
            R"({"Constraints":["node.role == worker"],)"
            R"("Preferences":[{"Spread":{"SpreadDescriptor":"node.labels.zone"}}],)"
            R"("MaxReplicas":2,"Platforms":[{"Architecture":"amd64","OS":"linux"}]})");
  EXPECT_EQ(j["TaskTemplate"]["Networks"].dump(),
            R"([{"Target":"backend","Aliases":["web"],"DriverOpts":{"opt":"1"}}])");
  EXPECT_EQ(j["Mode"].dump(), R"({"Replicated":{"Replicas":3}})");
  EXPECT_EQ(j["UpdateConfig"].dump(),
            R"({"Parallelism":2,"Delay":1000000000,"FailureAction":"rollback",)"
            R"("Monitor":5000000000,"MaxFailureRatio":0.25,"Order":"start-first"})");
  EXPECT_EQ(j["EndpointSpec"].dump(),
            R"({"Mode":"vip","Ports":[{"Name":"http","Protocol":"tcp","TargetPort":80,)"
            R"("PublishedPort":8080,"PublishMode":"ingress"},)"
            R"({"Protocol":"udp","TargetPort":53,"PublishMode":"host"}]})");
  auto back = ParseServiceSpec(j.dump());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  EXPECT_TRUE(ValidateServiceSpec(s).ok()) << ValidateServiceSpec(s);

  // The other modes, and a network-attachment task spec.
  ServiceSpec global;
  global.mode.global = true;
  EXPECT_EQ(RenderServiceSpec(global)["Mode"].dump(), R"({"Global":{}})");
  ServiceSpec job;
  job.mode.replicated_job = ReplicatedJob{2, 10};
  EXPECT_EQ(RenderServiceSpec(job)["Mode"].dump(),
            R"({"ReplicatedJob":{"MaxConcurrent":2,"TotalCompletions":10}})");
  job.mode.global_job = true;
  job.task_template.network_attachment_spec = NetworkAttachmentSpec{"c1"};
  Json jj = RenderServiceSpec(job);
  EXPECT_EQ(jj["Mode"].dump(),
            R"({"ReplicatedJob":{"MaxConcurrent":2,"TotalCompletions":10},"GlobalJob":{}})");
  EXPECT_EQ(jj["TaskTemplate"].dump(),
            R"({"NetworkAttachmentSpec":{"ContainerID":"c1"},"ForceUpdate":0})");
  for (const ServiceSpec& x : {global, job}) {
    auto y = ParseServiceSpec(RenderServiceSpec(x).dump());
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ(*y, x);
  }

  Service svc;
  svc.id = "sid";
  svc.meta = {{12}, 1795836493407764250, 1795836493409172380};
  svc.spec = s;
  svc.previous_spec = global;
  svc.endpoint = {*s.endpoint_spec, s.endpoint_spec->ports, {{"net", "10.0.0.5/24"}}};
  svc.update_status = UpdateStatus{kUpdatePaused, 1795836493407764250, 1795836493409172380,
                                   "update paused due to failure or early termination of task x"};
  svc.service_status = ServiceStatus{1, 3, 0};
  svc.job_status = JobStatus{{4}, 1795836493407764250};
  Json sj = RenderService(svc);
  EXPECT_EQ(Keys(sj), (Strings{"ID", "Version", "CreatedAt", "UpdatedAt", "Spec", "PreviousSpec",
                               "Endpoint", "UpdateStatus", "ServiceStatus", "JobStatus"}));
  EXPECT_EQ(sj["UpdateStatus"]["StartedAt"], "2026-11-28T03:28:13.40776425Z");
  EXPECT_EQ(sj["ServiceStatus"].dump(),
            R"({"RunningTasks":1,"DesiredTasks":3,"CompletedTasks":0})");
  EXPECT_EQ(sj["JobStatus"].dump(),
            R"({"JobIteration":{"Index":4},"LastExecution":"2026-11-28T03:28:13.40776425Z"})");
  auto svc_back = ParseService(sj.dump());
  ASSERT_TRUE(svc_back.ok()) << svc_back.status();
  EXPECT_EQ(*svc_back, svc);
}

TEST(SpecService, EveryTaskFieldRoundTripsInGoOrder) {
  Task t;
  t.id = "tid";
  t.meta = {{30}, 1795836493408564059, 1795836493409495008};
  t.annotations = {"web.1.tid", {{"a", "b"}}};
  t.spec = FullServiceSpec().task_template;
  t.service_id = "sid";
  t.slot = 1;
  t.node_id = "nid";
  t.status.timestamp = 1795836493409474798;
  t.status.state = "failed";
  t.status.message = "started";
  t.status.err = "task: non-zero exit (1)";
  t.status.container_status = ContainerStatus{"c0ffee", 4242, 1};
  t.status.port_status.ports = {{"", "tcp", 80, 30000, "host"}};
  t.desired_state = "shutdown";
  NetworkAttachment a;
  a.network.id = "q93";
  a.network.meta.version.index = 6;
  a.network.spec.annotations.name = "ingress";
  a.network.spec.driver_configuration = LogDriver{"overlay", std::nullopt};
  a.network.spec.ipv6_enabled = true;
  a.network.spec.internal = true;
  a.network.spec.attachable = true;
  a.network.spec.ingress = true;
  a.network.spec.ipam_options = SwarmIpamOptions{{}, {}};
  a.network.spec.config_from = "base";
  a.network.spec.scope = "swarm";
  a.network.driver_state = LogDriver{"overlay", StringMap{{"vxlan", "4096"}}};
  a.network.ipam_options =
      SwarmIpamOptions{{"default", std::nullopt}, {{"10.0.0.0/24", "10.0.0.0/25", "10.0.0.1"}}};
  a.addresses = {"10.0.0.6/24"};
  t.networks_attachments = {a};
  t.job_iteration = SwarmVersion{2};
  Json j = RenderTask(t);
  EXPECT_EQ(Keys(j), (Strings{"ID", "Version", "CreatedAt", "UpdatedAt", "Name", "Labels", "Spec",
                              "ServiceID", "Slot", "NodeID", "Status", "DesiredState",
                              "NetworksAttachments", "JobIteration"}));
  EXPECT_EQ(j["Status"].dump(),
            R"({"Timestamp":"2026-11-28T03:28:13.409474798Z","State":"failed",)"
            R"j("Message":"started","Err":"task: non-zero exit (1)",)j"
            R"("ContainerStatus":{"ContainerID":"c0ffee","PID":4242,"ExitCode":1},)"
            R"("PortStatus":{"Ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":30000,)"
            R"("PublishMode":"host"}]}})");
  EXPECT_EQ(Keys(j["NetworksAttachments"][0]["Network"]["Spec"]),
            (Strings{"Name", "Labels", "DriverConfiguration", "IPv6Enabled", "Internal",
                     "Attachable", "Ingress", "IPAMOptions", "ConfigFrom", "Scope"}));
  EXPECT_EQ(j["NetworksAttachments"][0]["Network"]["Spec"]["ConfigFrom"].dump(),
            R"({"Network":"base"})");
  EXPECT_EQ(j["NetworksAttachments"][0]["Network"]["IPAMOptions"].dump(),
            R"({"Driver":{"Name":"default"},"Configs":[{"Subnet":"10.0.0.0/24",)"
            R"("Range":"10.0.0.0/25","Gateway":"10.0.0.1"}]})");
  EXPECT_EQ(j["JobIteration"].dump(), R"({"Index":2})");
  auto back = ParseTask(j.dump());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);
  auto list = ParseTasks(Json::array({j, RenderTask(Task{})}).dump());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0], t);
}

TEST(SpecService, SecretsAndConfigs) {
  SecretSpec s;
  s.annotations = {"db_password", {{"a", "b"}}};
  s.data = std::string("s3cr\0t", 6);
  s.templating = LogDriver{"golang", std::nullopt};
  Json sj = RenderSecretSpec(s);
  EXPECT_EQ(sj.dump(),
            R"({"Name":"db_password","Labels":{"a":"b"},"Data":"czNjcgB0",)"
            R"("Templating":{"Name":"golang"}})");
  auto back = ParseSecretSpec(sj.dump());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  SecretSpec external;
  external.annotations.name = "vault";
  external.driver = LogDriver{"vault-driver", StringMap{{"path", "/x"}}};
  EXPECT_EQ(RenderSecretSpec(external).dump(),
            R"({"Name":"vault","Labels":{},"Driver":{"Name":"vault-driver","Options":{"path":"/x"}}})");
  // Go renders nil and empty Data alike (omitted): "" reads as unset.
  auto empty = ParseSecretSpec(R"({"Name":"x","Data":""})");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->data.has_value());

  Secret secret{"sid", {{11}, 1795836493407764250, 1795836493407764250}, s};
  secret.spec.data.reset();  // GET /secrets never shows the data
  auto secrets = ParseSecrets(Json::array({RenderSecret(secret)}).dump());
  ASSERT_TRUE(secrets.ok()) << secrets.status();
  ASSERT_EQ(secrets->size(), 1u);
  EXPECT_EQ((*secrets)[0], secret);

  Config config{"cid", {{12}, 1795836493407764250, 1795836493409172380}, {}};
  config.spec.annotations.name = "nginx.conf";
  config.spec.data = "server {}\n";
  config.spec.templating = LogDriver{"golang", std::nullopt};
  Json cj = RenderConfig(config);
  EXPECT_EQ(Keys(cj), (Strings{"ID", "Version", "CreatedAt", "UpdatedAt", "Spec"}));
  EXPECT_EQ(cj["Spec"].dump(),
            R"({"Name":"nginx.conf","Labels":{},"Data":"c2VydmVyIHt9Cg==",)"
            R"("Templating":{"Name":"golang"}})");
  auto config_back = ParseConfig(cj.dump());
  ASSERT_TRUE(config_back.ok()) << config_back.status();
  EXPECT_EQ(*config_back, config);
  auto configs = ParseConfigs("[]");
  ASSERT_TRUE(configs.ok());
  EXPECT_TRUE(configs->empty());
  auto id = ParseIdResponse(R"({"ID":"ktnbjxoalbkvbvedmg1urrz8h"})");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->id, "ktnbjxoalbkvbvedmg1urrz8h");
}

TEST(SpecService, MaxFailureRatioIsAFloat32) {
  auto ratio = [](std::string_view v) {
    auto s = ParseServiceSpec(absl::StrCat(R"({"UpdateConfig":{"MaxFailureRatio":)", Av(v), "}}"));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->update_config->max_failure_ratio : -1;
  };
  EXPECT_EQ(ratio("0.1"), static_cast<double>(0.1f));
  EXPECT_EQ(ratio("1e-50"), 0);  // below float's range: 0, as strconv.ParseFloat(s, 32)
  ServiceSpec s;
  for (double x : {0.1, 0.2, 0.333, 1.0, 0.0, 0.5}) {
    s.update_config = ServiceUpdateConfig{};
    s.update_config->max_failure_ratio = static_cast<float>(x);
    std::string text = RenderServiceSpec(s)["UpdateConfig"]["MaxFailureRatio"].dump();
    EXPECT_EQ(text, x == 1.0 ? "1" : x == 0.0 ? "0" : Json(x).dump()) << x;
  }
}

TEST(SpecService, ErrorsInGosWords) {
  auto msg = [](const StatusOr<ServiceSpec>& r) {
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    }
    return std::string(r.status().message());
  };
  EXPECT_EQ(msg(ParseServiceSpec("")), "got EOF while reading request body");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"Name":"web")")), "unexpected EOF");
  EXPECT_EQ(msg(ParseServiceSpec("[]")),
            "json: cannot unmarshal array into Go value of type swarm.ServiceSpec");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"Name":1})")),
            "json: cannot unmarshal number into Go struct field ServiceSpec.Name of type string");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"TaskTemplate":{"ContainerSpec":{"Image":1}}})")),
            "json: cannot unmarshal number into Go struct field ContainerSpec.TaskTemplate."
            "ContainerSpec.Image of type string");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"Mode":{"Replicated":{"Replicas":-1}}})")),
            "json: cannot unmarshal number -1 into Go struct field ReplicatedService.Mode."
            "Replicated.Replicas of type uint64");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"Mode":{"Global":1}})")),
            "json: cannot unmarshal number into Go struct field ServiceMode.Mode.Global of type "
            "swarm.GlobalService");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"TaskTemplate":{"RestartPolicy":{"Delay":"5s"}}})")),
            "json: cannot unmarshal string into Go struct field RestartPolicy.TaskTemplate."
            "RestartPolicy.Delay of type time.Duration");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"UpdateConfig":{"MaxFailureRatio":"x"}})")),
            "json: cannot unmarshal string into Go struct field UpdateConfig.UpdateConfig."
            "MaxFailureRatio of type float32");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"UpdateConfig":{"MaxFailureRatio":1e39}})")),
            "json: cannot unmarshal number 1e39 into Go struct field UpdateConfig.UpdateConfig."
            "MaxFailureRatio of type float32");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"EndpointSpec":{"Ports":[{"TargetPort":4294967296}]}})")),
            "json: cannot unmarshal number 4294967296 into Go struct field PortConfig.EndpointSpec."
            "Ports.TargetPort of type uint32");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"TaskTemplate":{"ContainerSpec":{"Secrets":{}}}})")),
            "json: cannot unmarshal object into Go struct field ContainerSpec.TaskTemplate."
            "ContainerSpec.Secrets of type []*swarm.SecretReference");
  EXPECT_EQ(
      msg(ParseServiceSpec(
          R"({"TaskTemplate":{"ContainerSpec":{"Configs":[{"File":{"Mode":"0444"}}]}}})")),
      "json: cannot unmarshal string into Go struct field ConfigReferenceFileTarget.TaskTemplate."
      "ContainerSpec.Configs.File.Mode of type fs.FileMode");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"TaskTemplate":{"ContainerSpec":{"Mounts":[{"Type":2}]}}})")),
            "json: cannot unmarshal number into Go struct field Mount.TaskTemplate.ContainerSpec."
            "Mounts.Type of type mount.Type");
  EXPECT_EQ(msg(ParseServiceSpec(R"({"TaskTemplate":{"ContainerSpec":{"Healthcheck":{"Retries":"3"}}}})")),
            "json: cannot unmarshal string into Go struct field HealthConfig.TaskTemplate."
            "ContainerSpec.Healthcheck.Retries of type int");
  // The first mismatch is the one reported; decoding goes on past it.
  EXPECT_EQ(msg(ParseServiceSpec(R"({"Name":1,"Labels":[]})")),
            "json: cannot unmarshal number into Go struct field ServiceSpec.Name of type string");

  EXPECT_EQ(ParseSecretSpec("").status().message(), "got EOF while reading request body");
  EXPECT_EQ(ParseSecretSpec(R"({"Data":1})").status().message(),
            "json: cannot unmarshal number into Go struct field SecretSpec.Data of type []uint8");
  EXPECT_EQ(ParseConfigSpec(R"({"Templating":"golang"})").status().message(),
            "json: cannot unmarshal string into Go struct field ConfigSpec.Templating of type "
            "swarm.Driver");
  // Answers: an empty body is Go's own EOF.
  EXPECT_EQ(ParseService("").status().message(), "EOF");
  EXPECT_EQ(ParseTasks(R"([{"Slot":"1"}])").status().message(),
            "json: cannot unmarshal string into Go struct field Task.Slot of type int");
  EXPECT_EQ(ParseTask(R"({"Status":{"State":5}})").status().message(),
            "json: cannot unmarshal number into Go struct field TaskStatus.Status.State of type "
            "swarm.TaskState");
  EXPECT_EQ(ParseServices("{}").status().message(),
            "json: cannot unmarshal object into Go value of type []swarm.Service");
}

TEST(SpecService, GoDecodingRules) {
  // Keys match case-insensitively, unknown keys are ignored, null resets a pointer.
  auto s = ParseServiceSpec(
      R"({"name":"web","TASKTEMPLATE":{"containerspec":{"image":"nginx"},"PluginSpec":{}},)"
      R"("Mode":{"Replicated":{"Replicas":2}},"UpdateConfig":{"Parallelism":1},"UpdateConfig":null})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->annotations.name, "web");
  EXPECT_EQ(s->task_template.container_spec->image, "nginx");
  EXPECT_EQ(s->mode.replicas, 2u);
  EXPECT_FALSE(s->update_config.has_value());
  // {"Replicated": null} after a value unsets the mode; {"Replicated": {}} sets it, no count.
  auto m = ParseServiceSpec(R"({"Mode":{"Replicated":{"Replicas":2},"Replicated":null}})");
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->mode.replicated);
  EXPECT_FALSE(m->mode.replicas.has_value());
  auto bare = ParseServiceSpec(R"({"Mode":{"Replicated":{}}})");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->mode.replicated);
  EXPECT_FALSE(bare->mode.replicas.has_value());
  EXPECT_EQ(RenderServiceSpec(*bare)["Mode"].dump(), R"({"Replicated":{}})");
  // A ConfigReference's Runtime is {} whatever object was sent.
  auto r = ParseServiceSpec(
      R"({"TaskTemplate":{"ContainerSpec":{"Configs":[{"Runtime":{"x":1},"ConfigID":"c"}]}}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->task_template.container_spec->configs.at(0).runtime);
}

// --- validation ------------------------------------------------------------------------------

ServiceSpec Web() {
  ServiceSpec s;
  s.annotations.name = "web";
  s.task_template.container_spec.emplace().image = "nginx:latest";
  s.mode.replicated = true;
  s.mode.replicas = 2;
  return s;
}

std::string Refusal(const std::function<void(ServiceSpec&)>& change) {
  ServiceSpec s = Web();
  change(s);
  Status st = ValidateServiceSpec(s);
  return st.ok() ? "ok" : std::string(st.message());
}

constexpr std::string_view kRpc = "rpc error: code = InvalidArgument desc = ";

std::string Rpc(std::string_view desc) { return absl::StrCat(Av(kRpc), Av(desc)); }

TEST(SpecService, ValidationOfTheDaemonsConversion) {
  EXPECT_TRUE(ValidateServiceSpec(Web()).ok());
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.task_template.container_spec.reset(); }),
            "mismatched Runtime and *Spec fields");
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.task_template.runtime = "attachment"; }),
            "unsupported runtime");
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.mode.global = true; }),
            "must specify only one service mode");
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.task_template.restart_policy.emplace().condition = "always"; }),
            "invalid RestartCondition: \"always\"");
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.update_config.emplace().failure_action = "stop"; }),
            "unrecognized update failure action stop");
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.rollback_config.emplace().order = "random"; }),
            "unrecognized update order random");
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.endpoint_spec.emplace().mode = "VIP"; }),
            "invalid resolution mode: \"VIP\"");
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.container_spec->configs.push_back({std::nullopt, false, "c", "n"});
            }),
            "invalid Config: either File or Runtime should be set");
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.container_spec->configs.push_back(
                  {SecretReferenceFileTarget{"f", "0", "0", 0444}, true, "c", "n"});
            }),
            "invalid Config: cannot specify both File and Runtime");
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.container_spec->privileges.emplace().credential_spec =
                  CredentialSpec{"c", "f", ""};
            }),
            "invalid CredentialSpec: cannot specify both \"config\" and \"file\" credential specs");
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.container_spec->privileges.emplace().credential_spec.emplace();
            }),
            "invalid CredentialSpec: must either provide \"file\", \"registry\", or \"config\" "
            "for credential spec");
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              Mount m;
              m.type = "weird";
              m.target = "/x";
              s.task_template.container_spec->mounts.push_back(m);
            }),
            "invalid MountType: \"weird\"");
  // All of these are 400s.
  ServiceSpec both = Web();
  both.mode.global = true;
  EXPECT_EQ(ValidateServiceSpec(both).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpecService, ValidationOfSwarmkit) {
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.task_template.container_spec->image.clear(); }),
            Rpc("ContainerSpec: image reference must be provided"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.task_template.container_spec->image = "Nginx"; }),
            Rpc("ContainerSpec: \"Nginx\" is not a valid repository/tag"));
  // The daemon names an unnamed service; swarmkit checks a given one.
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.annotations.name.clear(); }), "ok");
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.annotations.name = "web_1-"; }),
            Rpc("name must be valid as a DNS name component"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.annotations.name = "my.web"; }),
            Rpc("name must be valid as a DNS name component"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.annotations.name = "a--b_c"; }), "ok");
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.annotations.name = std::string(64, 'a'); }),
            Rpc("name must be 63 characters or fewer"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.mode.replicas = uint64_t{1} << 63; }),
            Rpc("Number of replicas must be non-negative"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.task_template.restart_policy.emplace().delay = -1; }),
            Rpc("TaskSpec: restart-delay cannot be negative"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.task_template.restart_policy.emplace().window = -1; }),
            Rpc("TaskSpec: restart-window cannot be negative"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.update_config.emplace().delay = -1; }),
            Rpc("TaskSpec: update-delay cannot be negative"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.update_config.emplace().monitor = -1; }),
            Rpc("TaskSpec: update-monitor cannot be negative"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.update_config.emplace().max_failure_ratio = 1.5; }),
            Rpc("TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1"));
  // swarmkit validates UpdateConfig only, not RollbackConfig.
  EXPECT_EQ(Refusal([](ServiceSpec& s) { s.rollback_config.emplace().delay = -1; }), "ok");
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.resources.emplace().limits.emplace().nano_cpus = 1000;
            }),
            Rpc("invalid cpu value 1e-06: Must be at least 0.001"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.resources.emplace().reservations.emplace().nano_cpus = 500000;
            }),
            Rpc("invalid cpu value 0.0005: Must be at least 0.001"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.resources.emplace().reservations.emplace().memory_bytes = 1024;
            }),
            Rpc("invalid memory value 1024: Must be at least 4MiB"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              Mount m;
              m.type = "volume";
              m.target = "/data";
              s.task_template.container_spec->mounts = {m, m};
            }),
            Rpc("ContainerSpec: duplicate mount point: /data"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.container_spec->healthcheck = HealthConfig{{"CMD", "true"}, 5, 0, 0, 0};
            }),
            Rpc("ContainerSpec: Interval in HealthConfig cannot be less than 1ms"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.container_spec->healthcheck = HealthConfig{{}, 0, -1, 0, 0};
            }),
            Rpc("ContainerSpec: Timeout in HealthConfig cannot be less than 1ms"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.container_spec->healthcheck = HealthConfig{{}, 0, 0, 0, -1};
            }),
            Rpc("ContainerSpec: Retries in HealthConfig cannot be negative"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.mode = ServiceMode{};
              s.mode.replicated_job = ReplicatedJob{};
              s.update_config.emplace();
            }),
            Rpc("Jobs may not have an update config"));
}

TEST(SpecService, ValidationOfPortsConstraintsSecretsAndConfigs) {
  auto ports = [](std::string mode, std::vector<ServicePortConfig> p) {
    return [mode, p](ServiceSpec& s) { s.endpoint_spec = EndpointSpec{mode, p}; };
  };
  EXPECT_EQ(Refusal(ports("dnsrr", {{"", "tcp", 80, 8080, "ingress"}})),
            Rpc("EndpointSpec: port published with ingress mode can't be used with dnsrr mode"));
  EXPECT_EQ(Refusal(ports("dnsrr", {{"", "tcp", 80, 0, ""}})),
            Rpc("EndpointSpec: port published with ingress mode can't be used with dnsrr mode"));
  EXPECT_EQ(Refusal(ports("dnsrr", {{"", "tcp", 80, 8080, "host"}})), "ok");
  EXPECT_EQ(Refusal(ports("vip", {{"", "tcp", 80, 8080, "ingress"}, {"", "", 81, 8080, "host"}})),
            Rpc("EndpointSpec: duplicate published ports provided"));
  EXPECT_EQ(Refusal(ports("", {{"", "tcp", 80, 8080, ""}, {"", "udp", 80, 8080, ""}})), "ok");
  EXPECT_EQ(Refusal(ports("", {{"", "tcp", 80, 0, ""}, {"", "tcp", 81, 0, ""}})), "ok");

  auto constraint = [](std::string c) {
    return [c](ServiceSpec& s) { s.task_template.placement.emplace().constraints = {c}; };
  };
  EXPECT_EQ(Refusal(constraint("node.role == manager")), "ok");
  EXPECT_EQ(Refusal(constraint("node.labels.zone!=eu-1")), "ok");
  // constraint.Parse's errors are plain Go errors: gRPC code Unknown, a 500 in Docker.
  ServiceSpec bad = Web();
  constraint("node.role=manager")(bad);
  Status st = ValidateServiceSpec(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(st.message(),
            "rpc error: code = Unknown desc = constraint expected one operator from ==, !=");
  EXPECT_EQ(Refusal(constraint("x == manager")),
            "rpc error: code = Unknown desc = key 'x' is invalid");
  EXPECT_EQ(Refusal(constraint("node.role == <b>")),
            "rpc error: code = Unknown desc = value '<b>' is invalid");

  auto secrets = [](std::vector<SecretReference> refs) {
    return [refs](ServiceSpec& s) { s.task_template.container_spec->secrets = refs; };
  };
  SecretReferenceFileTarget file{"pw", "0", "0", 0444};
  EXPECT_EQ(Refusal(secrets({{file, "id", ""}})), Rpc("malformed secret reference"));
  EXPECT_EQ(Refusal(secrets({{std::nullopt, "id", "pw"}})),
            Rpc("malformed secret reference, no target provided"));
  EXPECT_EQ(Refusal(secrets({{SecretReferenceFileTarget{}, "id", "pw"}})),
            Rpc("malformed file secret reference, invalid target file name provided"));
  EXPECT_EQ(Refusal(secrets({{file, "id1", "a"}, {file, "id2", "b"}})),
            Rpc("secret references 'a' and 'b' have a conflicting target: 'pw'"));

  auto configs = [](std::vector<ServiceConfigReference> refs) {
    return [refs](ServiceSpec& s) { s.task_template.container_spec->configs = refs; };
  };
  EXPECT_EQ(Refusal(configs({{file, false, "", "c"}})), Rpc("malformed config reference"));
  EXPECT_EQ(Refusal(configs({{file, false, "i1", "a"}, {file, false, "i2", "b"}})),
            Rpc("config references 'a' and 'b' have a conflicting target: 'pw'"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.container_spec->privileges.emplace().credential_spec =
                  CredentialSpec{"cred", "", ""};
            }),
            Rpc("CredentialSpec references config 'cred', but that config isn't in config "
                "references with RuntimeTarget"));
  EXPECT_EQ(Refusal([](ServiceSpec& s) {
              s.task_template.container_spec->privileges.emplace().credential_spec =
                  CredentialSpec{"cred", "", ""};
              s.task_template.container_spec->configs = {{std::nullopt, true, "cred", "cs"}};
            }),
            "ok");
}

TEST(SpecService, ValidationOfUpdates) {
  ServiceSpec current = Web();
  ServiceSpec next = Web();
  next.mode.replicas = 5;
  EXPECT_TRUE(ValidateServiceUpdate(current, next).ok());
  next.annotations.name = "web2";
  Status rename = ValidateServiceUpdate(current, next);
  EXPECT_EQ(rename.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(rename.message(),
            "rpc error: code = Unimplemented desc = renaming services is not supported");
  next = Web();
  next.mode = ServiceMode{};
  next.mode.global = true;
  EXPECT_EQ(ValidateServiceUpdate(current, next).message(),
            "rpc error: code = Unimplemented desc = service mode change is not allowed");
  // An unset mode is replicated, as the daemon converts it.
  next.mode = ServiceMode{};
  EXPECT_TRUE(ValidateServiceUpdate(current, next).ok());
  next = Web();
  next.networks = {{"legacy", {}, {}}};
  EXPECT_EQ(ValidateServiceUpdate(current, next).message(),
            "rpc error: code = Unimplemented desc = networks must be migrated to TaskSpec before "
            "being changed");
  next.task_template.networks = {{"legacy", {}, {}}};
  EXPECT_TRUE(ValidateServiceUpdate(current, next).ok());
  // The new spec is validated first.
  next = Web();
  next.task_template.container_spec->image.clear();
  EXPECT_EQ(ValidateServiceUpdate(current, next).message(),
            Rpc("ContainerSpec: image reference must be provided"));
}

TEST(SpecService, ValidationOfSecretsAndConfigs) {
  SecretSpec s;
  s.annotations.name = "db_password.v1";
  s.data = "x";
  EXPECT_TRUE(ValidateSecretSpec(s).ok());
  s.annotations.name = "";
  EXPECT_EQ(ValidateSecretSpec(s).message(), Rpc("name must be provided"));
  for (const std::string& bad : std::vector<std::string>{"-x", "x.", "a b", std::string(65, 'a')}) {
    s.annotations.name = bad;
    EXPECT_EQ(ValidateSecretSpec(s).message(),
              Rpc("invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and "
                  "end character must be [a-zA-Z0-9]"))
        << bad;
  }
  s.annotations.name = std::string(64, 'a');
  EXPECT_TRUE(ValidateSecretSpec(s).ok());
  s.data.reset();
  EXPECT_EQ(ValidateSecretSpec(s).message(),
            Rpc("secret data must be larger than 0 and less than 512000 bytes"));
  s.data = std::string(500 * 1024, 'x');
  EXPECT_FALSE(ValidateSecretSpec(s).ok());
  s.driver = LogDriver{};
  EXPECT_EQ(ValidateSecretSpec(s).message(), Rpc("secret driver must have a name"));
  s.driver->name = "vault";
  s.data.reset();
  EXPECT_TRUE(ValidateSecretSpec(s).ok());  // an external secret has no data

  ConfigSpec c;
  c.annotations.name = "nginx.conf";
  EXPECT_EQ(ValidateConfigSpec(c).message(),
            Rpc("config data must be larger than 0 and less than 1024000 bytes"));
  c.data = std::string(1000 * 1024 - 1, 'x');
  EXPECT_TRUE(ValidateConfigSpec(c).ok());
}

}  // namespace
}  // namespace berth::spec
