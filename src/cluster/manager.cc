#include "cluster/manager.h"

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace berth::cluster {
namespace {

// The leadership lease. etcd renews every lease to its full TTL after an etcd leader change, so
// a failover takes about the etcd election plus this (reference/etcd.md).
// The store's own timing is tighter than etcd's defaults (heartbeat 100 ms, election 1 s): the
// managers of a swarm are on one LAN, and a failover is the election plus this TTL (etcd's
// minimum TTL is 1.5 election timeouts).
constexpr std::chrono::seconds kLeaderTtl{1};
constexpr auto kKeepAliveEvery = std::chrono::milliseconds(250);
constexpr auto kEtcdHeartbeat = std::chrono::milliseconds(50);
constexpr auto kEtcdElection = std::chrono::milliseconds(500);
constexpr auto kRetryAfter = std::chrono::milliseconds(500);
constexpr auto kEtcdStartTimeout = std::chrono::seconds(20);

}  // namespace

Manager::Manager(ManagerConfig cfg) : cfg_(std::move(cfg)) {}

StatusOr<std::unique_ptr<Manager>> Manager::Start(ManagerConfig cfg) {
  std::unique_ptr<Manager> m(new Manager(std::move(cfg)));
  const NodeState& st = m->cfg_.state;
  etcd::MemberConfig mc;
  mc.binary = m->cfg_.etcd_binary;
  mc.name = st.node_id;
  mc.data_dir = m->cfg_.paths.etcd_dir();
  mc.log_file = m->cfg_.paths.etcd_log();
  mc.peer_ip = HostOf(st.advertise_addr);
  mc.peer_port = m->cfg_.etcd_peer_port;
  mc.client_port = m->cfg_.etcd_client_port;
  mc.ca_file = m->cfg_.paths.root_ca();
  mc.cert_file = m->cfg_.paths.node_cert();
  mc.key_file = m->cfg_.paths.node_key();
  mc.new_cluster = m->cfg_.new_cluster;
  // A member resuming from its data directory ignores the initial cluster; it names itself then.
  mc.initial_cluster = m->cfg_.initial_cluster.empty()
                           ? absl::StrCat(st.node_id, "=https://", mc.peer_ip, ":", mc.peer_port)
                           : m->cfg_.initial_cluster;
  mc.cluster_token = st.cluster_id;
  mc.heartbeat = kEtcdHeartbeat;
  mc.election = kEtcdElection;
  ASSIGN_OR_RETURN(m->member_, etcd::Member::Start(mc));
  if (m->cfg_.new_cluster || !m->cfg_.initial_cluster.empty()) {
    Status healthy = m->member_->WaitHealthy(kEtcdStartTimeout);
    if (!healthy.ok()) return Annotate(healthy, "start the cluster store (etcd)");
  }

  ASSIGN_OR_RETURN(auto client_tls, ClientTls(m->cfg_.paths));
  etcd::ClientOptions co;
  co.endpoints = {m->member_->ClientUrl()};
  co.tls = client_tls;
  co.server_name = "127.0.0.1";
  m->etcd_ = std::make_shared<etcd::Client>(co);
  m->store_ = std::make_unique<Store>(m->etcd_);
  m->dispatcher_ = std::make_unique<Dispatcher>(*m, *m->cfg_.clock);
  m->orchestrator_ = std::make_unique<OrchestratorRunner>(*m->store_, *m->cfg_.clock);
  {
    std::string key_path = m->cfg_.paths.data_key();
    StatusOr<SecretBox> box = m->cfg_.new_cluster ? SecretBox::Generate(key_path)
                                                  : SecretBox::Load(key_path);
    if (box.ok()) m->secret_box_ = std::move(*box);
    else spdlog::warn("swarm: no data key for secrets and configs: {}", box.status().ToString());
  }

  m->AddRoutes();
  ASSIGN_OR_RETURN(auto server_tls, ServerTls(m->cfg_.paths));
  api::ServerOptions so;
  so.tls = server_tls;
  // A node holds up to three connections here: its assignments long poll and two kept-alive
  // ones (rpc.cc's pool); a thread each.
  so.max_connections = 1024;
  so.max_body = 1 << 20;
  so.header_timeout = std::chrono::seconds(10);
  so.idle_timeout = std::chrono::seconds(30);
  m->server_ = std::make_unique<api::ApiServer>(m->router_, so);
  std::string listen = st.listen_addr.empty() ? "0.0.0.0:2377" : st.listen_addr;
  Status listening = m->server_->Listen("tcp://" + listen);
  if (!listening.ok()) return Annotate(listening, "listen on the cluster port");
  m->server_->Serve();

  // Who leads, as it changes (no polling).
  Manager* self = m.get();
  StatusOr<std::unique_ptr<etcd::Watch>> w = m->etcd_->WatchPrefix(
      Store::kLeaderKey, 0,
      [self](const std::vector<etcd::WatchEvent>& events, int64_t) {
        StateLock l(self->mu_);
        for (const etcd::WatchEvent& e : events) {
          if (e.kv.mod_revision < self->seen_revision_) continue;
          self->seen_revision_ = e.kv.mod_revision;
          if (e.type == etcd::WatchEvent::Type::kDelete) {
            self->seen_leader_.reset();
          } else {
            auto j = nlohmann::json::parse(e.kv.value, nullptr, false);
            if (j.is_object())
              self->seen_leader_ = LeaderRecord{j.value("node_id", ""), j.value("addr", "")};
          }
        }
        self->cv_.SignalAll();
      },
      [self](const Status& error) {
        spdlog::warn("swarm: the leader watch stopped: {}", error.ToString());
        StateLock l(self->mu_);
        self->cv_.SignalAll();
      });
  if (w.ok()) m->leader_watch_ = std::move(*w);
  else spdlog::warn("swarm: cannot watch the leader: {}", w.status().ToString());

  m->campaign_ = std::thread([self] { self->CampaignLoop(); });
  m->down_checker_ = std::thread([self] { self->CheckDownLoop(); });
  return m;
}

Manager::~Manager() { Stop(); }

void Manager::Stop() {
  bool was_leader = false;
  int64_t lease = 0;
  {
    StateLock l(mu_);
    if (stopping_ && !campaign_.joinable() && member_ == nullptr) return;
    stopping_ = true;
    was_leader = leader_;
    lease = lease_;
    cv_.SignalAll();
  }
  if (dispatcher_ != nullptr) dispatcher_->Shutdown();
  if (campaign_.joinable()) campaign_.join();
  if (down_checker_.joinable()) down_checker_.join();
  leader_watch_.reset();
  // Hand the leadership over at once rather than after the lease's TTL.
  if (was_leader && lease != 0 && etcd_ != nullptr) (void)etcd_->LeaseRevoke(lease);
  if (server_ != nullptr) server_->Stop();
  if (member_ != nullptr) member_->Stop();
  member_.reset();
}

StatusOr<std::string> Manager::Seal(std::string_view plain, std::string_view id) const {
  if (!secret_box_.has_value())
    return absl::FailedPreconditionError("this manager has no data key for secrets and configs");
  return secret_box_->Seal(plain, id);
}

StatusOr<std::string> Manager::OpenSealed(std::string_view sealed, std::string_view id) const {
  if (!secret_box_.has_value())
    return absl::FailedPreconditionError("this manager has no data key for secrets and configs");
  return secret_box_->Open(sealed, id);
}

std::string Manager::DataKey() const {
  return secret_box_.has_value() ? secret_box_->key() : std::string();
}

Store Manager::ReadStore() const {
  std::shared_ptr<MirrorSnapshot> snapshot;
  {
    // The mirror's own lock nests inside (it never takes this one), so that a reader never
    // holds the last reference to the mirror, whose destructor joins threads.
    StateLock l(mu_);
    if (mirror_ != nullptr) snapshot = mirror_->snapshot();
  }
  return snapshot != nullptr ? store_->Reading(std::move(snapshot)) : *store_;
}

bool Manager::IsLeader() const {
  StateLock l(mu_);
  return leader_;
}

std::optional<LeaderRecord> Manager::Leader() const {
  StateLock l(mu_);
  return seen_leader_;
}

Duration Manager::HeartbeatPeriod() {
  StatusOr<spec::ClusterInfo> c = store_->GetCluster();
  if (c.ok() && c->spec.dispatcher.heartbeat_period > 0)
    return std::chrono::nanoseconds(c->spec.dispatcher.heartbeat_period);
  return std::chrono::seconds(5);
}

void Manager::CampaignLoop() {
  const Clock& clock = *cfg_.clock;
  LeaderRecord me{cfg_.state.node_id, cfg_.state.advertise_addr};
  auto wait = [&](Duration d, const std::function<bool()>& until) {
    StateLock l(mu_);
    WaitFor(clock, mu_, cv_, d, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return stopping_ || until();
    });
    return !stopping_;
  };
  for (;;) {
    {
      StateLock l(mu_);
      if (stopping_) return;
    }
    StatusOr<int64_t> lease = etcd_->LeaseGrant(kLeaderTtl);
    if (!lease.ok()) {
      if (!wait(kRetryAfter, [] { return false; })) return;
      continue;
    }
    StatusOr<Store::CampaignResult> won = store_->Campaign(me, *lease);
    if (!won.ok() || !won->won) {
      (void)etcd_->LeaseRevoke(*lease);
      if (won.ok()) {
        // Someone leads: wait for the key to go (the watch says so). The answer and the watch
        // race; the newer revision wins. A long timeout covers a broken watch.
        {
          StateLock l(mu_);
          if (won->revision > seen_revision_) {
            seen_revision_ = won->revision;
            seen_leader_ = won->holder;
          }
        }
        if (!wait(std::chrono::seconds(5),
                  [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !seen_leader_.has_value(); }))
          return;
      } else if (!wait(kRetryAfter, [] { return false; })) {
        return;
      }
      continue;
    }
    {
      StateLock l(mu_);
      leader_ = true;
      lease_ = *lease;
      seen_leader_ = me;
    }
    spdlog::info("swarm: this manager ({}) is the leader", me.node_id);
    dispatcher_->BecomeLeader();
    std::shared_ptr<StoreMirror> mirror;
    {
      Dispatcher* d = dispatcher_.get();
      OrchestratorRunner* o = orchestrator_.get();
      mirror = std::make_shared<StoreMirror>(
          etcd_, Store::kSwarmPrefix, *cfg_.clock,
          [d, o](const std::vector<etcd::WatchEvent>& events, bool everything) {
            o->Poke();
            if (everything) return d->TasksChanged();
            std::vector<etcd::WatchEvent> tasks;
            bool other = false;
            for (const etcd::WatchEvent& ev : events) {
              if (absl::StartsWith(ev.kv.key, Store::kTasksPrefix)) {
                tasks.push_back(ev);
              } else {
                for (const char* p : {Store::kServicesPrefix, Store::kNetworksPrefix,
                                      Store::kAttachmentsPrefix, Store::kNodesPrefix})
                  other = other || absl::StartsWith(ev.kv.key, p);
              }
            }
            if (!tasks.empty()) d->TaskEvents(tasks);
            if (other) d->TasksChanged();
          });
      StateLock l(mu_);
      mirror_ = mirror;
    }
    orchestrator_->Start(*lease, mirror);
    for (;;) {
      if (!wait(kKeepAliveEvery, [] { return false; })) break;
      StatusOr<int64_t> ttl = etcd_->LeaseKeepAlive(*lease);
      if (!ttl.ok() || *ttl <= 0) {
        spdlog::warn("swarm: leadership lost: {}",
                     ttl.ok() ? std::string("lease expired") : ttl.status().ToString());
        break;
      }
    }
    orchestrator_->Stop();
    {
      StateLock l(mu_);
      mirror_.reset();
    }
    mirror.reset();  // the last reference (the runner has let go of its own): its threads end
    dispatcher_->LoseLeadership();
    {
      StateLock l(mu_);
      leader_ = false;
      lease_ = 0;
      if (stopping_) {
        lease_ = *lease;
        leader_ = true;  // Stop() revokes it
        return;
      }
    }
    (void)etcd_->LeaseRevoke(*lease);
  }
}

