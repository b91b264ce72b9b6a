// The container manager's logic against a fake shim, fake mounts and a FakeClock (no root, no
// runc): stop timeouts and restart back-off run on fake time; create merges the image's defaults
// as Docker does and leaves nothing behind when it refuses.

#include "engine/containers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sys/fs.h"
#include "sys/tar.h"

namespace berth::engine {
namespace {

using ::testing::ElementsAre;

// Pretends to be berth-shim + runc: containers that exit when told to (or when signalled).
class FakeShim : public Shim {
 public:
  struct Box {
    int pid = 0;
    int starts = 0;
    bool running = false;
    bool ignore_term = false;  // SIGTERM does nothing; only SIGKILL ends it
    std::vector<int> signals;
    UniqueFd waiter;  // the manager's WAIT connection, our end
  };

  StatusOr<pid_t> Start(const ShimStart& s) const override {
    absl::MutexLock l(&mu);
    Box& b = boxes[s.state_dir];
    b.pid = next_pid++;
    b.starts++;
    b.running = true;
    return b.pid;
  }

  StatusOr<UniqueFd> Command(const std::string& dir, const std::string& line,
                             std::string* reply) const override {
    absl::MutexLock l(&mu);
    auto it = boxes.find(dir);
    if (it == boxes.end()) return absl::UnavailableError("connect " + dir + "/shim.sock: no shim");
    Box& b = it->second;
    int sv[2];
    BERTH_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    UniqueFd mine(sv[0]), theirs(sv[1]);
    std::string r = "OK";
    if (line == "WAIT") {
      b.waiter = std::move(theirs);
    } else if (absl::StartsWith(line, "KILL ")) {
      int sig = 0;
      (void)absl::SimpleAtoi(line.substr(5), &sig);
      b.signals.push_back(sig);
      if (!b.running) r = "ERR container has exited";
      else if (sig == SIGKILL || (sig == SIGTERM && !b.ignore_term)) ExitLocked(b, 128 + sig);
    } else if (line == "STATUS") {
      r = b.running ? "RUNNING " + std::to_string(b.pid) : "EXITED 0 0";
    }
    if (reply != nullptr) *reply = r;
    return mine;
  }

  void ForgetRuntimeState(const std::string&) const override {}

  // The container of `dir` exits with `code` now.
  void Exit(const std::string& dir, int code) {
    absl::MutexLock l(&mu);
    ExitLocked(boxes.at(dir), code);
  }
  void ExitLocked(Box& b, int code) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    b.running = false;
    std::string line = "EXIT " + std::to_string(code) + " " + std::to_string(UnixNanos(clock->Now())) + "\n";
    if (b.waiter.valid()) (void)!::write(b.waiter.get(), line.data(), line.size());
    b.waiter.reset();
  }
  // Waits (real time) until pred holds on the boxes.
  bool Await(const std::function<bool(std::map<std::string, Box>&)>& pred) {
    absl::MutexLock l(&mu);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return pred(boxes); };
    return mu.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(10));
  }

  const Clock* clock = nullptr;
  mutable absl::Mutex mu;
  mutable std::map<std::string, Box> boxes ABSL_GUARDED_BY(mu);
  mutable int next_pid ABSL_GUARDED_BY(mu) = 1000;
};

class FakeMounter : public RootfsMounter {
 public:
  Status Mount(const std::vector<std::string>&, const std::string&, const std::string&,
               const std::string& target) override {
    return sys::MkdirAll(target, 0755);
  }
  Status Unmount(const std::string&) override { return absl::OkStatus(); }
  bool Mounted(const std::string&) override { return false; }
};

class ContainerManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-cm-XXXXXX";
    dir_ = mkdtemp(tmpl);
    shim_.clock = &clock_;
    store_ = *Store::Open(dir_ + "/berth.db");
    events_ = std::make_unique<EventBus>(clock_);
    images_ = std::make_unique<ImageStore>(*store_, clock_, dir_ + "/image");
    ASSERT_TRUE(images_->Recover().ok());
    // A one-file image with Docker-style defaults.
    std::string tar = dir_ + "/rootfs.tar";
    {
      UniqueFd fd(::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      tar::Writer w(fd.get());
      ASSERT_TRUE(w.AddDir("bin").ok());
      ASSERT_TRUE(w.AddFile("bin/sh", "#!", 0755).ok());
      ASSERT_TRUE(w.Finish().ok());
    }
    auto id = images_->Import(tar, "img", {"ENTRYPOINT [\"/ep\"]", "CMD [\"a\"]", "ENV A=1", "WORKDIR /w",
                                           "LABEL x=1", "STOPSIGNAL SIGUSR1"},
                              "");
    ASSERT_TRUE(id.ok()) << id.status();
    mgr_ = std::make_unique<ContainerManager>(*store_, *images_, *events_, shim_, mounter_, clock_,
                                              EnginePaths{dir_ + "/data", dir_ + "/exec", ""}, network_);
    ASSERT_TRUE(mgr_->Recover().ok());
  }
  void TearDown() override {
    mgr_.reset();
    (void)sys::RemoveAll(dir_);
  }

  spec::ContainerCreateRequest Req(const std::string& name) {
    spec::ContainerCreateRequest r;
    r.name = name;
    r.config.image = "img";
    r.host_config = spec::HostConfig();
    return r;
  }
  std::string StateDir(const std::string& id) { return dir_ + "/exec/c/" + id.substr(0, 12); }
  std::string Status(const std::string& id) { return mgr_->Inspect(id, false)->state.status; }
  int Starts(const std::string& id) {
    absl::MutexLock l(&shim_.mu);
    return shim_.boxes[StateDir(id)].starts;
  }

  FakeClock clock_;
  FakeShim shim_;
  FakeMounter mounter_;
  NetworkAttacher network_;  // no networks: a fresh namespace per container
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<ContainerManager> mgr_;
};

TEST_F(ContainerManagerTest, CreateMergesTheImageDefaultsAsDockerDoes) {
  auto req = Req("merge");
  req.config.cmd = std::vector<std::string>{"b"};
  req.config.env = std::vector<std::string>{"A=2", "B=3"};
  req.config.labels = spec::StringMap{{"y", "2"}};
  auto res = mgr_->Create(req);
  ASSERT_TRUE(res.ok()) << res.status();
  auto v = mgr_->Inspect(res->id, false);
  ASSERT_TRUE(v.ok());
  EXPECT_THAT(*v->config.entrypoint, ElementsAre("/ep"));
  EXPECT_THAT(*v->config.cmd, ElementsAre("b"));
  EXPECT_THAT(*v->config.env, ElementsAre("A=2", "B=3"));
  EXPECT_EQ(v->config.working_dir, "/w");
  EXPECT_EQ(v->config.stop_signal, "SIGUSR1");
  EXPECT_EQ(*v->config.labels, (spec::StringMap{{"x", "1"}, {"y", "2"}}));
  EXPECT_EQ(v->config.hostname, res->id.substr(0, 12));
  EXPECT_EQ(v->path, "/ep");
  EXPECT_THAT(v->args, ElementsAre("b"));
  // The defaults inspect shows.
  EXPECT_EQ(v->host_config.shm_size, 64 << 20);
  EXPECT_EQ(v->host_config.ipc_mode, "private");
  EXPECT_EQ(v->host_config.runtime, "runc");
  EXPECT_EQ(v->host_config.log_config.type, "json-file");
  EXPECT_EQ(v->host_config.restart_policy.name, "no");
  EXPECT_EQ(spec::OrEmpty(v->host_config.masked_paths).size(), 10u);
  // --entrypoint "" drops the image's, and then the image's CMD is not used either.
  auto req2 = Req("noentry");
  req2.config.entrypoint = std::vector<std::string>{""};
  req2.config.cmd = std::vector<std::string>{"echo", "hi"};
  auto res2 = mgr_->Create(req2);
  ASSERT_TRUE(res2.ok());
  auto v2 = mgr_->Inspect(res2->id, false);
  EXPECT_FALSE(v2->config.entrypoint.has_value());
  EXPECT_EQ(v2->path, "echo");
}

