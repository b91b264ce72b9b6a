#include "cluster/cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cluster/cluster_impl.h"
#include "cluster/pki/pki.h"
#include "cluster/policy.h"
#include "cluster/rpc.h"
#include "cluster/secret_box.h"
#include "common/fd.h"
#include "spdlog/spdlog.h"
#include "spec/json/swarm_json.h"
#include "sys/fs.h"

namespace berth::cluster {
namespace {

constexpr int kClusterPort = 2377;
constexpr auto kReadyWait = std::chrono::seconds(15);

// A manager's answer to a joining or promoted manager carries the swarm's data key.
Status SaveDataKey(const NodePaths& paths, const nlohmann::json& reply) {
  std::string key;
  if (!reply.contains("data_key")) return absl::OkStatus();
  if (!absl::Base64Unescape(reply.value("data_key", ""), &key) || key.empty())
    return absl::OkStatus();  // the answering manager has none either
  return SecretBox::FromKey(key, paths.data_key()).status();
}

// The local address this node's packets to `remote` ("IP:PORT") leave from: Docker's choice of
// advertise address for a join without --advertise-addr. A UDP connect sends nothing.
StatusOr<std::string> LocalIpToward(const std::string& remote) {
  std::string host = HostOf(remote);
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(kClusterPort);
    len = sizeof *s4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(kClusterPort);
    len = sizeof *s6;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("invalid remote address ", remote));
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return absl::UnavailableError(absl::StrCat("no route to ", remote, ": ", std::strerror(errno)));
  sockaddr_storage local{};
  socklen_t llen = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &llen) != 0)
    return ErrnoStatus(errno, "getsockname");
  char text[INET6_ADDRSTRLEN] = {};
  const void* a = local.ss_family == AF_INET
                      ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                      : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
  ::inet_ntop(local.ss_family, a, text, sizeof text);
  return std::string(text);
}

// Refuses what Berth cannot honour and fills Docker's defaults (swarmkit's DefaultClusterConfig).
Status CheckAndDefaultSpec(spec::SwarmSpec* s) {
  RETURN_IF_ERROR(CheckSupportedSpec(*s));
  if (!s->ca_config.signing_ca_cert.empty() || !s->ca_config.signing_ca_key.empty())
    return absl::InvalidArgumentError(
        "Berth does not support a custom root CA (--ca-cert/--ca-key); the swarm makes its own");
  if (s->annotations.name.empty()) s->annotations.name = "default";
  if (!s->orchestration.task_history_retention_limit.has_value())
    s->orchestration.task_history_retention_limit = 5;
  if (s->raft.snapshot_interval == 0) s->raft.snapshot_interval = 10000;
  if (!s->raft.keep_old_snapshots.has_value()) s->raft.keep_old_snapshots = 0;
  if (s->raft.log_entries_for_slow_followers == 0) s->raft.log_entries_for_slow_followers = 500;
  if (s->raft.election_tick == 0) s->raft.election_tick = 10;
  if (s->raft.heartbeat_tick == 0) s->raft.heartbeat_tick = 1;
  if (s->dispatcher.heartbeat_period == 0) s->dispatcher.heartbeat_period = 5'000'000'000;
  if (s->ca_config.node_cert_expiry == 0)
    s->ca_config.node_cert_expiry = std::chrono::nanoseconds(pki::kDefaultNodeCertExpiry).count();
  return absl::OkStatus();
}

spec::TLSInfo TlsInfoOf(const pki::RootCa& root) {
  spec::TLSInfo t;
  t.trust_root = root.cert_pem();
  t.cert_issuer_subject = root.IssuerSubjectDer();
  t.cert_issuer_public_key = root.IssuerPublicKeyDer();
  return t;
}

}  // namespace

