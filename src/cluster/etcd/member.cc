#include "cluster/etcd/member.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/transport/http_client.h"
#include "api/transport/tls.h"
#include "common/fd.h"
#include "sys/subprocess.h"

namespace berth::cluster::etcd {

using namespace std::chrono_literals;

namespace {

// A restart after a short life waits longer each time (an etcd that cannot start must not spin);
// one that ran this long starts over from the shortest wait.
constexpr auto kMinBackoff = 100ms;
constexpr auto kMaxBackoff = 5s;
constexpr auto kStableRun = 10s;

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int PidfdSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::string Ms(std::chrono::milliseconds d) { return std::to_string(d.count()); }

std::vector<std::string> Argv(const MemberConfig& c, const std::string& client_url,
                              const std::string& peer_url) {
  std::vector<std::string> a = {
      c.binary,
      "--name=" + c.name,
      "--data-dir=" + c.data_dir,
      "--listen-peer-urls=" + peer_url,
      "--initial-advertise-peer-urls=" + peer_url,
      "--listen-client-urls=" + client_url,
      "--advertise-client-urls=" + client_url,
      "--initial-cluster=" +
          (c.initial_cluster.empty() ? c.name + "=" + peer_url : c.initial_cluster),
      std::string("--initial-cluster-state=") + (c.new_cluster ? "new" : "existing"),
      "--cert-file=" + c.cert_file,
      "--key-file=" + c.key_file,
      "--trusted-ca-file=" + c.ca_file,
      "--client-cert-auth=true",
      "--peer-cert-file=" + c.cert_file,
      "--peer-key-file=" + c.key_file,
      "--peer-trusted-ca-file=" + c.ca_file,
      "--peer-client-cert-auth=true",
      "--heartbeat-interval=" + Ms(c.heartbeat),
      "--election-timeout=" + Ms(c.election),
      // The cluster's state is small (nodes, and later services and tasks): 256 MiB of backend
      // quota instead of 2 GiB, and snapshots every 10000 entries instead of 100000 keep a
      // member's memory and disk small and a new member's catch-up short.
      "--quota-backend-bytes=268435456",
      "--snapshot-count=10000",
      // The orchestrator writes a whole plan in one transaction (a thousand-task update is
      // some 2000 operations and about 2 MB).
      "--max-txn-ops=8192",
      "--max-request-bytes=16777216",
      // Old revisions are of no use to the cluster once watchers have them.
      std::string("--strict-reconfig-check=") + (c.strict_reconfig_check ? "true" : "false"),
      "--auto-compaction-mode=periodic",
      "--auto-compaction-retention=1h",
      "--logger=zap",
      "--log-outputs=stderr",
  };
  // etcd's own default token otherwise (a token only keeps two clusters' members apart).
  if (!c.cluster_token.empty()) a.push_back("--initial-cluster-token=" + c.cluster_token);
  return a;
}

}  // namespace

class Member::Supervisor {
 public:
  explicit Supervisor(const MemberConfig& cfg)
      : cfg_(cfg),
        client_url_(absl::StrCat("https://127.0.0.1:", cfg.client_port)),
        peer_url_(absl::StrCat(
            "https://",
            cfg.peer_ip.find(':') != std::string::npos ? "[" + cfg.peer_ip + "]" : cfg.peer_ip, ":",
            cfg.peer_port)) {}

  ~Supervisor() { Stop(5000ms); }