TEST_F(ContainerManagerTest, RefusedCreatesLeaveNothingAndKeepTheName) {
  auto bad = Req("x1");
  bad.host_config->restart_policy.name = "sometimes";
  EXPECT_EQ(mgr_->Create(bad).status().message(), "invalid restart policy 'sometimes'");
  auto rm = Req("x2");
  rm.host_config->auto_remove = true;
  rm.host_config->restart_policy.name = "always";
  EXPECT_FALSE(mgr_->Create(rm).ok());
  // Settings Berth cannot honour on any host: --gpus, --storage-opt, --link-local-ip.
  auto gpus = Req("x3");
  gpus.host_config->resources.device_requests =
      std::vector<spec::DeviceRequest>{{"", -1, std::nullopt, {{{"gpu"}}}, std::nullopt}};
  EXPECT_EQ(mgr_->Create(gpus).status().message(),
            "could not select device driver \"\" with capabilities: [[gpu]]");
  auto quota = Req("x4");
  quota.host_config->storage_opt = {{"size", "1G"}};
  EXPECT_EQ(mgr_->Create(quota).status().message(),
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
  auto lla = Req("x5");
  spec::EndpointSettings ep;
  ep.ipam_config = spec::EndpointIPAMConfig{"", "", {"169.254.7.7"}};
  lla.networking_config = spec::NetworkingConfig{};
  lla.networking_config->endpoints_config = std::map<std::string, spec::EndpointSettings>{{"bridge", ep}};
  EXPECT_TRUE(absl::IsInvalidArgument(mgr_->Create(lla).status()));
  auto ok = mgr_->Create(Req("taken"));
  ASSERT_TRUE(ok.ok());
  auto dup = mgr_->Create(Req("taken"));
  EXPECT_TRUE(absl::IsAlreadyExists(dup.status())) << dup.status();
  auto ls = sys::ListDir(dir_ + "/data/containers");
  ASSERT_TRUE(ls.ok());
  EXPECT_THAT(*ls, ElementsAre(ok->id));  // only the one that was created
}

TEST_F(ContainerManagerTest, StopSendsTheStopSignalThenSigkillAfterTheGraceOnTheClock) {
  auto res = mgr_->Create(Req("stubborn"));
  ASSERT_TRUE(res.ok());
  std::string id = res->id;
  {
    absl::MutexLock l(&shim_.mu);
    shim_.boxes[StateDir(id)].ignore_term = true;
  }
  ASSERT_TRUE(mgr_->Start(id).ok());
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    EXPECT_TRUE(*mgr_->Stop(id, 10, "SIGTERM"));
    stopped = true;
  });
  ASSERT_TRUE(shim_.Await([&](auto& boxes) { return !boxes[StateDir(id)].signals.empty(); }));
  ASSERT_TRUE(clock_.AwaitTimers(1));
  clock_.Advance(std::chrono::seconds(9));
  EXPECT_FALSE(stopped);
  {
    absl::MutexLock l(&shim_.mu);
    EXPECT_THAT(shim_.boxes[StateDir(id)].signals, ElementsAre(SIGTERM));
  }
  clock_.Advance(std::chrono::seconds(1));
  stopper.join();
  absl::MutexLock l(&shim_.mu);
  EXPECT_THAT(shim_.boxes[StateDir(id)].signals, ElementsAre(SIGTERM, SIGKILL));
  EXPECT_EQ(mgr_->Inspect(id, false)->state.exit_code, 137);
}

TEST_F(ContainerManagerTest, TheImagesStopSignalIsUsedAndKillWaitsForTheExit) {
  auto res = mgr_->Create(Req("polite"));
  ASSERT_TRUE(res.ok());
  std::string id = res->id;
  ASSERT_TRUE(mgr_->Start(id).ok());
  // STOPSIGNAL SIGUSR1 from the image: not one the fake dies of, so it takes the kill.
  ASSERT_TRUE(mgr_->Kill(id, "").ok());  // SIGKILL: returns once it has exited
  EXPECT_EQ(Status(id), "exited");
  EXPECT_EQ(mgr_->Inspect(id, false)->state.exit_code, 137);
  EXPECT_TRUE(absl::IsFailedPrecondition(mgr_->Kill(id, "")));
}

