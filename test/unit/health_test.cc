// Health checks: Docker's state machine and settings as pure functions (engine/health.h), and the
// scheduling of probes by the container manager on a FakeClock against a fake shim whose execs
// the test ends by hand (exit code, output, or never: a timeout).

#include "engine/health.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/fake_clock.h"
#include "engine/containers.h"
#include "engine/images.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sys/fs.h"
#include "sys/tar.h"

namespace berth::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;

constexpr int64_t kSec = 1000000000;

Probe P(int retries = 3, int64_t start_period = 0) {
  Probe p;
  p.argv = {"true"};
  p.interval = seconds(30);
  p.timeout = seconds(30);
  p.start_period = std::chrono::nanoseconds(start_period);
  p.retries = retries;
  return p;
}

HealthResult R(int64_t start, int code, std::string out = "") { return {start, start + 1, code, out}; }

TEST(HealthStateTest, SuccessMakesHealthyAndRetriesFailuresMakeUnhealthy) {
  HealthState h;
  ResetHealthForStart(&h);
  EXPECT_EQ(h.status, "starting");
  Probe p = P(3);
  EXPECT_TRUE(ApplyProbeResult(&h, p, 0, R(1 * kSec, 0)));
  EXPECT_EQ(h.status, "healthy");
  EXPECT_FALSE(ApplyProbeResult(&h, p, 0, R(2 * kSec, 1)));
  EXPECT_FALSE(ApplyProbeResult(&h, p, 0, R(3 * kSec, 2)));
  EXPECT_EQ(h.failing_streak, 2);
  EXPECT_EQ(h.status, "healthy");
  EXPECT_TRUE(ApplyProbeResult(&h, p, 0, R(4 * kSec, -1)));  // any non-zero code fails
  EXPECT_EQ(h.status, "unhealthy");
  EXPECT_FALSE(ApplyProbeResult(&h, p, 0, R(5 * kSec, 1)));
  EXPECT_EQ(h.failing_streak, 4);
  EXPECT_TRUE(ApplyProbeResult(&h, p, 0, R(6 * kSec, 0)));
  EXPECT_EQ(h.status, "healthy");
  EXPECT_EQ(h.failing_streak, 0);
  // Only the last five results are kept, oldest first.
  ASSERT_EQ(h.log.size(), 5u);
  EXPECT_EQ(h.log.front().start, 2 * kSec);
  EXPECT_EQ(h.log.back().start, 6 * kSec);
  // A restart: "starting" again, no streak, the log kept.
  h.failing_streak = 2;
  ResetHealthForStart(&h);
  EXPECT_EQ(h.status, "starting");
  EXPECT_EQ(h.failing_streak, 0);
  EXPECT_EQ(h.log.size(), 5u);
}

TEST(HealthStateTest, FailuresInsideTheStartPeriodDoNotCountWhileStarting) {
  HealthState h;
  ResetHealthForStart(&h);
  Probe p = P(1, 10 * kSec);
  int64_t started = 100 * kSec;
  EXPECT_FALSE(ApplyProbeResult(&h, p, started, R(started + 5 * kSec, 1)));
  EXPECT_EQ(h.status, "starting");
  EXPECT_EQ(h.failing_streak, 0);
  EXPECT_EQ(h.log.size(), 1u);  // logged all the same
  // From the end of the period on, a failure counts.
  EXPECT_TRUE(ApplyProbeResult(&h, p, started, R(started + 10 * kSec, 1)));
  EXPECT_EQ(h.status, "unhealthy");
  // Once it has been healthy, the start period no longer shields a failure.
  HealthState h2;
  ResetHealthForStart(&h2);
  EXPECT_TRUE(ApplyProbeResult(&h2, p, started, R(started + 1 * kSec, 0)));
  EXPECT_TRUE(ApplyProbeResult(&h2, p, started, R(started + 2 * kSec, 1)));
  EXPECT_EQ(h2.status, "unhealthy");
}