  // Starts the supervising thread and waits for its first spawn.
  Status Start() {
    thread_ = std::thread([this] { Run(); });
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&first_spawn_done_));
    return first_spawn_;
  }

  void Stop(std::chrono::milliseconds grace) {
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        stopping_ = true;
        // A signal is one system call; the pidfd cannot be closed under us meanwhile.
        if (pidfd_.valid()) PidfdSignal(pidfd_.get(), SIGTERM);
      }
      if (!mu_.AwaitWithTimeout(absl::Condition(&exited_), absl::Milliseconds(grace.count()))) {
        if (pidfd_.valid()) PidfdSignal(pidfd_.get(), SIGKILL);
      }
    }
    if (thread_.joinable()) thread_.join();
  }

  int pid() const {
    absl::MutexLock lock(&mu_);
    return pid_;
  }

  const std::string& client_url() const { return client_url_; }
  const std::string& peer_url() const { return peer_url_; }

 private:
  // Appends a line of our own to etcd's log (restarts are worth seeing there).
  void Note(int log_fd, std::string_view what) {
    std::string line =
        absl::StrCat(absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone()),
                     " berthd: ", Av(what), "\n");
    (void)!::write(log_fd, line.data(), line.size());
  }

  void Run() {
    auto backoff = std::chrono::milliseconds(kMinBackoff);
    bool first = true;
    for (;;) {
      UniqueFd log(::open(cfg_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
      Status st =
          log.valid() ? absl::OkStatus() : ErrnoStatus(errno, absl::StrCat("open ", cfg_.log_file));
      pid_t pid = -1;
      UniqueFd pidfd;
      if (st.ok()) {
        sys::SpawnOptions so;
        so.fds = {{1, log.get()}, {2, log.get()}};
        // etcd dies with berthd (this thread lives as long as the supervision): a berthd
        // restarted after kill -9 then finds the ports free and starts etcd on the same data.
        so.parent_death_signal = SIGKILL;
        auto spawned = sys::Spawn(Argv(cfg_, client_url_, peer_url_), so);
        if (spawned.ok()) {
          pid = *spawned;
          // A child that already exited is a zombie until we reap it: the pidfd is still valid.
          pidfd = UniqueFd(PidfdOpen(pid));
          if (!pidfd.valid()) st = ErrnoStatus(errno, "pidfd_open");
        } else {
          st = Annotate(spawned.status(), "start etcd");
        }
      }
      {
        absl::MutexLock lock(&mu_);
        if (first) {
          first_spawn_ = st;
          first_spawn_done_ = true;
        }
        if (st.ok()) {
          pid_ = pid;
          pidfd_ = std::move(pidfd);
          // Stop() came between the spawn and now: it had nothing to signal.
          if (stopping_) PidfdSignal(pidfd_.get(), SIGTERM);
        }
        if (first && !st.ok()) {
          exited_ = true;
          return;
        }
      }
      first = false;
      std::string how;
      auto started = std::chrono::steady_clock::now();
      if (pid > 0) {
        // Waits for this child alone (never another child of berthd's).
        auto code = sys::Wait(pid);
        how = code.ok() ? absl::StrCat("etcd (pid ", pid, ") exited with status ", *code)
                        : std::string(code.status().message());
      } else {
        how = std::string(st.message());
      }
      bool stopping;
      {
        absl::MutexLock lock(&mu_);
        pid_ = 0;
        pidfd_.reset();
        stopping = stopping_;
        if (stopping) exited_ = true;
      }
      if (stopping) return;
      if (std::chrono::steady_clock::now() - started > kStableRun) backoff = kMinBackoff;
      if (log.valid())
        Note(log.get(), absl::StrCat(how, "; restarting in ", backoff.count(), " ms"));
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(backoff.count()));
        if (stopping_) {
          exited_ = true;
          return;
        }
      }
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    }
  }

  const MemberConfig cfg_;
  const std::string client_url_;
  const std::string peer_url_;
  mutable absl::Mutex mu_;
  bool first_spawn_done_ ABSL_GUARDED_BY(mu_) = false;
  Status first_spawn_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool exited_ ABSL_GUARDED_BY(mu_) = false;
  pid_t pid_ ABSL_GUARDED_BY(mu_) = 0;
  UniqueFd pidfd_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

Member::Member(MemberConfig cfg) : cfg_(std::move(cfg)) {}

