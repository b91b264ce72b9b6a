#include "cluster/agent.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cluster/manager.h"
#include "cluster/rpc.h"
#include "spdlog/spdlog.h"
#include "spec/json/swarm_json.h"

namespace berth::cluster {

StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentConfig cfg) {
  std::unique_ptr<Agent> a(new Agent(std::move(cfg)));
  RETURN_IF_ERROR(a->ReloadTls());
  StateLock l(a->mu_);
  a->managers_ = a->cfg_.managers;
  return a;
}

Agent::~Agent() { Stop(); }

Status Agent::ReloadTls() {
  ASSIGN_OR_RETURN(auto tls, ClientTls(cfg_.paths));
  StateLock l(mu_);
  tls_ = std::move(tls);
  return absl::OkStatus();
}

void Agent::Run() { thread_ = std::thread([this] { Loop(); }); }

void Agent::Stop() {
  {
    StateLock l(mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
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
    {
      StateLock l(mu_);
      leader_addr_ = a.leader_addr;
      if (!a.managers.empty()) managers_ = a.managers;
      if (a.period > Duration::zero()) period_ = a.period;
      last_error_.clear();
    }
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