TEST_F(ContainerManagerTest, RestartBackoffDoublesOnTheClockAndResetsAfterTenSeconds) {
  auto req = Req("flappy");
  req.host_config->restart_policy.name = "always";
  auto res = mgr_->Create(req);
  ASSERT_TRUE(res.ok());
  std::string id = res->id;
  ASSERT_TRUE(mgr_->Start(id).ok());
  auto restarted_after = [&](int starts, std::chrono::milliseconds delay) {
    ASSERT_TRUE(clock_.AwaitTimers(1));
    clock_.Advance(delay - std::chrono::milliseconds(1));
    EXPECT_EQ(Starts(id), starts - 1) << "restarted before its back-off";
    clock_.Advance(std::chrono::milliseconds(1));
    ASSERT_TRUE(shim_.Await([&](auto& boxes) { return boxes[StateDir(id)].starts == starts; }));
    ASSERT_TRUE(shim_.Await([&](auto& boxes) { return boxes[StateDir(id)].waiter.valid(); }));
  };
  shim_.Exit(StateDir(id), 1);
  restarted_after(2, std::chrono::milliseconds(100));
  shim_.Exit(StateDir(id), 1);
  restarted_after(3, std::chrono::milliseconds(200));
  shim_.Exit(StateDir(id), 1);
  restarted_after(4, std::chrono::milliseconds(400));
  // A run of ten seconds or more resets the back-off.
  clock_.Advance(std::chrono::seconds(10));
  shim_.Exit(StateDir(id), 1);
  restarted_after(5, std::chrono::milliseconds(100));
  ASSERT_TRUE(*mgr_->Stop(id, 0));
}

TEST_F(ContainerManagerTest, OnFailureRestartsAtMostTheGivenCount) {
  auto req = Req("twice");
  req.host_config->restart_policy = {"on-failure", 2};
  auto res = mgr_->Create(req);
  ASSERT_TRUE(res.ok());
  std::string id = res->id;
  ASSERT_TRUE(mgr_->Start(id).ok());
  for (int starts : {2, 3}) {
    shim_.Exit(StateDir(id), 3);
    ASSERT_TRUE(clock_.AwaitTimers(1));
    clock_.Advance(std::chrono::seconds(1));
    ASSERT_TRUE(shim_.Await([&](auto& boxes) { return boxes[StateDir(id)].starts == starts; }));
    ASSERT_TRUE(shim_.Await([&](auto& boxes) { return boxes[StateDir(id)].waiter.valid(); }));
  }
  shim_.Exit(StateDir(id), 3);
  auto exited = [&] { return Status(id) == "exited"; };
  for (int i = 0; i < 1000 && !exited(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_TRUE(exited());
  EXPECT_EQ(clock_.Pending(), 0u);  // no third restart scheduled
  EXPECT_EQ(Starts(id), 3);
  EXPECT_EQ(mgr_->Inspect(id, false)->restart_count, 2);
}

TEST_F(ContainerManagerTest, ExitWatchersSeeEveryExitAsATypedEvent) {
  std::vector<ExitEvent> seen;
  absl::Mutex mu;
  uint64_t w = mgr_->WatchExits([&](const ExitEvent& e) {
    absl::MutexLock l(&mu);
    seen.push_back(e);
  });
  auto res = mgr_->Create(Req("watched"));
  ASSERT_TRUE(res.ok());
  ASSERT_TRUE(mgr_->Start(res->id).ok());
  shim_.Exit(StateDir(res->id), 42);
  {
    absl::MutexLock l(&mu);
    auto one = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return seen.size() == 1; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&one), absl::Seconds(10)));
    EXPECT_EQ(seen[0].id, res->id);
    EXPECT_EQ(seen[0].exit_code, 42);
    EXPECT_FALSE(seen[0].restarting);
  }
  // Not while holding mu: the handler takes mu with the manager's watcher lock held.
  mgr_->UnwatchExits(w);
}

TEST_F(ContainerManagerTest, ListByLabelAndForcedRemoveOfARunningContainer) {
  auto a = Req("task1");
  a.config.labels = spec::StringMap{{"com.docker.swarm.service.id", "s1"}};
  auto ra = mgr_->Create(a);
  auto rb = mgr_->Create(Req("plain"));
  ASSERT_TRUE(ra.ok() && rb.ok());
  ASSERT_TRUE(mgr_->Start(ra->id).ok());
  spec::Filters f;
  f.Add("label", "com.docker.swarm.service.id=s1");
  auto list = mgr_->List(true, f);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, ra->id);
  EXPECT_TRUE(absl::IsFailedPrecondition(mgr_->Remove(ra->id, false)));
  ASSERT_TRUE(mgr_->Remove(ra->id, true).ok());
  EXPECT_TRUE(absl::IsNotFound(mgr_->Inspect(ra->id, false).status()));
  EXPECT_FALSE(sys::Exists(dir_ + "/data/containers/" + ra->id));
}

}  // namespace
}  // namespace berth::engine
