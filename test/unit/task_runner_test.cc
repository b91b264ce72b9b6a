// The node's task runner (cluster/task_runner.h) over an in-memory container service, and the
// task -> container conversion (cluster/task_container.h) as a pure function.

#include "cluster/task_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/task_container.h"
#include "cluster/task_payloads.h"
#include "common/fake_clock.h"

namespace berth::cluster {
namespace {

using ::testing::ElementsAre;

// --- fakes -------------------------------------------------------------------------------------

// Counts the fakes' changes, so a test waits for an effect without polling.
class Changes {
 public:
  void Bump() {
    absl::MutexLock l(&mu_);
    ++n_;
  }
  uint64_t Count() {
    absl::MutexLock l(&mu_);
    return n_;
  }
  // Waits (real time) until a change after `seen`; false at the deadline.
  bool AwaitAfter(uint64_t seen, absl::Time deadline) {
    absl::MutexLock l(&mu_);
    auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return n_ != seen; };
    return mu_.AwaitWithDeadline(absl::Condition(&changed), deadline);
  }

 private:
  absl::Mutex mu_;
  uint64_t n_ ABSL_GUARDED_BY(mu_) = 0;
};

// Containers in memory: create/start/stop/remove change their state, a test makes them exit or
// change health; exits and health changes go to the watchers as the engine's would.
class FakeContainers : public engine::ContainerService {
 public:
  explicit FakeContainers(Changes& changes) : changes_(changes) {}
  struct Stopped {
    std::string id;
    std::optional<int> grace;
    std::string signal;
    bool operator==(const Stopped&) const = default;
  };