TEST(HealthConfigTest, ProbeOfAppliesDockersDefaultsAndKinds) {
  spec::ContainerConfig c;
  EXPECT_FALSE(ProbeOf(c));
  c.healthcheck = spec::HealthConfig{};
  EXPECT_FALSE(ProbeOf(c));  // no Test (only durations given, no image HEALTHCHECK)
  c.healthcheck->test = {"NONE"};
  EXPECT_FALSE(ProbeOf(c));
  c.healthcheck->test = {"HTTP", "x"};
  EXPECT_FALSE(ProbeOf(c));
  c.healthcheck->test = {"CMD", "curl", "-f", "x"};
  auto p = ProbeOf(c);
  ASSERT_TRUE(p);
  EXPECT_THAT(p->argv, ElementsAre("curl", "-f", "x"));
  EXPECT_EQ(p->interval, seconds(30));
  EXPECT_EQ(p->timeout, seconds(30));
  EXPECT_EQ(p->start_period, seconds(0));
  EXPECT_EQ(p->retries, 3);
  c.healthcheck->test = {"CMD-SHELL", "test -f /ok"};
  c.healthcheck->interval = 2 * kSec;
  c.healthcheck->retries = 1;
  p = ProbeOf(c);
  EXPECT_THAT(p->argv, ElementsAre("/bin/sh", "-c", "test -f /ok"));
  EXPECT_EQ(p->interval, seconds(2));
  EXPECT_EQ(p->retries, 1);
  c.shell = {"/bin/bash", "-ec"};
  EXPECT_THAT(ProbeOf(c)->argv, ElementsAre("/bin/bash", "-ec", "test -f /ok"));
}

TEST(HealthConfigTest, VerifyAndMergeAsDockerd) {
  EXPECT_TRUE(VerifyHealthConfig(std::nullopt).ok());
  spec::HealthConfig h;
  h.interval = 999999;
  EXPECT_EQ(VerifyHealthConfig(h).message(), "Interval in Healthcheck cannot be less than 1ms");
  h = {};
  h.timeout = 1;
  EXPECT_EQ(VerifyHealthConfig(h).message(), "Timeout in Healthcheck cannot be less than 1ms");
  h = {};
  h.start_period = 5;
  EXPECT_EQ(VerifyHealthConfig(h).message(), "StartPeriod in Healthcheck cannot be less than 1ms");
  h = {};
  h.retries = -1;
  EXPECT_EQ(VerifyHealthConfig(h).message(), "Retries in Healthcheck cannot be negative");
  h = {};
  h.interval = 1000000;
  EXPECT_TRUE(VerifyHealthConfig(h).ok());

  spec::HealthConfig image{{"CMD", "a"}, 5 * kSec, 6 * kSec, 7 * kSec, 2};
  std::optional<spec::HealthConfig> mine;
  MergeHealthcheck(image, mine);
  EXPECT_EQ(*mine, image);
  mine = spec::HealthConfig{{"CMD-SHELL", "b"}, 1 * kSec, 0, 0, 0};
  MergeHealthcheck(image, mine);
  EXPECT_EQ(*mine, (spec::HealthConfig{{"CMD-SHELL", "b"}, 1 * kSec, 6 * kSec, 7 * kSec, 2}));
  mine = spec::HealthConfig{{"NONE"}, 0, 0, 0, 0};
  MergeHealthcheck(image, mine);
  EXPECT_EQ(mine->test, std::vector<std::string>{"NONE"});
  mine.reset();
  MergeHealthcheck(std::nullopt, mine);
  EXPECT_FALSE(mine);
}

TEST(HealthConfigTest, HealthcheckInstructionAsTheBuilderParsesIt) {
  auto h = ParseHealthcheckInstruction("--interval=5s --timeout=3s --start-period=1m --retries=4 CMD curl -f x");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, (spec::HealthConfig{{"CMD-SHELL", "curl -f x"}, 5 * kSec, 3 * kSec, 60 * kSec, 4}));
  h = ParseHealthcheckInstruction(R"(CMD ["true", "a b"])");
  EXPECT_EQ(h->test, (std::vector<std::string>{"CMD", "true", "a b"}));
  EXPECT_EQ(ParseHealthcheckInstruction("none")->test, std::vector<std::string>{"NONE"});
  EXPECT_EQ(ParseHealthcheckInstruction("NONE x").status().message(), "HEALTHCHECK NONE takes no arguments");
  EXPECT_EQ(ParseHealthcheckInstruction("RUN x").status().message(),
            "Unknown type \"RUN\" in HEALTHCHECK (try CMD)");
  EXPECT_EQ(ParseHealthcheckInstruction("CMD").status().message(), "Missing command after HEALTHCHECK CMD");
  EXPECT_EQ(ParseHealthcheckInstruction("--every=1s CMD x").status().message(), "Unknown flag: every");
  EXPECT_EQ(ParseHealthcheckInstruction("--retries=0 CMD x").status().message(),
            "--retries must be at least 1 (not 0)");
  EXPECT_EQ(ParseHealthcheckInstruction("--interval=1x CMD x").status().message(),
            "time: invalid duration \"1x\"");
  EXPECT_EQ(ParseHealthcheckInstruction("--timeout=10us CMD x").status().message(),
            "Interval \"timeout\" cannot be less than 1ms");
}