void Manager::CheckDownLoop() {
  for (;;) {
    Duration period = std::chrono::seconds(5);
    if (IsLeader()) {
      period = HeartbeatPeriod();
      dispatcher_->CheckDown(period);
    }
    StateLock l(mu_);
    // Checks four times per period, so Down comes within 3 periods of the last heartbeat.
    WaitFor(*cfg_.clock, mu_, cv_, period / 4,
            [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_; });
    if (stopping_) return;
  }
}

void Manager::AddRoutes() {
  Dispatcher* d = dispatcher_.get();
  router_.Add("POST", wire::kJoin, [d](api::Request& r, api::Conn& c) { d->HandleJoin(r, c); });
  router_.Add("POST", wire::kHeartbeat,
              [d](api::Request& r, api::Conn& c) { d->HandleHeartbeat(r, c); });
  router_.Add("POST", wire::kRenew, [d](api::Request& r, api::Conn& c) { d->HandleRenew(r, c); });
  router_.Add("POST", wire::kAssignments,
              [d](api::Request& r, api::Conn& c) { d->HandleAssignments(r, c); });
  router_.Add("POST", wire::kTaskStatus,
              [d](api::Request& r, api::Conn& c) { d->HandleTaskStatus(r, c); });
  router_.Add("POST", wire::kAttach, [d](api::Request& r, api::Conn& c) { d->HandleAttach(r, c); });
  router_.Add("POST", wire::kDetach, [d](api::Request& r, api::Conn& c) { d->HandleDetach(r, c); });
  if (cfg_.containers != nullptr) {
    task_logs_ =
        std::make_unique<NodeTaskLogs>(*cfg_.containers, cfg_.state.node_id, cfg_.state.cluster_id);
    NodeTaskLogs* logs = task_logs_.get();
    router_.Add("POST", kTaskLogsPath,
                [logs](api::Request& r, api::Conn& c) { logs->Handle(r, c); });
  }
}

