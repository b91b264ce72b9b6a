#include "cluster/agent.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cluster/manager.h"
#include "cluster/pki/pki.h"
#include "cluster/rpc.h"
#include "spdlog/spdlog.h"
#include "spec/json/service_json.h"
#include "spec/json/swarm_json.h"
#include "sys/fs.h"

namespace berth::cluster {

StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentConfig cfg) {
  std::unique_ptr<Agent> a(new Agent(std::move(cfg)));
  RETURN_IF_ERROR(a->ReloadTls());
  if (a->cfg_.tasks.has_value()) {
    TaskRunnerConfig rc = *a->cfg_.tasks;
    Agent* self = a.get();
    rc.report = [self](const std::vector<TaskStatusUpdate>& u) { self->QueueReports(u); };
    ASSIGN_OR_RETURN(a->runner_, TaskRunner::Create(std::move(rc)));
  }
  StateLock l(a->mu_);
  a->managers_ = a->cfg_.managers;
  return a;
}

Agent::~Agent() { Stop(); }

Status Agent::ReloadTls() {
  ASSIGN_OR_RETURN(auto tls, ClientTls(cfg_.paths));
  {
    StateLock l(mu_);
    tls_ = std::move(tls);
  }
  SyncLogServer();
  return absl::OkStatus();
}

void Agent::SyncLogServer(bool stop) {
  engine::ContainerService* containers = cfg_.tasks.has_value() ? cfg_.tasks->containers : nullptr;
  std::string pem;
  StatusOr<pki::CertInfo> cert = absl::NotFoundError("no certificate");
  if (!stop && containers != nullptr) {
    StatusOr<std::string> text = sys::ReadFile(cfg_.paths.node_cert());
    if (text.ok()) {
      pem = *text;
      cert = pki::ParseCert(pem);
    }
  }
  // The node's IP, as its certificate names it (a manager's also names 127.0.0.1).
  std::string ip;
  if (cert.ok())
    for (const std::string& a : cert->ip_addresses)
      if (ip.empty() && a != "127.0.0.1") ip = a;
  bool want = cert.ok() && cert->identity.role == pki::kWorkerRole && !ip.empty();

  absl::MutexLock l(&server_mu_);
  if (stop) log_server_stopped_ = true;
  if (log_server_ != nullptr && (!want || log_server_stopped_ || pem != log_server_cert_)) {
    log_server_->Stop();
    log_server_.reset();
  }
  if (!want || log_server_stopped_ || log_server_ != nullptr) return;
  if (task_logs_ == nullptr) {
    task_logs_ =
        std::make_unique<NodeTaskLogs>(*containers, cfg_.node_id, cert->identity.cluster_id);
    NodeTaskLogs* h = task_logs_.get();
    log_router_.Add("POST", kTaskLogsPath, [h](api::Request& r, api::Conn& c) { h->Handle(r, c); });
  }
  std::unique_ptr<api::ApiServer> server;
  StatusOr<std::shared_ptr<const transport::TlsContext>> tls = ServerTls(cfg_.paths);
  Status started = tls.status();
  if (tls.ok()) {
    api::ServerOptions so;
    so.tls = *tls;
    so.max_connections = 32;
    so.max_body = 1 << 20;
    so.header_timeout = std::chrono::seconds(10);
    so.idle_timeout = std::chrono::seconds(30);
    server = std::make_unique<api::ApiServer>(log_router_, so);
    started =
        server->Listen(ip.find(':') != std::string::npos ? absl::StrCat("tcp://[", ip, "]:2377")
                                                         : absl::StrCat("tcp://", ip, ":2377"));
  }
  if (!started.ok()) {
    // Once per cause: after a demotion the manager may hold the port for a while.
    if (std::string(started.message()) != log_server_error_)
      spdlog::warn("swarm: cannot serve task logs on the cluster port: {}", started.ToString());
    log_server_error_ = std::string(started.message());
    return;
  }
  server->Serve();
  log_server_ = std::move(server);
  log_server_cert_ = pem;
  log_server_error_.clear();
}

void Agent::Run() {
  thread_ = std::thread([this] { Loop(); });
  if (runner_ != nullptr) {
    if (Status s = runner_->Start(); !s.ok())
      spdlog::warn("swarm: the task runner could not adopt this node's tasks: {}", s.ToString());
    assign_thread_ = std::thread([this] { AssignLoop(); });
    report_thread_ = std::thread([this] { ReportLoop(); });
  }
}