  StatusOr<engine::CreateResult> Create(const spec::ContainerCreateRequest& req) override {
    absl::MutexLock l(&mu_);
    if (!images_.count(req.config.image))
      return absl::NotFoundError("No such image: " + req.config.image);
    for (auto& [id, c] : containers_)
      if (c.req.name == req.name)
        return absl::AlreadyExistsError("Conflict. The container name \"/" + req.name +
                                        "\" is already in use by container \"" + id + "\".");
    std::string id = "c" + std::to_string(++next_);
    C& c = containers_[id];
    c.req = req;
    c.state.status = "created";
    creates_.push_back(req);
    changes_.Bump();
    return engine::CreateResult{id, {}};
  }
  StatusOr<bool> Start(const std::string& id) override {
    absl::MutexLock l(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return absl::NotFoundError("No such container: " + id);
    engine::ContainerState& s = it->second.state;
    if (s.running) return false;
    s = engine::ContainerState{};
    s.status = "running";
    s.running = true;
    s.pid = 1000 + ++next_;
    const auto& hc = it->second.req.config.healthcheck;
    if (hc && !hc->test.empty() && hc->test[0] != "NONE") s.health.emplace().status = "starting";
    starts_.push_back(id);
    changes_.Bump();
    return true;
  }
  StatusOr<bool> Stop(const std::string& id, std::optional<int> grace,
                      const std::string& signal) override {
    int code;
    {
      absl::MutexLock l(&mu_);
      auto it = containers_.find(id);
      if (it == containers_.end()) return absl::NotFoundError("No such container: " + id);
      stops_.push_back({id, grace, signal});
      if (!it->second.state.running) return false;
      code = stop_exit_code_;
    }
    Exit(id, code);
    return true;
  }
  Status Remove(const std::string& id, bool force) override {
    absl::MutexLock l(&mu_);
    if (!containers_.erase(id)) return absl::NotFoundError("No such container: " + id);
    removes_.push_back(id);
    changes_.Bump();
    return absl::OkStatus();
  }
  uint64_t WatchExits(ExitHandler h) override {
    absl::MutexLock l(&mu_);
    exit_watchers_[++next_] = std::move(h);
    return next_;
  }
  void UnwatchExits(uint64_t id) override {
    absl::MutexLock l(&mu_);
    exit_watchers_.erase(id);
  }
  uint64_t WatchHealth(HealthHandler h) override {
    absl::MutexLock l(&mu_);
    health_watchers_[++next_] = std::move(h);
    return next_;
  }
  void UnwatchHealth(uint64_t id) override {
    absl::MutexLock l(&mu_);
    health_watchers_.erase(id);
  }
  StatusOr<std::vector<engine::ContainerSummary>> List(bool all, const spec::Filters& filters,
                                                       int, bool) override {
    absl::MutexLock l(&mu_);
    std::vector<engine::ContainerSummary> out;
    for (auto& [id, c] : containers_) {
      const spec::StringMap& labels = spec::OrEmpty(c.req.config.labels);
      if (!filters.MatchKVList("label", labels)) continue;
      if (!all && !c.state.running) continue;
      engine::ContainerSummary s;
      s.id = id;
      s.names = {"/" + c.req.name};
      s.labels = labels;
      s.state = c.state.status;
      out.push_back(std::move(s));
    }
    return out;
  }
  StatusOr<engine::ContainerState> State(const std::string& id) override {
    absl::MutexLock l(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return absl::NotFoundError("No such container: " + id);
    return it->second.state;
  }

  // --- the test's side
  void AddImage(const std::string& image) {
    absl::MutexLock l(&mu_);
    images_.insert(image);
  }
  // Adds a container as if made by an earlier berthd (already running when `running`).
  std::string Plant(const spec::ContainerCreateRequest& req, bool running) {
    absl::MutexLock l(&mu_);
    std::string id = "c" + std::to_string(++next_);
    containers_[id].req = req;
    engine::ContainerState& s = containers_[id].state;
    s.status = running ? "running" : "created";
    s.running = running;
    s.pid = running ? 1000 + static_cast<int>(next_) : 0;
    return id;
  }
  // The container's process exits with `code`; watchers hear of it.
  void Exit(const std::string& id, int code) {
    std::vector<ExitHandler> handlers;
    {
      absl::MutexLock l(&mu_);
      engine::ContainerState& s = containers_.at(id).state;
      s.status = "exited";
      s.running = false;
      s.pid = 0;
      s.exit_code = code;
      for (auto& [k, h] : exit_watchers_) handlers.push_back(h);
    }
    changes_.Bump();
    for (auto& h : handlers) h(engine::ExitEvent{id, code, 0, false});
  }
  void SetHealth(const std::string& id, const std::string& status) {
    std::vector<HealthHandler> handlers;
    {
      absl::MutexLock l(&mu_);
      containers_.at(id).state.health.emplace().status = status;
      for (auto& [k, h] : health_watchers_) handlers.push_back(h);
    }
    for (auto& h : handlers) h(engine::HealthEvent{id, status});
  }
  void SetStopExitCode(int code) {
    absl::MutexLock l(&mu_);
    stop_exit_code_ = code;
  }
  std::vector<spec::ContainerCreateRequest> Creates() {
    absl::MutexLock l(&mu_);
    return creates_;
  }
  std::vector<std::string> Starts() {
    absl::MutexLock l(&mu_);
    return starts_;
  }
  std::vector<Stopped> Stops() {
    absl::MutexLock l(&mu_);
    return stops_;
  }
  std::vector<std::string> Removes() {
    absl::MutexLock l(&mu_);
    return removes_;
  }
  std::vector<std::string> Ids() {
    absl::MutexLock l(&mu_);
    std::vector<std::string> out;
    for (auto& [id, c] : containers_) out.push_back(id);
    return out;
  }
  // The container created for a task (by its name), "" when none.
  std::string IdOf(const std::string& name) {
    absl::MutexLock l(&mu_);
    for (auto& [id, c] : containers_)
      if (c.req.name == name) return id;
    return "";
  }
  size_t Watchers() {
    absl::MutexLock l(&mu_);
    return exit_watchers_.size() + health_watchers_.size();
  }

 private:
  struct C {
    spec::ContainerCreateRequest req;
    engine::ContainerState state;
  };
  Changes& changes_;
  absl::Mutex mu_;
  std::map<std::string, C> containers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> images_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, ExitHandler> exit_watchers_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, HealthHandler> health_watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int stop_exit_code_ ABSL_GUARDED_BY(mu_) = 137;
  std::vector<spec::ContainerCreateRequest> creates_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> starts_ ABSL_GUARDED_BY(mu_);
  std::vector<Stopped> stops_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> removes_ ABSL_GUARDED_BY(mu_);
};

// The payload store in memory: the directories "mounted" and the files written.
class FakePayloads : public PayloadStore {
 public:
  explicit FakePayloads(Changes& changes) : changes_(changes) {}
  Status Mount(const std::string& dir) override {
    absl::MutexLock l(&mu_);
    mounted_.insert(dir);
    return absl::OkStatus();
  }
  Status Write(const PayloadFile& f) override {
    absl::MutexLock l(&mu_);
    bool inside = false;
    for (const std::string& d : mounted_) inside |= f.path.rfind(d + "/", 0) == 0;
    if (!inside) return absl::FailedPreconditionError("not on a tmpfs: " + f.path);
    files_[f.path] = f;
    return absl::OkStatus();
  }
  Status Remove(const std::string& dir) override {
    absl::MutexLock l(&mu_);
    mounted_.erase(dir);
    for (auto it = files_.begin(); it != files_.end();)
      it = it->first.rfind(dir + "/", 0) == 0 ? files_.erase(it) : std::next(it);
    removed_.push_back(dir);
    changes_.Bump();
    return absl::OkStatus();
  }
  std::set<std::string> Mounted() {
    absl::MutexLock l(&mu_);
    return mounted_;
  }
  std::map<std::string, PayloadFile> Files() {
    absl::MutexLock l(&mu_);
    return files_;
  }
  std::vector<std::string> Removed() {
    absl::MutexLock l(&mu_);
    return removed_;
  }

 private:
  Changes& changes_;
  absl::Mutex mu_;
  std::set<std::string> mounted_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PayloadFile> files_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> removed_ ABSL_GUARDED_BY(mu_);
};

// --- builders ----------------------------------------------------------------------------------

constexpr char kNode[] = "node1";
constexpr char kRunRoot[] = "/run/berth/swarm";

TaskAssignment Web(const std::string& id, int64_t slot, const std::string& image = "nginx") {
  TaskAssignment a;
  a.service_name = "web";
  a.task.id = id;
  a.task.service_id = "svc1";
  a.task.node_id = kNode;
  a.task.slot = slot;
  a.task.desired_state = "running";
  a.task.status.state = "assigned";
  a.task.status.message = "scheduler assigned task to node";
  a.task.spec.container_spec.emplace().image = image;
  return a;
}

struct Seen {
  std::string state, message, err;
  bool operator==(const Seen&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << "{" << s.state << ", " << s.message << ", " << s.err << "}";
}

// A runner over the fakes, with the reports it made.
class Harness {
 public:
  Harness() { containers.AddImage("nginx:latest"); }
  ~Harness() { runner.reset(); }

  void StartRunner() {
    TaskRunnerConfig cfg;
    cfg.node_id = kNode;
    cfg.containers = &containers;
    cfg.clock = &clock;
    cfg.run_root = kRunRoot;
    cfg.payloads = &payloads;
    cfg.workers = 3;
    cfg.ensure_image = [this](const std::string& image, const std::string& registry_auth) {
      absl::MutexLock l(&mu_);
      pulled_.push_back(image);
      pulled_auth_.push_back(registry_auth);
      return absl::NotFoundError("pull access denied for " + image);
    };
    cfg.report = [this](const std::vector<TaskStatusUpdate>& ups) {
      absl::MutexLock l(&mu_);
      for (const TaskStatusUpdate& u : ups) reports_.push_back(u);
    };
    auto r = TaskRunner::Create(std::move(cfg));
    ASSERT_TRUE(r.ok()) << r.status();
    runner = std::move(*r);
    ASSERT_TRUE(runner->Start().ok());
  }

  // Waits (real time, bounded) until the task's last report is `state`.
  bool Await(const std::string& task_id, const std::string& state) {
    absl::MutexLock l(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return LastLocked(task_id) && LastLocked(task_id)->state == state;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  }
  // Waits (real time, bounded) until pred() holds: for effects on the fakes.
  bool AwaitThat(const std::function<bool()>& pred) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    for (;;) {
      uint64_t seen = changes.Count();
      if (pred()) return true;
      if (!changes.AwaitAfter(seen, deadline)) return pred();
    }
  }
  std::vector<Seen> Sequence(const std::string& task_id) {
    absl::MutexLock l(&mu_);
    std::vector<Seen> out;
    for (const TaskStatusUpdate& u : reports_)
      if (u.task_id == task_id) out.push_back({u.status.state, u.status.message, u.status.err});
    return out;
  }
  spec::TaskStatus Last(const std::string& task_id) {
    absl::MutexLock l(&mu_);
    const spec::TaskStatus* s = LastLocked(task_id);
    return s ? *s : spec::TaskStatus{};
  }
  std::vector<std::string> Pulled() {
    absl::MutexLock l(&mu_);
    return pulled_;
  }
  std::vector<std::string> PulledAuth() {
    absl::MutexLock l(&mu_);
    return pulled_auth_;
  }

  Changes changes;
  FakeClock clock;
  FakeContainers containers{changes};
  FakePayloads payloads{changes};
  std::unique_ptr<TaskRunner> runner;

 private:
  const spec::TaskStatus* LastLocked(const std::string& task_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = reports_.rbegin(); it != reports_.rend(); ++it)
      if (it->task_id == task_id) return &it->status;
    return nullptr;
  }

  absl::Mutex mu_;
  std::vector<TaskStatusUpdate> reports_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> pulled_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> pulled_auth_ ABSL_GUARDED_BY(mu_);  // the registry auth of each pull
};

const std::vector<Seen> kToRunning = {{"accepted", "accepted", ""},
                                      {"preparing", "preparing", ""},
                                      {"ready", "prepared", ""},
                                      {"starting", "starting", ""},
                                      {"running", "started", ""}};

// --- the conversion ----------------------------------------------------------------------------

TEST(TaskContainer, NameAndDockerLabels) {
  TaskAssignment a = Web("t1", 2);
  a.task.spec.container_spec->labels = {{"tier", "front"}, {"com.docker.swarm.task.id", "spoof"}};
  a.task.annotations.labels = {{"tier", "task-level"}};
  auto tc = TaskContainerFor(a, kNode, "/run/x/t1");
  ASSERT_TRUE(tc.ok()) << tc.status();
  EXPECT_EQ(tc->request.name, "web.2.t1");
  EXPECT_EQ(tc->request.config.image, "nginx:latest");
  spec::StringMap want = {{"tier", "task-level"},
                          {"com.docker.swarm.node.id", "node1"},
                          {"com.docker.swarm.service.id", "svc1"},
                          {"com.docker.swarm.service.name", "web"},
                          {"com.docker.swarm.task", ""},
                          {"com.docker.swarm.task.id", "t1"},
                          {"com.docker.swarm.task.name", "web.2.t1"}};
  EXPECT_EQ(tc->request.config.labels, want);
  ASSERT_TRUE(tc->request.host_config);
  EXPECT_EQ(tc->request.host_config->network_mode, "default");
  EXPECT_EQ(tc->request.host_config->restart_policy, spec::RestartPolicy{});
  EXPECT_TRUE(tc->files.empty());

  // A global task has no slot: the node's id stands in.
  a.task.slot = 0;
  EXPECT_EQ(TaskContainerName(a.task, "web"), "web.node1.t1");
  EXPECT_EQ(TaskImage("localhost:5000/app@sha256:" + std::string(64, 'a')),
            "localhost:5000/app@sha256:" + std::string(64, 'a'));
  EXPECT_EQ(TaskImage("docker.io/library/busybox:1.36"), "busybox:1.36");
}

TEST(TaskContainer, CommandReplacesEntrypointArgsAreItsCmd) {
  TaskAssignment a = Web("t1", 1);
  auto& cs = *a.task.spec.container_spec;
  cs.command = {"/bin/sh", "-c"};
  cs.args = {"echo hi"};
  auto tc = TaskContainerFor(a, kNode, "/d");
  ASSERT_TRUE(tc.ok());
  EXPECT_EQ(tc->request.config.entrypoint, (spec::StrSlice{"/bin/sh", "-c"}));
  EXPECT_EQ(tc->request.config.cmd, (spec::StrSlice{"echo hi"}));

  cs.command.clear();
  tc = TaskContainerFor(a, kNode, "/d");
  ASSERT_TRUE(tc.ok());
  EXPECT_FALSE(tc->request.config.entrypoint);  // the image's
  EXPECT_EQ(tc->request.config.cmd, (spec::StrSlice{"echo hi"}));

  cs.args.clear();
  tc = TaskContainerFor(a, kNode, "/d");
  ASSERT_TRUE(tc.ok());
  EXPECT_FALSE(tc->request.config.entrypoint);
  EXPECT_FALSE(tc->request.config.cmd);
}

TEST(TaskContainer, SpecFieldsReachTheContainer) {
  TaskAssignment a = Web("t1", 1);
  auto& cs = *a.task.spec.container_spec;
  cs.env = {"A=1"};
  cs.dir = "/srv";
  cs.user = "nobody";
  cs.groups = {"audio"};
  cs.hostname = "h1";
  cs.tty = cs.open_stdin = cs.read_only = true;
  cs.init = true;
  cs.stop_signal = "SIGUSR1";
  cs.stop_grace_period = 5'500'000'000;
  cs.healthcheck = spec::HealthConfig{{"CMD", "true"}, 1'000'000'000, 0, 0, 2};
  cs.sysctls = {{"net.core.somaxconn", "1024"}};
  cs.capability_add = {"NET_ADMIN"};
  cs.capability_drop = {"MKNOD"};
  cs.ulimits = {{"nofile", 2048, 1024}};
  cs.dns_config = spec::DnsConfig{{"10.0.0.2"}, {"example.org"}, {"ndots:2"}};
  cs.hosts = {"10.1.1.1 db db.local", "10.1.1.2"};
  spec::Mount bind{"bind", "/srv/data", "/data", true, "", std::nullopt, std::nullopt, std::nullopt};
  spec::Mount vol{"volume", "cache", "/cache", false, "", std::nullopt, std::nullopt, std::nullopt};
  spec::Mount tmp{"tmpfs", "", "/tmp", false, "", std::nullopt, std::nullopt, spec::TmpfsOptions{1 << 20, 0}};
  cs.mounts = {bind, vol, tmp};
  a.task.spec.resources.emplace().limits = spec::ServiceLimit{500'000'000, 64 << 20, 100};
  a.task.spec.log_driver = spec::LogDriver{"local", spec::StringMap{{"max-size", "1m"}}};

  auto tc = TaskContainerFor(a, kNode, "/d");
  ASSERT_TRUE(tc.ok()) << tc.status();
  const spec::ContainerConfig& c = tc->request.config;
  EXPECT_EQ(c.env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(c.working_dir, "/srv");
  EXPECT_EQ(c.user, "nobody");
  EXPECT_EQ(c.hostname, "h1");
  EXPECT_TRUE(c.tty && c.open_stdin);
  EXPECT_EQ(c.stop_signal, "SIGUSR1");
  EXPECT_EQ(c.stop_timeout, 5);
  EXPECT_EQ(c.healthcheck, cs.healthcheck);
  const spec::HostConfig& hc = *tc->request.host_config;
  EXPECT_EQ(hc.group_add, std::vector<std::string>{"audio"});
  EXPECT_TRUE(hc.readonly_rootfs);
  EXPECT_EQ(hc.init, true);
  EXPECT_EQ(hc.sysctls, cs.sysctls);
  EXPECT_EQ(hc.cap_add, spec::StrSlice{"NET_ADMIN"});
  EXPECT_EQ(hc.cap_drop, spec::StrSlice{"MKNOD"});
  EXPECT_EQ(hc.resources.ulimits, (std::vector<spec::Ulimit>{{"nofile", 2048, 1024}}));
  EXPECT_EQ(hc.dns, std::vector<std::string>{"10.0.0.2"});
  EXPECT_EQ(hc.dns_search, std::vector<std::string>{"example.org"});
  EXPECT_EQ(hc.dns_options, std::vector<std::string>{"ndots:2"});
  EXPECT_EQ(hc.extra_hosts, (std::vector<std::string>{"db:10.1.1.1", "db.local:10.1.1.1"}));
  EXPECT_EQ(hc.resources.nano_cpus, 500'000'000);
  EXPECT_EQ(hc.resources.memory, 64 << 20);
  EXPECT_EQ(hc.resources.pids_limit, 100);
  EXPECT_EQ(hc.log_config.type, "local");
  EXPECT_EQ(hc.log_config.config, (spec::StringMap{{"max-size", "1m"}}));
  EXPECT_EQ(hc.mounts, cs.mounts);

  cs.healthcheck = spec::HealthConfig{{"NONE"}, 0, 0, 0, 0};  // --no-healthcheck
  tc = TaskContainerFor(a, kNode, "/d");
  ASSERT_TRUE(tc.ok());
  EXPECT_EQ(tc->request.config.healthcheck->test, std::vector<std::string>{"NONE"});
}

TEST(TaskContainer, SecretsAndConfigsBecomeReadOnlyBinds) {
  TaskAssignment a = Web("t1", 1);
  auto& cs = *a.task.spec.container_spec;
  cs.secrets = {{spec::SecretReferenceFileTarget{"db_pass", "0", "0", 0}, "sec1", "db_pass"},
                {spec::SecretReferenceFileTarget{"/etc/app/key", "33", "34", 0400}, "sec2", "key"},
                {std::nullopt, "sec3", "not_a_file"}};
  cs.configs = {{spec::SecretReferenceFileTarget{"/etc/nginx.conf", "", "", 0}, false, "cfg1", "nginx"},
                {spec::SecretReferenceFileTarget{"app.ini", "", "", 0600}, false, "cfg2", "app"}};
  a.secrets = {{"sec1", "db_pass", "hunter2"}, {"sec2", "key", "k3y"}};
  a.configs = {{"cfg1", "nginx", "server {}"}, {"cfg2", "app", "[a]"}};

  auto tc = TaskContainerFor(a, kNode, "/run/s/t1");
  ASSERT_TRUE(tc.ok()) << tc.status();
  EXPECT_EQ(tc->files,
            (std::vector<PayloadFile>{
                {"/run/s/t1/secrets/sec1", "/run/secrets/db_pass", "hunter2", 0444, 0, 0},
                {"/run/s/t1/secrets/sec2", "/etc/app/key", "k3y", 0400, 33, 34},
                {"/run/s/t1/configs/cfg1", "/etc/nginx.conf", "server {}", 0444, 0, 0},
                {"/run/s/t1/configs/cfg2", "/app.ini", "[a]", 0600, 0, 0}}));
  std::vector<std::tuple<std::string, std::string, std::string, bool>> binds;
  for (const spec::Mount& m : tc->request.host_config->mounts)
    binds.emplace_back(m.type, m.source, m.target, m.read_only);
  EXPECT_THAT(binds, ElementsAre(std::make_tuple("bind", "/run/s/t1/secrets/sec1", "/run/secrets/db_pass", true),
                                 std::make_tuple("bind", "/run/s/t1/secrets/sec2", "/etc/app/key", true),
                                 std::make_tuple("bind", "/run/s/t1/configs/cfg1", "/etc/nginx.conf", true),
                                 std::make_tuple("bind", "/run/s/t1/configs/cfg2", "/app.ini", true)));
}

TEST(TaskContainer, WhatTheEngineCannotHonourIsAnError) {
  auto err = [](void (*set)(TaskAssignment&)) {
    TaskAssignment a = Web("t1", 1);
    set(a);
    auto tc = TaskContainerFor(a, kNode, "/d");
    return tc.ok() ? std::string("ok") : std::string(tc.status().message());
  };
  EXPECT_EQ(err([](TaskAssignment& a) {
              a.task.spec.container_spec->mounts = {{"npipe", "x", "/y", false, "", {}, {}, {}}};
            }),
            "invalid mount type: npipe");
  EXPECT_EQ(err([](TaskAssignment& a) {
              a.task.spec.container_spec->mounts = {{"bind", "rel", "/y", false, "", {}, {}, {}}};
            }),
            "invalid bind mount source, source path not absolute: \"rel\"");
  EXPECT_EQ(err([](TaskAssignment& a) {
              a.task.spec.container_spec->mounts = {{"volume", "v", "y", false, "", {}, {}, {}}};
            }),
            "invalid mount target, must be an absolute path: y");
  EXPECT_EQ(err([](TaskAssignment& a) {
              a.task.spec.container_spec->privileges.emplace().credential_spec.emplace().file = "x.json";
            }),
            "credential specs are Windows-only; this node runs Linux");
  EXPECT_EQ(err([](TaskAssignment& a) { a.task.spec.container_spec->isolation = "hyperv"; }),
            "unsupported isolation: hyperv (Linux containers support only process isolation)");
  EXPECT_EQ(err([](TaskAssignment& a) { a.task.spec.runtime = "plugin"; }),
            "unsupported runtime: plugin (this node runs container tasks only)");
  EXPECT_EQ(err([](TaskAssignment& a) { a.task.spec.container_spec->image.clear(); }),
            "dockerexec: image required");
  EXPECT_EQ(err([](TaskAssignment& a) {
              a.task.spec.container_spec->secrets = {
                  {spec::SecretReferenceFileTarget{"pw", "0", "0", 0444}, "sec9", "pw"}};
            }),
            "secret pw (sec9) not found");
  EXPECT_EQ(err([](TaskAssignment& a) {
              a.task.spec.container_spec->secrets = {
                  {spec::SecretReferenceFileTarget{"pw", "www", "0", 0444}, "sec1", "pw"}};
              a.secrets = {{"sec1", "pw", "x"}};
            }),
            "invalid UID \"www\" for secret pw");
}

// --- the runner --------------------------------------------------------------------------------

TEST(TaskRunner, RunsATaskThroughDockersStates) {
  Harness h;
  h.StartRunner();
  h.runner->Assign({Web("t1", 1)});
  ASSERT_TRUE(h.Await("t1", "running"));
  EXPECT_EQ(h.Sequence("t1"), kToRunning);
  std::string id = h.containers.IdOf("web.1.t1");
  ASSERT_FALSE(id.empty());
  spec::TaskStatus last = h.Last("t1");
  ASSERT_TRUE(last.container_status);
  EXPECT_EQ(last.container_status->container_id, id);
  EXPECT_GT(last.container_status->pid, 0);
  EXPECT_EQ(last.timestamp, UnixNanos(h.clock.Now()));
  // The pull is tried (and its failure only logged: the image is here).
  EXPECT_EQ(h.Pulled(), std::vector<std::string>{"nginx:latest"});
  ASSERT_EQ(h.containers.Creates().size(), 1u);
  EXPECT_EQ(h.containers.Creates()[0].name, "web.1.t1");

  // A new session gets every status again; the same set assigned again changes nothing.
  auto all = h.runner->Statuses();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].status.state, "running");
  h.runner->Assign({Web("t1", 1)});
  h.runner->Stop();
  EXPECT_EQ(h.containers.Creates().size(), 1u);
  EXPECT_EQ(h.containers.Starts().size(), 1u);
  EXPECT_EQ(h.containers.Watchers(), 0u);
}

TEST(TaskRunner, ExitsAreCompleteOrFailed) {
  Harness h;
  h.StartRunner();
  h.runner->Assign({Web("t1", 1), Web("t2", 2)});
  ASSERT_TRUE(h.Await("t1", "running"));
  ASSERT_TRUE(h.Await("t2", "running"));
  std::string c1 = h.containers.IdOf("web.1.t1"), c2 = h.containers.IdOf("web.2.t2");
  h.containers.Exit(c1, 0);
  h.containers.Exit(c2, 1);
  ASSERT_TRUE(h.Await("t1", "complete"));
  ASSERT_TRUE(h.Await("t2", "failed"));
  EXPECT_EQ(h.Sequence("t1").back(), (Seen{"complete", "finished", ""}));
  EXPECT_EQ(h.Sequence("t2").back(), (Seen{"failed", "started", "task: non-zero exit (1)"}));
  EXPECT_EQ(h.Last("t2").container_status, (spec::ContainerStatus{c2, 0, 1}));
  // A finished task is left alone (its container stays for the task history) until unassigned.
  EXPECT_TRUE(h.containers.Removes().empty());
}

TEST(TaskRunner, DesiredShutdownStopsWithTheGraceAndSignal) {
  Harness h;
  h.StartRunner();
  TaskAssignment a = Web("t1", 1);
  a.task.spec.container_spec->stop_grace_period = 5'000'000'000;
  a.task.spec.container_spec->stop_signal = "SIGQUIT";
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "running"));
  std::string id = h.containers.IdOf("web.1.t1");
  a.task.desired_state = "shutdown";
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "shutdown"));
  EXPECT_EQ(h.containers.Stops(), (std::vector<FakeContainers::Stopped>{{id, 5, "SIGQUIT"}}));
  EXPECT_EQ(h.Sequence("t1").back(), (Seen{"shutdown", "shutdown", ""}));
  EXPECT_EQ(h.Last("t1").container_status, (spec::ContainerStatus{id, 0, 137}));
  // Its stop-induced exit does not turn it into a failure.
  EXPECT_EQ(h.Sequence("t1").size(), kToRunning.size() + 1);
  // Still assigned: the container stays.
  EXPECT_TRUE(h.containers.Removes().empty());
}