StatusOr<std::string> Manager::AddEtcdMember(const std::string& node_id, const std::string& ip) {
  std::string url = absl::StrCat("https://", ip, ":", cfg_.etcd_peer_port);
  StatusOr<std::vector<etcd::MemberInfo>> list = etcd_->MemberList();
  if (!list.ok()) return StoreError(list.status(), "list the store's members");
  std::vector<etcd::MemberInfo> members;
  bool present = false;
  for (const etcd::MemberInfo& m : *list) {
    if (std::find(m.peer_urls.begin(), m.peer_urls.end(), url) != m.peer_urls.end()) present = true;
  }
  if (present) {
    members = *list;
  } else {
    // etcd refuses a reconfiguration until every member has been connected for 5 s ("unhealthy
    // cluster"), so a manager joining right after another waits for that.
    MonoTime until = cfg_.clock->Monotonic() + std::chrono::seconds(15);
    for (;;) {
      auto added = etcd_->MemberAdd(url);
      if (added.ok()) {
        members = added->second;
        break;
      }
      if (!absl::StrContains(added.status().message(), "unhealthy cluster") ||
          cfg_.clock->Monotonic() >= until)
        return StoreError(added.status(), "add a member to the store");
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  std::vector<std::string> parts;
  for (const etcd::MemberInfo& m : members) {
    if (m.peer_urls.empty()) continue;
    bool is_new = std::find(m.peer_urls.begin(), m.peer_urls.end(), url) != m.peer_urls.end();
    std::string name = is_new ? node_id : m.name;
    if (name.empty()) continue;  // another member added but not started yet
    parts.push_back(absl::StrCat(name, "=", m.peer_urls[0]));
  }
  return absl::StrJoin(parts, ",");
}

Status Manager::RemoveEtcdMember(const std::string& ip) {
  std::string url = absl::StrCat("https://", ip, ":", cfg_.etcd_peer_port);
  StatusOr<std::vector<etcd::MemberInfo>> list = etcd_->MemberList();
  if (!list.ok()) return StoreError(list.status(), "list the store's members");
  for (const etcd::MemberInfo& m : *list) {
    if (std::find(m.peer_urls.begin(), m.peer_urls.end(), url) != m.peer_urls.end()) {
      Status s = etcd_->MemberRemove(m.id);
      return s.ok() ? s : StoreError(s, "remove a member from the store");
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::cluster