void Agent::Stop() {
  {
    StateLock l(mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  std::shared_ptr<RpcCancel> poll;
  {
    StateLock l(mu_);
    poll = poll_cancel_;
  }
  if (poll != nullptr) poll->Cancel();
  for (std::thread* t : {&thread_, &assign_thread_, &report_thread_})
    if (t->joinable() && t->get_id() != std::this_thread::get_id()) t->join();
  SyncLogServer(/*stop=*/true);
  if (runner_ != nullptr) runner_->Stop();
}

void Agent::RemoveAllTasks() {
  if (runner_ != nullptr) runner_->RemoveAll();
}

std::vector<std::string> Agent::Targets() const {
  std::vector<std::string> targets;
  StateLock l(mu_);
  if (!leader_addr_.empty()) targets.push_back(leader_addr_);
  for (const ManagerPeer& m : managers_)
    if (std::find(targets.begin(), targets.end(), m.addr) == targets.end())
      targets.push_back(m.addr);
  return targets;
}

void Agent::QueueReports(const std::vector<TaskStatusUpdate>& updates) {
  StateLock l(mu_);
  // Only the latest status of a task matters (the leader takes states forward only), so the
  // queue stays bounded by the number of tasks however long the leader is out of reach.
  for (const TaskStatusUpdate& u : updates) {
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [&](const TaskStatusUpdate& p) { return p.task_id == u.task_id; });
    if (it != pending_.end()) pending_.erase(it);
    pending_.push_back(u);
  }
  cv_.SignalAll();
}

namespace {

StatusOr<std::vector<TaskAssignment>> ParseAssignments(const nlohmann::json& list) {
  std::vector<TaskAssignment> out;
  if (!list.is_array()) return absl::InvalidArgumentError("assignments: not a list");
  auto payloads = [](const nlohmann::json& arr) {
    std::vector<TaskPayload> v;
    if (!arr.is_array()) return v;
    for (const nlohmann::json& p : arr) {
      TaskPayload t{p.value("id", ""), p.value("name", ""), ""};
      (void)absl::Base64Unescape(p.value("data", ""), &t.data);
      v.push_back(std::move(t));
    }
    return v;
  };
  for (const nlohmann::json& a : list) {
    ASSIGN_OR_RETURN(spec::Task task, spec::ParseTask(a.value("task", nlohmann::json()).dump()));
    TaskAssignment ta;
    ta.task = std::move(task);
    ta.service_name = a.value("service_name", "");
    ta.registry_auth = a.value("registry_auth", "");
    ta.dnsrr = a.value("endpoint_mode", "vip") == "dnsrr";
    for (const nlohmann::json& p : a.value("host_ports", nlohmann::json::array())) {
      spec::ServicePortConfig pc;
      pc.protocol = p.value("protocol", "tcp");
      pc.target_port = p.value("target", 0u);
      pc.published_port = p.value("published", 0u);
      pc.publish_mode = "host";
      ta.host_ports.push_back(std::move(pc));
    }
    ta.secrets = payloads(a.value("secrets", nlohmann::json()));
    ta.configs = payloads(a.value("configs", nlohmann::json()));
    out.push_back(std::move(ta));
  }
  return out;
}

}  // namespace

void Agent::ApplyNetworks(const nlohmann::json& networks, const nlohmann::json& mesh) {
  if (cfg_.networks == nullptr || !networks.is_array()) return;
  std::vector<network::SwarmNetworkSpec> wanted;
  std::vector<std::pair<std::string, std::vector<network::OverlayPeer>>> peers;
  for (const nlohmann::json& n : networks) {
    wanted.push_back(ParseSwarmNetworkSpec(n.value("network", nlohmann::json::object())));
    std::vector<network::OverlayPeer> list;
    for (const nlohmann::json& p : n.value("peers", nlohmann::json::array()))
      list.push_back({p.value("ip", ""), p.value("mac", ""), p.value("vtep", ""),
                      p.value("names", std::vector<std::string>{})});
    peers.emplace_back(wanted.back().id, std::move(list));
  }
  if (Status s = cfg_.networks->SetVtep(cfg_.vtep); !s.ok())
    spdlog::warn("swarm: overlay underlay address {}: {}", cfg_.vtep, s.ToString());
  if (Status s = cfg_.networks->SetSwarmNetworks(wanted); !s.ok())
    spdlog::warn("swarm: swarm networks: {}", s.ToString());
  for (const auto& [id, list] : peers)
    if (Status s = cfg_.networks->SetPeers(id, list); !s.ok())
      spdlog::warn("swarm: peers of network {}: {}", id, s.ToString());
  // After the networks and their peers: the ingress endpoint sits on the ingress network.
  if (Status s = cfg_.networks->SetMesh(ParseMeshSpec(mesh)); !s.ok())
    spdlog::warn("swarm: routing mesh: {}", s.ToString());
}

StatusOr<RpcReply> Agent::CallLeader(std::string_view path, const nlohmann::json& body) {
  RpcOptions opts;
  {
    StateLock l(mu_);
    opts.tls = tls_;
  }
  opts.timeout = std::chrono::seconds(10);
  Status last = absl::UnavailableError(kNoLeaderMessage);
  for (const std::string& target : Targets()) {
    StatusOr<RpcReply> r = Call(target, path, body, opts);
    if (!r.ok()) {
      last = r.status();
      continue;
    }
    if (r->status >= 400) return ReplyError(*r);
    if (r->body.value("leader", false)) return r;
    std::string leader = r->body.value("leader_addr", "");
    if (!leader.empty()) {
      StatusOr<RpcReply> again = Call(leader, path, body, opts);
      if (again.ok() && again->status >= 400) return ReplyError(*again);
      if (again.ok() && again->body.value("leader", false)) return again;
    }
  }
  return last;
}

StatusOr<SwarmAttachment> Agent::Attach(const std::string& network,
                                        const std::string& container_id,
                                        const std::string& container_name) {
  ASSIGN_OR_RETURN(RpcReply r, CallLeader(wire::kAttach, {{"network", network},
                                                           {"container_id", container_id},
                                                           {"container_name", container_name}}));
  SwarmAttachment a;
  a.network = ParseSwarmNetworkSpec(r.body.value("network", nlohmann::json::object()));
  a.attachment_id = r.body.value("attachment_id", "");
  a.ip = r.body.value("ip", "");
  if (a.network.id.empty() || a.ip.empty())
    return absl::InternalError("attach: the leader's answer has no network or address");
  return a;
}

Status Agent::Detach(const std::string& container_id) {
  return CallLeader(wire::kDetach, {{"container_id", container_id}}).status();
}

void Agent::AssignLoop() {
  std::string digest;
  std::string last_leader;
  for (;;) {
    std::vector<std::string> targets = Targets();
    RpcOptions opts;
    {
      StateLock l(mu_);
      if (stop_) return;
      opts.tls = tls_;
    }
    opts.timeout = std::chrono::seconds(25);  // the dispatcher answers within 15 s
    bool got = false;
    for (const std::string& target : targets) {
      {
        StateLock l(mu_);
        if (stop_) return;
        poll_cancel_ = std::make_shared<RpcCancel>();
        poll_target_ = target;
        opts.cancel = poll_cancel_;
      }
      MonoTime asked = cfg_.clock->Monotonic();
      StatusOr<RpcReply> r = Call(target, wire::kAssignments, {{"digest", digest}}, opts);
      if (!r.ok() || r->status >= 400 || !r->body.value("leader", false)) continue;
      if (r->body.value("digest", "") == digest &&
          cfg_.clock->Monotonic() - asked < std::chrono::seconds(1)) {
        // An unchanged set at once (the dispatcher is stepping down): do not spin.
        StateLock l(mu_);
        WaitFor(*cfg_.clock, mu_, cv_, std::chrono::milliseconds(500),
                [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; });
      }
      StatusOr<std::vector<TaskAssignment>> set = ParseAssignments(r->body["assignments"]);
      if (!set.ok()) {
        spdlog::warn("swarm: bad assignment set from {}: {}", target, set.status().ToString());
        continue;
      }
      digest = r->body.value("digest", "");
      ApplyNetworks(r->body.value("networks", nlohmann::json::array()),
                    r->body.value("mesh", nlohmann::json::object()));
      runner_->Assign(std::move(*set));
      if (target != last_leader) {
        // A new leader: it gets every status again (a report to the old one may be lost).
        last_leader = target;
        QueueReports(runner_->Statuses());
      }
      got = true;
      break;
    }
    if (!got) {
      StateLock l(mu_);
      WaitFor(*cfg_.clock, mu_, cv_, std::chrono::milliseconds(500),
              [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; });
      if (stop_) return;
    }
  }
}

void Agent::ReportLoop() {
  for (;;) {
    std::vector<TaskStatusUpdate> batch;
    RpcOptions opts;
    {
      StateLock l(mu_);
      WaitFor(*cfg_.clock, mu_, cv_, std::chrono::seconds(5),
              [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_ || !pending_.empty(); });
      if (stop_) return;
      if (pending_.empty()) continue;
      size_t n = std::min<size_t>(pending_.size(), 200);
      batch.assign(pending_.begin(), pending_.begin() + static_cast<long>(n));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(n));
      opts.tls = tls_;
    }
    opts.timeout = std::chrono::seconds(5);
    nlohmann::json updates = nlohmann::json::array();
    for (const TaskStatusUpdate& u : batch) {
      spec::Task t;
      t.id = u.task_id;
      t.status = u.status;
      updates.push_back(nlohmann::json::parse(spec::RenderTask(t).dump()));
    }
    bool sent = false;
    for (const std::string& target : Targets()) {
      StatusOr<RpcReply> r = Call(target, wire::kTaskStatus, {{"updates", updates}}, opts);
      if (r.ok() && r->status < 400 && r->body.value("leader", false)) {
        sent = true;
        break;
      }
    }
    if (!sent) {
      StateLock l(mu_);
      // Back in front, unless a newer status of the same task came meanwhile.
      std::vector<TaskStatusUpdate> keep;
      for (const TaskStatusUpdate& u : batch)
        if (std::none_of(pending_.begin(), pending_.end(),
                         [&](const TaskStatusUpdate& p) { return p.task_id == u.task_id; }))
          keep.push_back(u);
      pending_.insert(pending_.begin(), keep.begin(), keep.end());
      WaitFor(*cfg_.clock, mu_, cv_, std::chrono::milliseconds(500),
              [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; });
      if (stop_) return;
    }
  }
}