TEST(TaskRunner, ABackendOnASwarmNetworkDrainsBeforeItsStop) {
  // A running task with an address on a swarm network is a backend of its service: it is stopped
  // only once the nodes have had backend_drain to take it out of their balancing maps.
  Harness h;
  h.StartRunner();
  TaskAssignment a = Web("t1", 1);
  spec::NetworkAttachment on;
  on.network.id = "ov1";
  on.addresses = {"10.0.1.3/24"};
  a.task.networks_attachments = {on};
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "running"));
  a.task.desired_state = "shutdown";
  a.task.status.state = "running";
  h.runner->Assign({a});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(h.containers.Stops().empty());  // still draining on the (fake) clock
  h.clock.Advance(std::chrono::milliseconds(500));
  ASSERT_TRUE(h.Await("t1", "shutdown"));
  EXPECT_EQ(h.containers.Stops().size(), 1u);
}

TEST(TaskRunner, AnUnassignedTaskIsStoppedAndRemoved) {
  Harness h;
  h.StartRunner();
  TaskAssignment a = Web("t1", 1);
  a.task.spec.container_spec->secrets = {
      {spec::SecretReferenceFileTarget{"pw", "0", "0", 0444}, "sec1", "pw"}};
  a.secrets = {{"sec1", "pw", "hunter2"}};
  h.runner->Assign({a, Web("t2", 2)});
  ASSERT_TRUE(h.Await("t1", "running"));
  ASSERT_TRUE(h.Await("t2", "running"));
  std::string c1 = h.containers.IdOf("web.1.t1");
  EXPECT_EQ(h.payloads.Mounted(), std::set<std::string>{std::string(kRunRoot) + "/t1"});

  h.runner->Assign({Web("t2", 2)});
  ASSERT_TRUE(h.AwaitThat([&] { return h.containers.IdOf("web.1.t1").empty(); }));
  ASSERT_TRUE(h.AwaitThat([&] { return !h.payloads.Removed().empty(); }));
  EXPECT_EQ(h.containers.Stops(), (std::vector<FakeContainers::Stopped>{{c1, std::nullopt, ""}}));
  EXPECT_EQ(h.containers.Removes(), std::vector<std::string>{c1});
  EXPECT_EQ(h.payloads.Removed(), std::vector<std::string>{std::string(kRunRoot) + "/t1"});
  EXPECT_TRUE(h.payloads.Mounted().empty());
  EXPECT_TRUE(h.payloads.Files().empty());
  EXPECT_FALSE(h.containers.IdOf("web.2.t2").empty());
  auto all = h.runner->Statuses();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].task_id, "t2");
}