StatusOr<std::unique_ptr<Member>> Member::Start(MemberConfig cfg) {
  auto missing = [](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("etcd member: no ", Av(what)));
  };
  if (cfg.name.empty()) return missing("name");
  if (cfg.data_dir.empty()) return missing("data directory");
  if (cfg.log_file.empty()) return missing("log file");
  if (cfg.peer_ip.empty()) return missing("peer address");
  if (cfg.ca_file.empty() || cfg.cert_file.empty() || cfg.key_file.empty())
    return missing("CA, certificate or key file (etcd's traffic is TLS only)");
  if (cfg.peer_port <= 0 || cfg.peer_port > 65535 || cfg.client_port <= 0 ||
      cfg.client_port > 65535 || cfg.peer_port == cfg.client_port)
    return absl::InvalidArgumentError(absl::StrCat("etcd member: bad ports (peer ", cfg.peer_port,
                                                   ", client ", cfg.client_port, ")"));
  if (!cfg.new_cluster && cfg.initial_cluster.empty())
    return absl::InvalidArgumentError(
        "etcd member: joining an existing cluster needs the initial cluster list");
  if (cfg.heartbeat.count() <= 0 || cfg.election < 5 * cfg.heartbeat)
    return absl::InvalidArgumentError(
        absl::StrCat("etcd member: the election timeout (", cfg.election.count(),
                     " ms) must be at least 5 heartbeats (", cfg.heartbeat.count(), " ms)"));
  std::unique_ptr<Member> m(new Member(std::move(cfg)));
  m->sup_ = std::make_unique<Supervisor>(m->cfg_);
  RETURN_IF_ERROR(m->sup_->Start());
  return m;
}

Member::~Member() { Stop(); }

void Member::Stop(std::chrono::milliseconds grace) {
  if (sup_ != nullptr) sup_->Stop(grace);
}

int Member::pid() const { return sup_ != nullptr ? sup_->pid() : 0; }

std::string Member::ClientUrl() const {
  return absl::StrCat("https://127.0.0.1:", cfg_.client_port);
}

std::string Member::PeerUrl() const {
  return absl::StrCat(
      "https://",
      cfg_.peer_ip.find(':') != std::string::npos ? "[" + cfg_.peer_ip + "]" : cfg_.peer_ip, ":",
      cfg_.peer_port);
}

berth::Status Member::WaitHealthy(std::chrono::milliseconds timeout) {
  const auto deadline = transport::After(timeout);
  transport::TlsConfig tc;
  tc.ca_file = cfg_.ca_file;
  tc.cert_file = cfg_.cert_file;
  tc.key_file = cfg_.key_file;
  tc.verify_peer = true;
  ASSIGN_OR_RETURN(auto tls,
                   transport::TlsContext::Create(transport::TlsContext::Role::kClient, tc));
  http::HttpClient client(http::HttpOptions{.user_agent = "berthd"},
                          [tls](const http::Url&) -> StatusOr<http::HostTls> {
                            return http::HostTls{tls, true};
                          });
  ASSIGN_OR_RETURN(http::Url url, http::ParseUrl(ClientUrl() + "/health"));
  std::string last = "not started";
  // etcd has no readiness event to wait on; its client port is asked every 50 ms.
  for (;;) {
    http::Request req;
    req.url = url;
    req.deadline = std::min(deadline, transport::After(1000ms));
    auto resp = client.Send(req);
    if (resp.ok()) {
      auto body = (*resp)->ReadAll(64 * 1024);
      if (body.ok() && (*resp)->status() == 200 &&
          body->find("\"health\":\"true\"") != std::string::npos)
        return absl::OkStatus();
      last = body.ok() ? absl::StrCat("HTTP ", (*resp)->status(), ": ", *body)
                       : std::string(body.status().message());
    } else {
      last = std::string(resp.status().message());
    }
    if (transport::SteadyClock::now() + 50ms >= deadline) break;
    std::this_thread::sleep_for(50ms);
  }
  return absl::DeadlineExceededError(absl::StrCat("etcd member ", cfg_.name, " not healthy within ",
                                                  timeout.count(), " ms (", last, "); see ",
                                                  cfg_.log_file));
}

}  // namespace berth::cluster::etcd