TEST(HealthFormatTest, GoDurationsOutputLimitAndUtf8) {
  EXPECT_EQ(GoDurationString(seconds(30)), "30s");
  EXPECT_EQ(GoDurationString(milliseconds(300)), "300ms");
  EXPECT_EQ(GoDurationString(milliseconds(1500)), "1.5s");
  EXPECT_EQ(GoDurationString(seconds(90)), "1m30s");
  EXPECT_EQ(GoDurationString(seconds(7200)), "2h0m0s");
  EXPECT_EQ(GoDurationString(std::chrono::microseconds(2)), "2µs");
  EXPECT_EQ(GoDurationString(std::chrono::nanoseconds(0)), "0s");
  EXPECT_EQ(TimeoutResult(P(), 1, 2).output, "Health check exceeded timeout (30s)");
  EXPECT_EQ(TimeoutResult(P(), 1, 2).exit_code, -1);

  std::string out;
  bool truncated = false;
  AppendProbeOutput(&out, &truncated, std::string(4000, 'a'));
  EXPECT_FALSE(truncated);
  AppendProbeOutput(&out, &truncated, std::string(200, 'b'));
  EXPECT_TRUE(truncated);
  EXPECT_EQ(out.size(), kMaxProbeOutput);
  EXPECT_EQ(out.substr(4000), std::string(96, 'b'));

  EXPECT_EQ(ValidUtf8("ok é €"), "ok é €");
  EXPECT_EQ(ValidUtf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(ValidUtf8("\xe2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // cut in the middle of a rune
  EXPECT_EQ(ValidUtf8("\xc0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
}

// ---------------------------------------------------------------------------------------------
// The container manager's scheduling, on fake time.

// berth-shim + runc as far as health checks need them: containers that run until told to exit,
// and execs whose connection the test holds (it writes their output and exit frame).
class FakeShim : public Shim {
 public:
  StatusOr<pid_t> Start(const ShimStart& s) const override {
    absl::MutexLock l(&mu);
    boxes[s.state_dir] = true;
    return 1000;
  }
  StatusOr<UniqueFd> Command(const std::string& dir, const std::string& line,
                             std::string* reply) const override {
    absl::MutexLock l(&mu);
    if (!boxes.count(dir)) return absl::UnavailableError("no shim");
    int sv[2];
    BERTH_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    UniqueFd mine(sv[0]), theirs(sv[1]);
    std::string r = "OK";
    if (line == "WAIT") {
      waiters[dir] = std::move(theirs);
    } else if (absl::StartsWith(line, "EXEC ")) {
      execs.push_back(std::move(theirs));
      exec_lines.push_back(line);
      r = "OK 4242";
    } else if (absl::StartsWith(line, "KILL-EXEC ")) {
      kills.push_back(line.substr(10));
    } else if (absl::StartsWith(line, "KILL ")) {
      ExitLocked(dir, 137);
    } else if (line == "STATUS") {
      r = "RUNNING 1000";
    }
    if (reply != nullptr) *reply = r;
    return mine;
  }
  void ForgetRuntimeState(const std::string&) const override {}

  void ExitLocked(const std::string& dir, int code) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::string line = "EXIT " + std::to_string(code) + " " + std::to_string(UnixNanos(clock->Now())) + "\n";
    auto it = waiters.find(dir);
    if (it != waiters.end()) (void)!::write(it->second.get(), line.data(), line.size());
    waiters.erase(dir);
    boxes.erase(dir);
  }
  // Waits (real time) until the n-th exec (1-based) has been started.
  bool AwaitExec(size_t n) {
    absl::MutexLock l(&mu);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return execs.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(10));
  }
  bool AwaitKills(size_t n) {
    absl::MutexLock l(&mu);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return kills.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(10));
  }
  // Ends the n-th exec: its output on stdout, then its exit frame.
  void EndExec(size_t n, int code, const std::string& out = "") {
    absl::MutexLock l(&mu);
    UniqueFd fd = std::move(execs.at(n - 1));
    std::string frames = (out.empty() ? "" : Frame(kStdout, out)) + Frame(kExit, std::to_string(code));
    ASSERT_EQ(::write(fd.get(), frames.data(), frames.size()), static_cast<ssize_t>(frames.size()));
  }

  const Clock* clock = nullptr;
  mutable absl::Mutex mu;
  mutable std::map<std::string, bool> boxes ABSL_GUARDED_BY(mu);
  mutable std::map<std::string, UniqueFd> waiters ABSL_GUARDED_BY(mu);
  mutable std::vector<UniqueFd> execs ABSL_GUARDED_BY(mu);
  mutable std::vector<std::string> exec_lines ABSL_GUARDED_BY(mu);
  mutable std::vector<std::string> kills ABSL_GUARDED_BY(mu);
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

class HealthMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-health-XXXXXX";
    dir_ = mkdtemp(tmpl);
    shim_.clock = &clock_;
    store_ = *Store::Open(dir_ + "/berth.db");
    events_ = std::make_unique<EventBus>(clock_);
    images_ = std::make_unique<ImageStore>(*store_, clock_, dir_ + "/image");
    ASSERT_TRUE(images_->Recover().ok());
    std::string tar = dir_ + "/rootfs.tar";
    {
      UniqueFd fd(::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      tar::Writer w(fd.get());
      ASSERT_TRUE(w.AddDir("bin").ok());
      ASSERT_TRUE(w.AddFile("bin/sh", "#!", 0755).ok());
      ASSERT_TRUE(w.Finish().ok());
    }
    // The image's HEALTHCHECK: every 5 s, 2 failures make it unhealthy, 3 s timeout.
    ASSERT_TRUE(images_->Import(tar, "img", {"CMD [\"sleep\"]",
                                             "HEALTHCHECK --interval=5s --timeout=3s --retries=2 CMD [\"check\"]"},
                                "")
                    .ok());
    Boot();
  }
  void Boot() {
    mgr_ = std::make_unique<ContainerManager>(*store_, *images_, *events_, shim_, mounter_, clock_,
                                              EnginePaths{dir_ + "/data", dir_ + "/exec", ""}, network_);
    ASSERT_TRUE(mgr_->Recover().ok());
  }
  void TearDown() override {
    mgr_.reset();
    (void)sys::RemoveAll(dir_);
  }
  std::string Run(const std::string& name) {
    spec::ContainerCreateRequest r;
    r.name = name;
    r.config.image = "img";
    r.host_config = spec::HostConfig();
    auto res = mgr_->Create(r);
    EXPECT_TRUE(res.ok()) << res.status();
    EXPECT_TRUE(mgr_->Start(res->id).ok());
    return res->id;
  }
  HealthState Health(const std::string& id) {
    auto v = mgr_->Inspect(id, false);
    return v.ok() && v->state.health ? *v->state.health : HealthState();
  }
  // Waits (real time) until the container's health satisfies pred.
  bool AwaitHealth(const std::string& id, const std::function<bool(const HealthState&)>& pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred(Health(id))) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }
  std::vector<std::string> Actions(uint64_t* cursor) {
    std::vector<std::string> out;
    for (auto& e : events_->Next(cursor, 0)) out.push_back(e.action);
    return out;
  }

  FakeClock clock_;
  FakeShim shim_;
  FakeMounter mounter_;
  NetworkAttacher network_;
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<ContainerManager> mgr_;
};

TEST_F(HealthMonitorTest, ProbesRunEveryIntervalOnTheClockAndFlipTheStatus) {
  uint64_t cursor = events_->Head();
  std::string id = Run("hc");
  EXPECT_EQ(Health(id).status, "starting");
  // Nothing runs before the interval has passed on the clock.
  ASSERT_TRUE(clock_.AwaitTimers(1));
  clock_.Advance(milliseconds(4999));
  {
    absl::MutexLock l(&shim_.mu);
    EXPECT_TRUE(shim_.execs.empty());
  }
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(shim_.AwaitExec(1));
  shim_.EndExec(1, 0, "fine");
  ASSERT_TRUE(AwaitHealth(id, [](auto& h) { return h.status == "healthy"; }));
  EXPECT_EQ(Health(id).log.back().output, "fine");
  // The next probe is an interval after the end of this one: two failures make it unhealthy.
  for (size_t n = 2; n <= 3; ++n) {
    ASSERT_TRUE(clock_.AwaitTimers(1));
    clock_.Advance(seconds(5));
    ASSERT_TRUE(shim_.AwaitExec(n));
    shim_.EndExec(n, 1);
    ASSERT_TRUE(AwaitHealth(id, [n](auto& h) { return h.failing_streak == static_cast<int>(n - 1); }));
  }
  EXPECT_EQ(Health(id).status, "unhealthy");
  {
    absl::MutexLock l(&shim_.mu);
    EXPECT_TRUE(absl::StartsWith(shim_.exec_lines[0], "EXEC ")) << shim_.exec_lines[0];
  }
  std::vector<std::string> health;
  int creates = 0, dies = 0;
  for (auto& a : Actions(&cursor)) {
    if (absl::StartsWith(a, "health_status")) health.push_back(a);
    creates += a == "exec_create: check";
    dies += a == "exec_die";
  }
  EXPECT_THAT(health, ElementsAre("health_status: healthy", "health_status: unhealthy"));
  EXPECT_EQ(creates, 3);
  EXPECT_EQ(dies, 3);
  // Probes that have exited are not kept among the container's execs.
  EXPECT_TRUE(mgr_->Inspect(id, false)->exec_ids.empty());
}

TEST_F(HealthMonitorTest, ATimeoutIsAFailureAndTheProbeIsTerminatedThenKilled) {
  std::string id = Run("slow");
  ASSERT_TRUE(clock_.AwaitTimers(1));
  clock_.Advance(seconds(5));
  ASSERT_TRUE(shim_.AwaitExec(1));
  ASSERT_TRUE(clock_.AwaitTimers(1));  // the probe's timeout
  clock_.Advance(seconds(3));
  ASSERT_TRUE(AwaitHealth(id, [](auto& h) { return !h.log.empty(); }));
  HealthState h = Health(id);
  EXPECT_EQ(h.log[0].exit_code, -1);
  EXPECT_EQ(h.log[0].output, "Health check exceeded timeout (3s)");
  EXPECT_EQ(h.failing_streak, 1);
  ASSERT_TRUE(clock_.AwaitTimers(1));  // SIGKILL after the grace
  clock_.Advance(seconds(10));
  ASSERT_TRUE(shim_.AwaitKills(2));
  {
    absl::MutexLock l(&shim_.mu);
    std::string sid = shim_.exec_lines[0].substr(5, 12);
    EXPECT_THAT(shim_.kills, ElementsAre(sid + " 15", sid + " 9"));
  }
  // No second probe while the first has not exited; once it has, the next is an interval away.
  EXPECT_EQ(clock_.Pending(), 0u);
  shim_.EndExec(1, 137);
  ASSERT_TRUE(clock_.AwaitTimers(1));
  EXPECT_EQ(Health(id).log.size(), 1u);  // its late exit is not a second result
  clock_.Advance(seconds(5));
  ASSERT_TRUE(shim_.AwaitExec(2));
}

TEST_F(HealthMonitorTest, TheCheckStopsWithTheContainerAndResumesAfterARestore) {
  std::string id = Run("life");
  ASSERT_TRUE(clock_.AwaitTimers(1));
  clock_.Advance(seconds(5));
  ASSERT_TRUE(shim_.AwaitExec(1));
  shim_.EndExec(1, 0);
  ASSERT_TRUE(AwaitHealth(id, [](auto& h) { return h.status == "healthy"; }));
  ASSERT_TRUE(clock_.AwaitTimers(1));
  // berthd goes away and comes back with the container still running: the stored State.Health
  // is restored and the check starts over ("starting", the log kept).
  mgr_.reset();
  EXPECT_EQ(clock_.Pending(), 0u);
  Boot();
  HealthState h = Health(id);
  EXPECT_EQ(h.status, "starting");
  EXPECT_EQ(h.log.size(), 1u);
  ASSERT_TRUE(clock_.AwaitTimers(1));
  clock_.Advance(seconds(5));
  ASSERT_TRUE(shim_.AwaitExec(2));
  shim_.EndExec(2, 0);
  ASSERT_TRUE(AwaitHealth(id, [](auto& h) { return h.status == "healthy" && h.log.size() == 2; }));
  // The container stops: its timer is cancelled, nothing more runs; the status stays.
  ASSERT_TRUE(clock_.AwaitTimers(1));
  ASSERT_TRUE(mgr_->Kill(id, "").ok());
  EXPECT_EQ(clock_.Pending(), 0u);
  clock_.Advance(seconds(60));
  EXPECT_EQ(Health(id).status, "healthy");
  {
    absl::MutexLock l(&shim_.mu);
    EXPECT_EQ(shim_.execs.size(), 2u);
  }
}

}  // namespace
}  // namespace berth::engine