TEST(TaskRunner, SecretsAreWrittenToTheTaskTmpfsBeforeTheCreate) {
  Harness h;
  h.StartRunner();
  TaskAssignment a = Web("t1", 1);
  a.task.spec.container_spec->secrets = {
      {spec::SecretReferenceFileTarget{"pw", "0", "0", 0400}, "sec1", "pw"}};
  a.task.spec.container_spec->configs = {
      {spec::SecretReferenceFileTarget{"/etc/app.conf", "", "", 0}, false, "cfg1", "app"}};
  a.secrets = {{"sec1", "pw", "hunter2"}};
  a.configs = {{"cfg1", "app", "x=1"}};
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "running"));
  std::string dir = std::string(kRunRoot) + "/t1";
  auto files = h.payloads.Files();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[dir + "/secrets/sec1"].data, "hunter2");
  EXPECT_EQ(files[dir + "/secrets/sec1"].mode, 0400u);
  EXPECT_EQ(files[dir + "/configs/cfg1"].target, "/etc/app.conf");
  auto creates = h.containers.Creates();
  ASSERT_EQ(creates.size(), 1u);
  std::vector<std::string> targets;
  for (const spec::Mount& m : creates[0].host_config->mounts)
    if (m.type == "bind" && m.read_only) targets.push_back(m.target);
  EXPECT_EQ(targets, (std::vector<std::string>{"/run/secrets/pw", "/etc/app.conf"}));
}

