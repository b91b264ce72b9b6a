// Pull and push through the real registry client against Debian's docker-registry (the
// Distribution registry), started on 127.0.0.1 inside a throwaway namespace bt-distreg-<pid>;
// the test's own work runs on a thread that setns()-es into it (the pull's workers, started from
// it, inherit the namespace). The image store is real, in a temporary data root. Needs root and
// /usr/bin/docker-registry; skips with the reason otherwise.

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "common/fd.h"
#include "engine/distribution/distribution.h"
#include "engine/images.h"
#include "engine/store.h"
#include "gtest/gtest.h"
#include "registry/client/registry.h"
#include "registry/reference.h"
#include "sys/fs.h"
#include "sys/subprocess.h"
#include "sys/tar.h"

namespace berth::engine {
namespace {

int RunCmd(const std::vector<std::string>& argv) {
  auto r = sys::Run(argv);
  return r.ok() ? r->exit_code : -1;
}

class DistributionRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, layer ownership)";
    if (!sys::Exists("/usr/bin/docker-registry"))
      GTEST_SKIP() << "docker-registry is not installed";
    char tmpl[] = "/tmp/bt-distreg-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ns_ = absl::StrCat("bt-distreg-", getpid());
    ASSERT_EQ(RunCmd({"ip", "netns", "add", ns_}), 0);
    ns_made_ = true;
    ASSERT_EQ(RunCmd({"ip", "-n", ns_, "link", "set", "lo", "up"}), 0);
    ASSERT_TRUE(sys::WriteFile(dir_ + "/config.yml",
                               absl::StrCat("version: 0.1\n"
                                            "log:\n  level: error\n"
                                            "storage:\n  filesystem:\n    rootdirectory: ",
                                            dir_,
                                            "/registry\n"
                                            "http:\n  addr: 127.0.0.1:5000\n"))
                    .ok());
    auto pid = sys::Spawn({"nsenter", "--net=/run/netns/" + ns_, "/usr/bin/docker-registry",
                           "serve", dir_ + "/config.yml"});
    ASSERT_TRUE(pid.ok()) << pid.status();
    registry_pid_ = *pid;
    store_ = *Store::Open(dir_ + "/berth.db");
    images_ = std::make_unique<ImageStore>(*store_, clock_, dir_ + "/image");
    ASSERT_TRUE(images_->Recover().ok());
    registries_ = std::make_unique<registry::Registries>(registry::RegistryOptions{});
    dist_ = std::make_unique<Distribution>(*images_, *registries_, 3, 5, dir_ + "/tmp");
  }
  void TearDown() override {
    dist_.reset();
    registries_.reset();
    images_.reset();
    store_.reset();
    if (registry_pid_ > 0) {
      ::kill(registry_pid_, SIGTERM);
      (void)sys::Wait(registry_pid_);
    }
    if (ns_made_) RunCmd({"ip", "netns", "del", ns_});
    if (!dir_.empty()) (void)sys::RemoveAll(dir_);
  }

  // Runs fn on a thread inside the namespace, once the registry answers there.
  template <typename Fn>
  void InRegistryNetns(Fn fn) {
    std::thread t([&] {
      UniqueFd ns(::open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns.valid() || ::setns(ns.get(), CLONE_NEWNET) != 0) {
        ADD_FAILURE() << "setns: " << strerror(errno);
        return;
      }
      bool up = false;
      for (int i = 0; i < 200 && !up; ++i) {  // the registry takes a moment to listen
        UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(5000);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        up = ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
      if (!up) {
        ADD_FAILURE() << "docker-registry did not listen on 127.0.0.1:5000";
        return;
      }
      fn();
    });
    t.join();
  }

  std::string ImportImage(const std::string& ref) {
    std::string tar = dir_ + "/rootfs.tar";
    {
      UniqueFd fd(::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      tar::Writer w(fd.get());
      EXPECT_TRUE(w.AddDir("bin").ok());
      EXPECT_TRUE(w.AddFile("bin/hello", std::string(300000, 'h'), 0755).ok());
      EXPECT_TRUE(w.Finish().ok());
    }
    auto id = images_->Import(tar, ref, {"CMD [\"/bin/hello\"]"}, "");
    EXPECT_TRUE(id.ok()) << id.status();
    ::unlink(tar.c_str());
    return id.ok() ? *id : "";
  }

  std::string dir_, ns_;
  bool ns_made_ = false;
  pid_t registry_pid_ = -1;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<registry::Registries> registries_;
  std::unique_ptr<Distribution> dist_;
};

TEST_F(DistributionRegistryTest, PushRemovePullRoundTrip) {
  const std::string name = "127.0.0.1:5000/test/app:v1";
  std::string id = ImportImage(name);
  ASSERT_FALSE(id.empty());
  auto ref = registry::ParseNormalized(name);
  ASSERT_TRUE(ref.ok()) << ref.status();
  InRegistryNetns([&] {
    std::vector<PullProgress> pushed;
    Status st = dist_->Push(*ref, {}, [&](const PullProgress& p) { pushed.push_back(p); });
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_FALSE(pushed.empty());
    ASSERT_TRUE(pushed.back().has_aux);
    const std::string digest = pushed.back().aux_digest;
    EXPECT_EQ(pushed.front().status, "The push refers to repository [127.0.0.1:5000/test/app]");

    // The registry serves what was pushed under that digest.
    auto inspect = dist_->Inspect(*ref, {});
    ASSERT_TRUE(inspect.ok()) << inspect.status();
    EXPECT_EQ(inspect->descriptor.digest, digest);
    ASSERT_EQ(inspect->platforms.size(), 1u);
    EXPECT_EQ(inspect->platforms[0].String(), "linux/amd64");

    // Again: nothing to upload.
    std::vector<std::string> again;
    st = dist_->Push(*ref, {}, [&](const PullProgress& p) { again.push_back(p.status); });
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_NE(std::find(again.begin(), again.end(), "Layer already exists"), again.end());

    ASSERT_TRUE(images_->Remove(id, true).ok());
    std::vector<std::string> lines;
    auto back = dist_->Pull(*ref, {}, [&](const PullProgress& p) {
      lines.push_back(p.id.empty() ? p.status : p.id + ": " + p.status);
    });
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, id);  // the same image id
    EXPECT_NE(std::find(lines.begin(), lines.end(), "Digest: " + digest), lines.end());
    EXPECT_EQ(lines.back(), "Status: Downloaded newer image for " + name);

    // A tag the registry does not have, in Docker's words.
    auto missing = registry::ParseNormalized("127.0.0.1:5000/test/app:nope");
    ASSERT_TRUE(missing.ok());
    auto nope = dist_->Pull(*missing, {}, nullptr);
    EXPECT_EQ(nope.status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(nope.status().message(),
              "manifest for 127.0.0.1:5000/test/app:nope not found: manifest unknown: manifest "
              "unknown");
  });
  auto got = images_->Get(name);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->repo_digests.size(), 1u);
}

}  // namespace
}  // namespace berth::engine