std::vector<ManagerPeer> Agent::managers() const {
  StateLock l(mu_);
  return managers_;
}

std::string Agent::last_error() const {
  StateLock l(mu_);
  return last_error_;
}

StatusOr<HeartbeatAnswer> Agent::HeartbeatOnce(bool leaving) {
  std::vector<std::string> targets;
  RpcOptions opts;
  {
    StateLock l(mu_);
    if (!leader_addr_.empty()) targets.push_back(leader_addr_);
    for (const ManagerPeer& m : managers_)
      if (std::find(targets.begin(), targets.end(), m.addr) == targets.end())
        targets.push_back(m.addr);
    opts.tls = tls_;
  }
  opts.timeout = std::chrono::seconds(3);
  spec::Node me;
  me.id = cfg_.node_id;
  me.description = cfg_.description;
  nlohmann::json body = {{"node", spec::RenderNode(me)}, {"leaving", leaving}};
  Status last = absl::UnavailableError("no manager is known");
  for (size_t i = 0; i < targets.size() && i < 8; ++i) {
    StatusOr<RpcReply> r = Call(targets[i], wire::kHeartbeat, body, opts);
    if (!r.ok()) {
      last = r.status();
      continue;
    }
    if (r->status >= 400) {
      last = ReplyError(*r);
      if (absl::IsPermissionDenied(last)) break;  // removed, or not of this swarm
      continue;
    }
    if (!r->body.value("leader", false)) {
      std::string leader = r->body.value("leader_addr", "");
      if (!leader.empty() && std::find(targets.begin(), targets.end(), leader) == targets.end())
        targets.insert(targets.begin() + static_cast<long>(i) + 1, leader);
      else if (!leader.empty() && leader != targets[i])
        targets.insert(targets.begin() + static_cast<long>(i) + 1, leader);
      last = absl::UnavailableError(absl::StrCat(targets[i], " is not the leader"));
      continue;
    }
    HeartbeatAnswer a;
    a.role = r->body.value("role", "");
    a.period = std::chrono::nanoseconds(r->body.value("period_ns", int64_t{5'000'000'000}));
    a.leader_addr = targets[i];
    if (r->body.contains("managers") && r->body["managers"].is_array()) {
      for (const auto& m : r->body["managers"])
        a.managers.push_back({m.value("node_id", ""), m.value("addr", "")});
    }
    std::shared_ptr<RpcCancel> stale_poll;
    {
      StateLock l(mu_);
      leader_addr_ = a.leader_addr;
      // A poll held by another manager than the leader gets no more assignments: end it.
      if (poll_cancel_ != nullptr && !poll_target_.empty() && poll_target_ != a.leader_addr)
        stale_poll = poll_cancel_;
      if (!a.managers.empty()) managers_ = a.managers;
      if (a.period > Duration::zero()) period_ = a.period;
      last_error_.clear();
    }
    if (stale_poll != nullptr) stale_poll->Cancel();
    return a;
  }
  {
    StateLock l(mu_);
    leader_addr_.clear();
    last_error_ = std::string(last.message());
  }
  return last;
}

void Agent::Loop() {
  bool failing = false;
  for (;;) {
    SyncLogServer();  // after a demotion, the port is free once the manager stopped
    StatusOr<HeartbeatAnswer> a = HeartbeatOnce();
    if (a.ok()) {
      if (failing) spdlog::info("swarm: heartbeats reach the leader again ({})", a->leader_addr);
      failing = false;
      if (cfg_.on_answer) cfg_.on_answer(*a);
    } else if (!failing) {
      spdlog::warn("swarm: heartbeat failed: {}", a.status().ToString());
      failing = true;
    }
    StateLock l(mu_);
    // After a failure, try again sooner: another manager may have taken over.
    Duration wait = failing ? std::min<Duration>(period_, std::chrono::milliseconds(500)) : period_;
    WaitFor(*cfg_.clock, mu_, cv_, wait, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; });
    if (stop_) return;
  }
}

}  // namespace berth::cluster