TEST(TaskRunner, AMissingImageRejectsTheTask) {
  Harness h;
  h.StartRunner();
  h.runner->Assign({Web("t1", 3, "web:doesnotexist")});
  ASSERT_TRUE(h.Await("t1", "rejected"));
  EXPECT_EQ(h.Sequence("t1"),
            (std::vector<Seen>{{"accepted", "accepted", ""},
                               {"preparing", "preparing", ""},
                               {"rejected", "preparing", "No such image: web:doesnotexist"}}));
  EXPECT_EQ(h.Last("t1").container_status, spec::ContainerStatus{});
  EXPECT_TRUE(h.containers.Ids().empty());
  EXPECT_EQ(h.Pulled(), std::vector<std::string>{"web:doesnotexist"});
  EXPECT_EQ(h.PulledAuth(), std::vector<std::string>{""});
}

TEST(TaskRunner, ThePullOfATaskCarriesItsServicesRegistryAuth) {
  Harness h;
  h.StartRunner();
  TaskAssignment a = Web("t1", 3, "registry.example:5000/web:private");
  a.registry_auth = "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAifQ==";
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "rejected"));
  EXPECT_EQ(h.Pulled(), std::vector<std::string>{"registry.example:5000/web:private"});
  EXPECT_EQ(h.PulledAuth(), std::vector<std::string>{a.registry_auth});
}