Cluster::Cluster(ClusterOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
Cluster::~Cluster() { Stop(); }

std::optional<NodeState> Cluster::Impl::state() const {
  StateLock l(mu_);
  return state_;
}

StatusOr<std::shared_ptr<Manager>> Cluster::Impl::RequireManager() {
  StateLock l(mu_);
  if (!state_.has_value()) return absl::UnavailableError(kNotInSwarm);
  if (manager_ == nullptr) return absl::UnavailableError(kNotManager);
  return manager_;
}

StatusOr<std::shared_ptr<Manager>> Cluster::Impl::StartManager(const NodeState& state,
                                                                bool new_cluster,
                                                                const std::string& initial) {
  ManagerConfig mc;
  mc.paths = paths_;
  mc.state = state;
  mc.clock = opts_.clock;
  mc.etcd_binary = opts_.etcd_binary;
  mc.etcd_client_port = opts_.etcd_client_port;
  mc.etcd_peer_port = opts_.etcd_peer_port;
  mc.new_cluster = new_cluster;
  mc.initial_cluster = initial;
  mc.containers = opts_.containers;
  ASSIGN_OR_RETURN(std::unique_ptr<Manager> m, Manager::Start(std::move(mc)));
  return std::shared_ptr<Manager>(std::move(m));
}

Status Cluster::Impl::StartAgent(const NodeState& state, Duration wait) {
  AgentConfig ac;
  ac.paths = paths_;
  ac.node_id = state.node_id;
  ac.managers = state.managers;
  ac.clock = opts_.clock;
  ac.description = opts_.description;
  ac.on_answer = [this](const HeartbeatAnswer& a) { OnHeartbeat(a); };
  if (opts_.containers != nullptr) {
    TaskRunnerConfig rc;
    rc.node_id = state.node_id;
    rc.containers = opts_.containers;
    rc.clock = opts_.clock;
    rc.ensure_image = opts_.ensure_image;
    rc.run_root = opts_.run_root;
    ac.tasks = std::move(rc);
  }
  ac.networks = opts_.networks;
  ac.vtep = HostOf(state.data_path_addr.empty() ? state.advertise_addr : state.data_path_addr);
  ASSIGN_OR_RETURN(std::unique_ptr<Agent> agent, Agent::Create(std::move(ac)));
  std::shared_ptr<Agent> shared(std::move(agent));
  if (wait > Duration::zero()) {
    // Init and join return once the node is Ready: its first heartbeat reached the leader (which
    // a new swarm's only manager becomes within moments).
    MonoTime until = opts_.clock->Monotonic() + wait;
    for (;;) {
      StatusOr<HeartbeatAnswer> a = shared->HeartbeatOnce();
      if (a.ok()) break;
      if (absl::IsPermissionDenied(a.status()) || opts_.clock->Monotonic() >= until)
        return Annotate(a.status(), "the node did not become ready");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  shared->Run();
  {
    StateLock l(mu_);
    agent_ = std::move(shared);
  }
  ScheduleRenewal();
  return absl::OkStatus();
}

void Cluster::Impl::StopAll() {
  std::shared_ptr<Agent> agent;
  std::shared_ptr<Manager> manager;
  {
    StateLock l(mu_);
    agent = std::move(agent_);
    manager = std::move(manager_);
  }
  if (agent != nullptr) agent->Stop();
  if (manager != nullptr) manager->Stop();
}

void Cluster::Impl::ScheduleRenewal() {
  std::optional<WallTime> at;
  if (StatusOr<std::string> pem = sys::ReadFile(paths_.node_cert()); pem.ok()) {
    StatusOr<pki::CertInfo> info = pki::ParseCert(*pem);
    if (info.ok()) at = pki::RenewalTime(info->not_before, info->not_after);
  }
  StateLock l(mu_);
  renew_at_ = at;
}

void Cluster::Impl::OnHeartbeat(const HeartbeatAnswer& a) {
  std::optional<NodeState> st = state();
  if (!st.has_value()) return;
  bool managers_changed = false;
  if (!a.managers.empty()) {
    managers_changed = a.managers.size() != st->managers.size();
    for (size_t i = 0; !managers_changed && i < a.managers.size(); ++i)
      managers_changed = a.managers[i].addr != st->managers[i].addr ||
                         a.managers[i].node_id != st->managers[i].node_id;
  }
  bool role_changed = !a.role.empty() && a.role != st->role;
  bool renewal_due = false;
  {
    StateLock l(mu_);
    renewal_due = renew_at_.has_value() && opts_.clock->Now() >= *renew_at_;
  }
  if (!managers_changed && !role_changed && !renewal_due) return;
  // Never wait for the operation lock here: Leave holds it while it stops this agent.
  if (!op_mu_.TryLock()) return;
  std::optional<NodeState> cur = state();
  if (cur.has_value() && managers_changed) {
    cur->managers = a.managers;
    if (Status s = SaveNodeState(paths_, *cur); !s.ok())
      spdlog::warn("swarm: cannot save the node state: {}", s.ToString());
    StateLock l(mu_);
    if (state_.has_value()) state_->managers = a.managers;
  }
  if (cur.has_value() && (role_changed || renewal_due)) {
    // A renewal is a role change to the same role: a new key and certificate.
    std::string role = role_changed ? a.role : cur->role;
    Status s = ChangeRole(role);
    if (!s.ok()) spdlog::warn("swarm: cannot renew the certificate as a {}: {}", role, s.ToString());
  }
  op_mu_.Unlock();
}

Status Cluster::Impl::ChangeRole(const std::string& role) {
  std::optional<NodeState> st = state();
  if (!st.has_value()) return absl::OkStatus();
  std::shared_ptr<Agent> agent;
  {
    StateLock l(mu_);
    agent = agent_;
  }
  ASSIGN_OR_RETURN(pki::NodeKey key, pki::NewNodeKey(st->node_id));
  ASSIGN_OR_RETURN(auto tls, ClientTls(paths_));
  RpcOptions opts;
  opts.tls = tls;
  Status last = absl::UnavailableError("no manager is known");
  std::vector<ManagerPeer> managers = agent != nullptr ? agent->managers() : st->managers;
  for (const ManagerPeer& m : managers) {
    StatusOr<RpcReply> r = Call(m.addr, wire::kRenew, {{"csr", key.csr_pem}}, opts);
    if (!r.ok()) {
      last = r.status();
      continue;
    }
    if (Status e = ReplyError(*r); !e.ok()) return e;
    std::string new_role = r->body.value("role", "");
    RETURN_IF_ERROR(SaveNodeCerts(paths_, r->body.value("root", ""), r->body.value("cert", ""),
                                  key.key_pem));
    RETURN_IF_ERROR(SaveDataKey(paths_, r->body));
    if (agent != nullptr) RETURN_IF_ERROR(agent->ReloadTls());
    NodeState next = *st;
    next.role = new_role;
    if (new_role == "manager" && st->role != "manager") {
      std::error_code ec;
      std::filesystem::remove_all(paths_.etcd_dir(), ec);
      if (next.listen_addr.empty()) next.listen_addr = "0.0.0.0:2377";
      ASSIGN_OR_RETURN(auto manager,
                       StartManager(next, false, r->body.value("initial_cluster", "")));
      StateLock l(mu_);
      manager_ = std::move(manager);
    } else if (new_role == "manager" && st->role == "manager") {
      // A renewal on a manager: its cluster port and etcd client take the new certificate on a
      // restart of the manager (its etcd member resumes from its data; leadership may move).
      std::shared_ptr<Manager> old;
      {
        StateLock l(mu_);
        old = std::move(manager_);
      }
      if (old != nullptr) old->Stop();
      ASSIGN_OR_RETURN(auto manager, StartManager(next, false, ""));
      StateLock l(mu_);
      manager_ = std::move(manager);
    } else if (new_role == "worker" && st->role == "manager") {
      std::shared_ptr<Manager> manager;
      {
        StateLock l(mu_);
        manager = std::move(manager_);
      }
      if (manager != nullptr) manager->Stop();
      std::error_code ec;
      std::filesystem::remove_all(paths_.etcd_dir(), ec);
      std::filesystem::remove(paths_.data_key(), ec);  // only managers keep the data key
    }
    RETURN_IF_ERROR(SaveNodeState(paths_, next));
    {
      StateLock l(mu_);
      state_ = next;
    }
    ScheduleRenewal();
    if (new_role != st->role) spdlog::info("swarm: this node is now a {}", new_role);
    else spdlog::info("swarm: renewed this node's certificate");
    return absl::OkStatus();
  }
  return last;
}

void Cluster::Start() {
  absl::MutexLock op(&impl_->op_mu_);
  StatusOr<NodeState> st = LoadNodeState(impl_->paths_);
  if (absl::IsNotFound(st.status())) return;
  auto fail = [this](const Status& s) {
    spdlog::error("swarm: cannot resume this node's swarm membership: {}", s.ToString());
    StateLock l(impl_->mu_);
    impl_->error_ = std::string(s.message());
  };
  if (!st.ok()) return fail(st.status());
  {
    StateLock l(impl_->mu_);
    impl_->state_ = *st;
  }
  if (st->role == "manager") {
    StatusOr<std::shared_ptr<Manager>> m = impl_->StartManager(*st, false, "");
    if (!m.ok()) return fail(m.status());
    StateLock l(impl_->mu_);
    impl_->manager_ = *m;
  }
  if (Status s = impl_->StartAgent(*st, Duration::zero()); !s.ok()) return fail(s);
  spdlog::info("swarm: resumed as a {} of swarm {} (node {})", st->role, st->cluster_id,
               st->node_id);
}

void Cluster::Stop() {
  absl::MutexLock op(&impl_->op_mu_);
  impl_->StopAll();
}

StatusOr<std::string> Cluster::Init(const spec::SwarmInitRequest& req) {
  Impl& d = *impl_;
  absl::MutexLock op(&d.op_mu_);
  if (d.state().has_value()) return absl::UnavailableError(kAlreadyInSwarm);
  if (req.force_new_cluster)
    return absl::InvalidArgumentError("Berth does not support --force-new-cluster");
  spec::SwarmSpec spec = req.spec;
  RETURN_IF_ERROR(CheckAndDefaultSpec(&spec));
  if (req.auto_lock_managers)
    return absl::InvalidArgumentError("Berth does not support autolock (--autolock)");
  ASSIGN_OR_RETURN(std::string availability, NormalizeAvailability(req.availability));
  uint32_t data_path_port = req.data_path_port == 0 ? 4789 : req.data_path_port;
  if (data_path_port < 1024 || data_path_port > 49151)
    return absl::InvalidArgumentError(absl::StrCat(
        "rpc error: code = InvalidArgument desc = datapath port ", data_path_port,
        " is not in the valid range 1024-49151"));
  if (req.default_addr_pool.has_value()) {
    for (const std::string& pool : *req.default_addr_pool) {
      size_t slash = pool.find('/');
      in_addr a{};
      int bits = -1;
      if (slash == std::string::npos ||
          ::inet_pton(AF_INET, pool.substr(0, slash).c_str(), &a) != 1 ||
          !absl::SimpleAtoi(pool.substr(slash + 1), &bits) || bits < 0 || bits > 32)
        return absl::InvalidArgumentError(
            absl::StrCat("rpc error: code = InvalidArgument desc = invalid default address pool ",
                         pool));
    }
  }
  uint32_t subnet_size = req.subnet_size == 0 ? 24 : req.subnet_size;
  if (subnet_size > 29 || subnet_size < 8)
    return absl::InvalidArgumentError(
        absl::StrCat("invalid subnet size ", subnet_size, ": it must be between 8 and 29"));

  ASSIGN_OR_RETURN(std::string listen,
                   WithPort(req.listen_addr.empty() ? "0.0.0.0:2377" : req.listen_addr,
                            kClusterPort));
  int listen_port = std::stoi(listen.substr(listen.rfind(':') + 1));
  std::string advertise;
  if (!req.advertise_addr.empty()) {
    ASSIGN_OR_RETURN(advertise, WithPort(req.advertise_addr, listen_port));
  } else if (HostOf(listen) != "0.0.0.0" && HostOf(listen) != "::") {
    advertise = listen;
  } else {
    ASSIGN_OR_RETURN(std::string ip, DefaultAdvertiseIp());
    advertise = absl::StrCat(ip, ":", listen_port);
  }
  std::string ip = HostOf(advertise);

  WallTime now = d.opts_.clock->Now();
  ASSIGN_OR_RETURN(pki::RootCa root, pki::RootCa::Create(now));
  NodeState st;
  st.node_id = pki::NewTokenSecret();
  st.cluster_id = pki::NewTokenSecret();
  st.role = "manager";
  st.advertise_addr = advertise;
  st.listen_addr = listen;
  st.data_path_addr = req.data_path_addr;
  st.managers = {{st.node_id, advertise}};
  ASSIGN_OR_RETURN(pki::NodeKey key, pki::NewNodeKey(st.node_id));
  ASSIGN_OR_RETURN(std::string cert,
                   SignNodeCertificate(root, key.csr_pem, st.node_id, "manager", st.cluster_id, ip,
                                       spec.ca_config.node_cert_expiry, now));
  auto undo = [&d](const Status& s) {
    (void)WipeNodeState(d.paths_);
    return s;
  };
  if (Status s = SaveNodeCerts(d.paths_, root.cert_pem(), cert, key.key_pem); !s.ok())
    return undo(s);
  StatusOr<std::shared_ptr<Manager>> manager = d.StartManager(st, true, "");
  if (!manager.ok()) return undo(manager.status());

  int64_t t = UnixNanos(now);
  spec::ClusterInfo info;
  info.id = st.cluster_id;
  info.meta.created_at = t;
  info.meta.updated_at = t;
  info.spec = spec;
  info.tls_info = TlsInfoOf(root);
  info.default_addr_pool = req.default_addr_pool;
  if (info.default_addr_pool.has_value() && info.default_addr_pool->empty())
    info.default_addr_pool.reset();
  info.subnet_size = subnet_size;
  info.data_path_port = data_path_port;
  spec::Node node;
  node.id = st.node_id;
  node.meta.created_at = t;
  node.meta.updated_at = t;
  node.spec.role = "manager";
  node.spec.availability = availability;
  node.description = d.opts_.description;
  node.description.tls_info = info.tls_info;
  node.status.state = "unknown";
  node.status.addr = ip;
  node.manager_status = spec::ManagerStatus{false, "", advertise};
  TokenSecrets tokens{pki::NewTokenSecret(), pki::NewTokenSecret()};
  Status boot = (*manager)->store().Bootstrap(info, {root.cert_pem(), root.key_pem()}, tokens, node);
  if (boot.ok()) boot = CreateIngressNetwork((*manager)->store(), *d.opts_.clock);
  if (boot.ok()) boot = SaveNodeState(d.paths_, st);
  if (!boot.ok()) {
    (*manager)->Stop();
    return undo(boot);
  }
  {
    StateLock l(d.mu_);
    d.state_ = st;
    d.manager_ = *manager;
  }
  if (Status s = d.StartAgent(st, kReadyWait); !s.ok()) {
    d.StopAll();
    {
      StateLock l(d.mu_);
      d.state_.reset();
    }
    return undo(s);
  }
  spdlog::info("swarm: initialised swarm {} with this node ({}) as its manager", st.cluster_id,
               st.node_id);
  return st.node_id;
}

Status Cluster::Join(const spec::SwarmJoinRequest& req) {
  Impl& d = *impl_;
  absl::MutexLock op(&d.op_mu_);
  if (d.state().has_value()) return absl::UnavailableError(kAlreadyInSwarm);
  ASSIGN_OR_RETURN(pki::JoinToken token, pki::ParseJoinToken(req.join_token));
  if (!req.remote_addrs.has_value() || req.remote_addrs->empty())
    return absl::InvalidArgumentError("at least 1 RemoteAddr is required to join");
  ASSIGN_OR_RETURN(std::string availability, NormalizeAvailability(req.availability));
  ASSIGN_OR_RETURN(std::string listen,
                   WithPort(req.listen_addr.empty() ? "0.0.0.0:2377" : req.listen_addr,
                            kClusterPort));
  int listen_port = std::stoi(listen.substr(listen.rfind(':') + 1));
  ASSIGN_OR_RETURN(pki::NodeKey key, pki::NewNodeKey(""));

  // The joining node has no CA yet: it connects without verifying, and checks that the root the
  // manager shows is the one its token names before sending the token.
  transport::TlsConfig tc;
  ASSIGN_OR_RETURN(auto tls, transport::TlsContext::Create(transport::TlsContext::Role::kClient, tc));
  RpcOptions opts;
  opts.tls = tls;
  opts.timeout = std::chrono::seconds(20);
  std::string root_seen;
  opts.check_peer = [&token, &root_seen](const transport::PeerIdentity& peer) -> Status {
    if (peer.chain_pem.empty())
      return absl::PermissionDeniedError("the manager showed no certificate");
    const std::string& root = peer.chain_pem.back();
    Status s = pki::CheckRootAgainstToken(token, root);
    if (!s.ok())
      return absl::PermissionDeniedError(
          "remote CA does not match fingerprint. Expected: " + token.ca_digest);
    root_seen = root;
    return absl::OkStatus();
  };
  Status last = absl::UnavailableError("no manager to join");
  for (const std::string& remote_given : *req.remote_addrs) {
    ASSIGN_OR_RETURN(std::string remote, WithPort(remote_given, kClusterPort));
    std::string advertise;
    if (!req.advertise_addr.empty()) {
      ASSIGN_OR_RETURN(advertise, WithPort(req.advertise_addr, listen_port));
    } else {
      ASSIGN_OR_RETURN(std::string ip, LocalIpToward(remote));
      advertise = absl::StrCat(ip, ":", listen_port);
    }
    spec::Node me;
    me.description = d.opts_.description;
    nlohmann::json body = {{"token", req.join_token},   {"csr", key.csr_pem},
                           {"advertise_addr", advertise}, {"availability", availability},
                           {"node", spec::RenderNode(me)}};
    StatusOr<RpcReply> r = Call(remote, wire::kJoin, body, opts);
    if (!r.ok()) {
      last = r.status();
      if (absl::IsPermissionDenied(last)) return last;
      continue;
    }
    RETURN_IF_ERROR(ReplyError(*r));
    NodeState st;
    st.node_id = r->body.value("node_id", "");
    st.cluster_id = r->body.value("cluster_id", "");
    st.role = r->body.value("role", "");
    st.advertise_addr = advertise;
    st.listen_addr = listen;
    st.data_path_addr = req.data_path_addr;
    if (r->body.contains("managers") && r->body["managers"].is_array())
      for (const auto& m : r->body["managers"])
        st.managers.push_back({m.value("node_id", ""), m.value("addr", "")});
    if (st.managers.empty()) st.managers.push_back({"", remote});
    std::string root = r->body.value("root", "");
    if (root != root_seen)
      return absl::PermissionDeniedError("the manager answered with another root CA");
    auto undo = [&d](const Status& s) {
      (void)WipeNodeState(d.paths_);
      return s;
    };
    if (Status s = SaveNodeCerts(d.paths_, root, r->body.value("cert", ""), key.key_pem); !s.ok())
      return undo(s);
    if (Status s = SaveDataKey(d.paths_, r->body); !s.ok()) return undo(s);
    if (st.role == "manager") {
      StatusOr<std::shared_ptr<Manager>> m =
          d.StartManager(st, false, r->body.value("initial_cluster", ""));
      if (!m.ok()) return undo(m.status());
      StateLock l(d.mu_);
      d.manager_ = *m;
    }
    if (Status s = SaveNodeState(d.paths_, st); !s.ok()) {
      d.StopAll();
      return undo(s);
    }
    {
      StateLock l(d.mu_);
      d.state_ = st;
    }
    if (Status s = d.StartAgent(st, kReadyWait); !s.ok()) {
      d.StopAll();
      {
        StateLock l(d.mu_);
        d.state_.reset();
      }
      return undo(s);
    }
    spdlog::info("swarm: joined swarm {} as a {} (node {})", st.cluster_id, st.role, st.node_id);
    return absl::OkStatus();
  }
  return last;
}

Status Cluster::Leave(bool force) {
  Impl& d = *impl_;
  absl::MutexLock op(&d.op_mu_);
  std::optional<NodeState> st = d.state();
  if (!st.has_value()) return absl::UnavailableError(kNotInSwarm);
  std::shared_ptr<Manager> manager;
  std::shared_ptr<Agent> agent;
  {
    StateLock l(d.mu_);
    manager = d.manager_;
    agent = d.agent_;
  }
  if (manager != nullptr) {
    // Docker's arithmetic (daemon/cluster/swarm.go): who else could keep the quorum?
    int reachable = 0, unreachable = 0;
    StatusOr<std::vector<spec::Node>> nodes = manager->store().ListNodes();
    bool active = nodes.ok();
    if (nodes.ok()) {
      for (const spec::Node& n : *nodes) {
        if (n.spec.role != "manager") continue;
        if (n.status.state == "ready" || n.id == st->node_id) ++reachable;
        else ++unreachable;
      }
    }
    if (!force) {
      std::string msg =
          "You are attempting to leave the swarm on a node that is participating as a manager. ";
      if (active) {
        int total = reachable + unreachable;
        if (reachable - 2 <= unreachable) {
          if (reachable == 1 && unreachable == 0) {
            msg += "Removing the last manager erases all current state of the swarm. Use "
                   "`--force` to ignore this message. ";
            return absl::UnavailableError(msg);
          }
          msg += absl::StrCat("Removing this node leaves ", reachable - 1, " managers out of ",
                              total, ". Without a Raft quorum your swarm will be inaccessible. ");
        }
      } else {
        msg += "Doing so may lose the consensus of your cluster. ";
      }
      msg += "The only way to restore a swarm that has lost consensus is to reinitialize it with "
             "`--force-new-cluster`. Use `--force` to suppress this message.";
      return absl::UnavailableError(msg);
    }
    if (active && reachable + unreachable > 1) {
      Status s = manager->RemoveEtcdMember(HostOf(st->advertise_addr));
      if (!s.ok()) spdlog::warn("swarm: leaving without leaving the store: {}", s.ToString());
    }
  }
  if (agent != nullptr) {
    agent->Stop();  // first: a regular heartbeat must not follow the leaving one
    (void)agent->HeartbeatOnce(/*leaving=*/true);
    agent->RemoveAllTasks();  // Docker removes a leaving node's task containers
  }
  // The swarm's networks leave with it (each once nothing of this node is on it any more).
  if (d.opts_.networks != nullptr) {
    if (Status s = d.opts_.networks->SetMesh({}); !s.ok())
      spdlog::warn("swarm: removing the routing mesh: {}", s.ToString());
    if (Status s = d.opts_.networks->SetSwarmNetworks({}); !s.ok())
      spdlog::warn("swarm: removing the swarm networks: {}", s.ToString());
  }
  d.StopAll();
  Status wiped = WipeNodeState(d.paths_);
  StateLock l(d.mu_);
  d.state_.reset();
  d.error_.clear();
  return wiped;
}

}  // namespace berth::cluster