TEST(TaskRunner, AnUnsupportedSpecIsRejectedWithoutAContainer) {
  Harness h;
  h.StartRunner();
  TaskAssignment a = Web("t1", 1);
  a.task.spec.container_spec->mounts = {{"npipe", "x", "/y", false, "", {}, {}, {}}};
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "rejected"));
  EXPECT_EQ(h.Sequence("t1").back(), (Seen{"rejected", "preparing", "invalid mount type: npipe"}));
  EXPECT_TRUE(h.containers.Ids().empty());
}

TEST(TaskRunner, AHealthCheckGatesRunning) {
  Harness h;
  h.StartRunner();
  TaskAssignment a = Web("t1", 1);
  a.task.spec.container_spec->healthcheck = spec::HealthConfig{{"CMD", "true"}, 0, 0, 0, 0};
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "starting"));
  ASSERT_TRUE(h.AwaitThat([&] { return h.containers.Starts().size() == 1; }));
  std::string id = h.containers.IdOf("web.1.t1");
  EXPECT_EQ(h.Last("t1").state, "starting");  // started, not yet healthy
  h.containers.SetHealth(id, "healthy");
  ASSERT_TRUE(h.Await("t1", "running"));
  EXPECT_EQ(h.Sequence("t1"), kToRunning);

  // Unhealthy later: stopped, and failed with the cause.
  h.containers.SetHealth(id, "unhealthy");
  ASSERT_TRUE(h.Await("t1", "failed"));
  EXPECT_EQ(h.Sequence("t1").back(),
            (Seen{"failed", "started", "task: non-zero exit (137): unhealthy container"}));
  EXPECT_EQ(h.containers.Stops().size(), 1u);
}

TEST(TaskRunner, UnhealthyBeforeRunningFails) {
  Harness h;
  h.StartRunner();
  TaskAssignment a = Web("t1", 1);
  a.task.spec.container_spec->healthcheck = spec::HealthConfig{{"CMD", "false"}, 0, 0, 0, 0};
  h.runner->Assign({a});
  ASSERT_TRUE(h.AwaitThat([&] { return h.containers.Starts().size() == 1; }));
  ASSERT_TRUE(h.Await("t1", "starting"));
  h.containers.SetHealth(h.containers.IdOf("web.1.t1"), "unhealthy");
  ASSERT_TRUE(h.Await("t1", "failed"));
  EXPECT_EQ(h.Sequence("t1").back(),
            (Seen{"failed", "starting", "task: non-zero exit (137): unhealthy container"}));
}

TEST(TaskRunner, DesiredReadyWaitsPrepared) {
  Harness h;
  h.StartRunner();
  TaskAssignment a = Web("t1", 1);
  a.task.desired_state = "ready";  // the restart delay
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "ready"));
  EXPECT_TRUE(h.containers.Starts().empty());
  a.task.desired_state = "running";
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "running"));
  EXPECT_EQ(h.Sequence("t1"), kToRunning);
}

TEST(TaskRunner, AdoptsItsContainersAfterARestart) {
  Harness h;
  h.StartRunner();
  h.runner->Assign({Web("t1", 1), Web("t2", 2), Web("t3", 3)});
  for (const char* t : {"t1", "t2", "t3"}) ASSERT_TRUE(h.Await(t, "running"));
  std::string c1 = h.containers.IdOf("web.1.t1"), c2 = h.containers.IdOf("web.2.t2"),
              c3 = h.containers.IdOf("web.3.t3");
  h.runner.reset();  // berthd goes away; the containers run on
  EXPECT_EQ(h.containers.Watchers(), 0u);
  h.containers.Exit(c2, 3);  // while nobody watched
  // An orphan: a task container the managers no longer assign.
  spec::ContainerCreateRequest orphan;
  orphan.name = "old.1.t9";
  orphan.config.labels = spec::StringMap{{"com.docker.swarm.task.id", "t9"}};
  std::string c9 = h.containers.Plant(orphan, true);

  h.StartRunner();
  // The managers' view: all three were running.
  std::vector<TaskAssignment> set;
  for (int slot = 1; slot <= 3; ++slot) {
    TaskAssignment a = Web("t" + std::to_string(slot), slot);
    a.task.status.state = "running";
    a.task.status.message = "started";
    set.push_back(a);
  }
  h.runner->Assign(set);
  ASSERT_TRUE(h.Await("t2", "failed"));
  EXPECT_EQ(h.Sequence("t2").back(), (Seen{"failed", "started", "task: non-zero exit (3)"}));
  ASSERT_TRUE(h.AwaitThat([&] { return h.containers.IdOf("old.1.t9").empty(); }));
  EXPECT_EQ(h.containers.Removes(), std::vector<std::string>{c9});
  // No second container for any task.
  EXPECT_EQ(h.containers.Creates().size(), 3u);
  EXPECT_EQ(h.containers.Starts().size(), 3u);  // and none started twice
  // An adopted task's exit is heard.
  h.containers.Exit(c1, 0);
  ASSERT_TRUE(h.Await("t1", "complete"));
  EXPECT_EQ(h.Last("t1").container_status, (spec::ContainerStatus{c1, 0, 0}));
  EXPECT_EQ(h.Last("t3").state, "running");  // from the first runner; nothing new
  EXPECT_FALSE(h.containers.IdOf("web.3.t3").empty());
  (void)c3;
}

TEST(TaskRunner, ResumesATaskCreatedBeforeTheRestart) {
  Harness h;
  // A container made for t1 by the previous berthd, which died before starting it.
  TaskAssignment a = Web("t1", 1);
  auto tc = TaskContainerFor(a, kNode, "");
  ASSERT_TRUE(tc.ok());
  std::string id = h.containers.Plant(tc->request, false);
  h.StartRunner();
  a.task.status.state = "preparing";
  a.task.status.message = "preparing";
  h.runner->Assign({a});
  ASSERT_TRUE(h.Await("t1", "running"));
  EXPECT_EQ(h.Sequence("t1"), (std::vector<Seen>(kToRunning.begin() + 2, kToRunning.end())));
  EXPECT_TRUE(h.containers.Creates().empty());
  EXPECT_EQ(h.containers.Starts(), std::vector<std::string>{id});
}

TEST(TaskRunner, RemoveAllStopsAndRemovesEveryTaskContainer) {
  Harness h;
  h.StartRunner();
  h.runner->Assign({Web("t1", 1), Web("t2", 2)});
  ASSERT_TRUE(h.Await("t1", "running"));
  ASSERT_TRUE(h.Await("t2", "running"));
  spec::ContainerCreateRequest other;
  other.name = "old.1.t9";
  other.config.labels = spec::StringMap{{"com.docker.swarm.task.id", "t9"}};
  h.containers.Plant(other, true);
  spec::ContainerCreateRequest plain;  // not a task's: left alone
  plain.name = "mine";
  std::string mine = h.containers.Plant(plain, true);
  h.runner->RemoveAll();
  EXPECT_EQ(h.containers.Ids(), std::vector<std::string>{mine});
  EXPECT_EQ(h.containers.Stops().size(), 3u);
  EXPECT_TRUE(h.runner->Statuses().empty());
}

TEST(TaskRunner, RemoveAllWithoutStartDoesTheWorkItself) {
  Harness h;
  spec::ContainerCreateRequest other;
  other.name = "old.1.t9";
  other.config.labels = spec::StringMap{{"com.docker.swarm.task.id", "t9"}};
  h.containers.Plant(other, true);
  TaskRunnerConfig cfg;
  cfg.containers = &h.containers;
  cfg.clock = &h.clock;
  cfg.payloads = &h.payloads;
  auto r = TaskRunner::Create(std::move(cfg));
  ASSERT_TRUE(r.ok());
  (*r)->RemoveAll();
  EXPECT_TRUE(h.containers.Ids().empty());
}

TEST(TaskRunner, CreateNeedsItsCollaborators) {
  EXPECT_FALSE(TaskRunner::Create(TaskRunnerConfig{}).ok());
}

}  // namespace
}  // namespace berth::cluster
