// ContainerManager: attach, logs, resize and exec (containers.h).

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ids.h"
#include "engine/container_state.h"
#include "engine/container_util.h"
#include "engine/containers.h"
#include "engine/log_config.h"
#include "engine/security.h"
#include "spec/detach_keys.h"
#include "sys/fs.h"

namespace berth::engine {

// ---------------------------------------------------------------------------------------------
// Attach, logs, resize

StatusOr<ShimStream> ContainerManager::Attach(const std::string& name, bool in, bool out,
                                              bool err) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::future<StatusOr<ShimStream>> fut;
  {
    StateLock l(mu_);
    if (c->paused)
      return absl::FailedPreconditionError("You cannot attach to a paused container, unpause it first");
    if (c->status != "running") {
      auto p = std::make_shared<Container::Pending>();
      p->in = in;
      p->out = out;
      p->err = err;
      fut = p->ready.get_future();
      c->pending_attaches.push_back(p);
    }
  }
  if (fut.valid()) return fut.get();
  std::string flags;
  if (in) flags += "stdin,";
  if (out) flags += "stdout,";
  if (err) flags += "stderr,";
  if (!flags.empty()) flags.pop_back();
  else flags = "stdout";
  std::string reply;
  ASSIGN_OR_RETURN(UniqueFd fd, shim_.Command(StateDir(c->id), "ATTACH " + flags, &reply));
  if (reply != "OK") return absl::InternalError("attach: " + reply);
  return ShimStream{std::move(fd), c->tty()};
}

StatusOr<ContainerManager::LogSource> ContainerManager::Logs(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  StateLock l(mu_);
  const std::string& driver = c->host_config.log_config.type;
  return LogSource{c->id, LogFilePath(ContainerDir(c->id), c->id, driver), StateDir(c->id),
                   c->tty(), c->running(), driver};
}

Status ContainerManager::Resize(const std::string& name, int rows, int cols) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  {
    StateLock l(mu_);
    if (c->status != "running")
      return absl::FailedPreconditionError("Container " + c->id + " is not running");
    if (!c->tty()) return absl::OkStatus();
  }
  return shim_.Simple(StateDir(c->id), absl::StrCat("RESIZE ", rows, " ", cols));
}

// ---------------------------------------------------------------------------------------------
// Exec

StatusOr<std::string> ContainerManager::ExecCreate(const std::string& name, const spec::ExecConfig& body) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  const std::vector<std::string>& cmd = spec::OrEmpty(body.cmd);
  if (cmd.empty()) return absl::InvalidArgumentError("No exec command specified");
  ContainerEvent ev;
  std::string id;
  {
  StateLock l(mu_);
  if (c->status != "running")
    return absl::FailedPreconditionError("Container " + c->id + " is not running");
  if (c->paused)
    return absl::FailedPreconditionError("Container " + c->id +
                                         " is paused, unpause the container before exec");
  // dockerd checks them here, after the container, and answers 500 (a plain error) with these
  // words; the attach route's check is a 400.
  if (!body.detach_keys.empty() && !spec::ParseDetachKeys(body.detach_keys).ok())
    return absl::InternalError("Invalid escape keys (" + body.detach_keys + ") provided");
  auto e = std::make_shared<ExecInstance>();
  e->id = NewId();
  e->container_id = c->id;
  e->config = body;
  execs_[e->id] = e;
  c->exec_ids.push_back(e->id);
  id = e->id;
  ev = EventLocked(*c, "exec_create: " + absl::StrJoin(cmd, " "), {{"execID", e->id}});
  }
  Emit(std::move(ev));
  return id;
}

StatusOr<ShimStream> ContainerManager::ExecStart(const std::string& exec_id, bool detach, int rows,
                                                 int cols) {
  std::shared_ptr<ExecInstance> e;
  std::shared_ptr<Container> c;
  {
    StateLock l(mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) return absl::NotFoundError("No such exec instance: " + exec_id);
    e = it->second;
    if (e->started) return absl::FailedPreconditionError("Exec " + exec_id + " has already been started");
    auto cit = containers_.find(e->container_id);
    if (cit == containers_.end() || cit->second->status != "running")
      return absl::FailedPreconditionError("Container " + e->container_id + " is not running");
    if (cit->second->paused)
      return absl::FailedPreconditionError("Container " + e->container_id +
                                           " is paused, unpause the container before exec");
    c = cit->second;
    e->started = true;
    e->running = true;
  }
  const spec::ExecConfig& b = e->config;
  bool tty = b.tty;
  spec::ContainerConfig cfg;
  spec::HostConfig hc;
  {
    StateLock l(mu_);
    cfg = c->config;
    hc = c->host_config;
  }
  OciProcess proc;
  proc.terminal = tty;
  bool has_path = false;
  for (auto& v : spec::OrEmpty(cfg.env)) {
    has_path |= absl::StartsWith(v, "PATH=");
    proc.env.push_back(v);
  }
  // An exec gets the link variables too, computed now as dockerd does.
  if (auto links = LinksForStart(c); links.ok()) {
    for (auto it = links->env.rbegin(); it != links->env.rend(); ++it) {
      std::string key = it->substr(0, it->find('=') + 1);
      if (std::none_of(proc.env.begin(), proc.env.end(),
                       [&](const std::string& e) { return absl::StartsWith(e, key); }))
        proc.env.insert(proc.env.begin(), *it);
    }
  }
  if (!has_path) proc.env.insert(proc.env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  proc.env.push_back("HOSTNAME=" + cfg.hostname);
  if (tty) proc.env.push_back("TERM=xterm");
  for (auto& v : spec::OrEmpty(b.env)) proc.env.push_back(v);
  std::string user = b.user.empty() ? cfg.user : b.user;
  std::string state = StateDir(c->id);
  Status ust = ResolveUser(state + "/rootfs", user, &proc.uid, &proc.gid, &proc.additional_gids,
                           spec::OrEmpty(hc.group_add));
  auto finish = [&](int code) {
    {
      StateLock l(mu_);
      e->running = false;
      e->exit_code = code;
      e->has_exit = true;
    }
    cv_.SignalAll();
  };
  if (!ust.ok()) {
    finish(126);
    return ust;
  }
  proc.cwd = !b.working_dir.empty() ? b.working_dir : !cfg.working_dir.empty() ? cfg.working_dir : "/";
  if (b.privileged) hc.privileged = true;
  proc.capabilities = Capabilities(hc, HostCapabilities());
  // An exec keeps the container's no-new-privileges, as in Docker (create checked the options).
  if (auto sec = ParseSecurityOpts(spec::OrEmpty(hc.security_opt)); sec.ok())
    proc.no_new_privileges = sec->no_new_privileges;
  proc.args = spec::OrEmpty(b.cmd);
  if (b.console_size && (*b.console_size)[0] > 0) {
    proc.rows = static_cast<int>((*b.console_size)[0]);
    proc.cols = static_cast<int>((*b.console_size)[1]);
  }
  if (tty && rows > 0 && cols > 0) {
    proc.rows = rows;
    proc.cols = cols;
  }
  if (!tty) proc.rows = proc.cols = 0;
  std::string sid = e->id.substr(0, 12);  // short: the shim names a console socket after it
  RETURN_IF_ERROR(sys::WriteFile(state + "/exec-" + sid + ".json", BuildOciProcess(proc)));
  std::string flags;
  if (tty) flags += "tty,";
  if (b.attach_stdin && !detach) flags += "stdin,";
  if (!flags.empty()) flags.pop_back();
  else flags = "-";
  std::string reply;
  auto conn = shim_.Command(state, "EXEC " + sid + " " + flags, &reply);
  if (!conn.ok()) {
    finish(126);
    return conn.status();
  }
  if (!absl::StartsWith(reply, "OK")) {
    std::string msg = absl::StartsWith(reply, "ERR ") ? reply.substr(4) : reply;
    finish(126);  // dockerd reports every exec start failure as 126
    return absl::AbortedError("OCI runtime exec failed: " + msg + ": unknown");
  }
  ContainerEvent ev;
  {
    StateLock l(mu_);
    (void)absl::SimpleAtoi(reply.size() > 3 ? reply.substr(3) : "0", &e->pid);
    ev = EventLocked(*c, "exec_start: " + absl::StrJoin(spec::OrEmpty(b.cmd), " "), {{"execID", e->id}});
  }
  Emit(std::move(ev));
  // The caller proxies the stream and reports the exit frame's code through ExecExited. A
  // detached exec's stream is drained by the monitor thread, which records the code itself.
  if (detach) {
    if (!WatchExecStream(e->id, std::move(*conn))) {
      StateLock l(mu_);
      e->running = false;
      e->has_exit = true;
      e->exit_code = 126;
    }
    return ShimStream{UniqueFd(), tty};
  }
  return ShimStream{std::move(*conn), tty};
}

bool ContainerManager::WatchExecStream(const std::string& exec_id, UniqueFd stream,
                                       std::string unread, bool capture) {
  int fd = stream.get();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  {
    StateLock l(mu_);
    auto w = std::make_unique<Watch>();
    w->kind = Watch::Kind::kExec;
    w->id = exec_id;
    w->fd = std::move(stream);
    w->buf = std::move(unread);
    w->capture = capture;
    watched_[fd] = std::move(w);
  }
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    StateLock l(mu_);
    watched_.erase(fd);
    return false;
  }
  return true;
}

void ContainerManager::ExecDetached(const std::string& exec_id, UniqueFd stream,
                                    std::string unread) {
  ContainerEvent ev;
  bool known = false;
  {
    StateLock l(mu_);
    auto it = execs_.find(exec_id);
    auto cit = it == execs_.end() ? containers_.end() : containers_.find(it->second->container_id);
    if (cit != containers_.end()) {
      ev = EventLocked(*cit->second, "exec_detach", {{"execID", exec_id}});
      known = true;
    }
  }
  if (!WatchExecStream(exec_id, std::move(stream), std::move(unread))) ExecExited(exec_id, -1);
  if (known) Emit(std::move(ev));
}

void ContainerManager::StreamEvent(const std::string& id, const std::string& action) {
  ContainerEvent ev;
  {
    StateLock l(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    ev = EventLocked(*it->second, action);
  }
  Emit(std::move(ev));
}

StatusOr<ExecView> ContainerManager::ExecInspect(const std::string& exec_id) {
  StateLock l(mu_);
  auto it = execs_.find(exec_id);
  if (it == execs_.end()) return absl::NotFoundError("No such exec instance: " + exec_id);
  const ExecInstance& e = *it->second;
  ExecView v;
  v.id = e.id;
  v.running = e.running;
  if (e.has_exit) v.exit_code = e.exit_code;
  v.config = e.config;
  v.container_id = e.container_id;
  v.pid = e.pid;
  return v;
}

void ContainerManager::ExecExited(const std::string& exec_id, int code) {
  {
    StateLock l(mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) return;
    it->second->running = false;
    it->second->exit_code = code < 0 ? 126 : code;
    it->second->has_exit = true;
    code = it->second->exit_code;
  }
  cv_.SignalAll();
  EmitExecDie(exec_id, code);
}

void ContainerManager::EmitExecDie(const std::string& exec_id, int code) {
  ContainerEvent ev;
  {
    StateLock l(mu_);
    auto it = execs_.find(exec_id);
    auto cit = it == execs_.end() ? containers_.end() : containers_.find(it->second->container_id);
    if (cit == containers_.end()) return;
    ev = EventLocked(*cit->second, "exec_die", {{"execID", exec_id}, {"exitCode", std::to_string(code)}});
  }
  Emit(std::move(ev));
}

Status ContainerManager::ExecResize(const std::string& exec_id, int rows, int cols) {
  // Resizes travel inside the exec's stream (frame type 5); the API server keeps that stream,
  // so it handles resize itself. Here we only validate the id.
  StateLock l(mu_);
  if (!execs_.count(exec_id)) return absl::NotFoundError("No such exec instance: " + exec_id);
  return absl::OkStatus();
}


void ContainerManager::OnExecStream(int fd) {
  // Monitor thread: read what the stream has, keep the exit frame's code, finish at EOF.
  Watch* w;
  {
    StateLock l(mu_);
    auto it = watched_.find(fd);
    if (it == watched_.end()) return;
    w = it->second.get();  // only this thread removes it
  }
  char tmp[8192];
  bool done = false;
  for (;;) {
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      done = true;
      break;
    }
    w->buf.append(tmp, static_cast<size_t>(n));
    while (w->buf.size() >= 8) {
      uint32_t len = (uint32_t(uint8_t(w->buf[4])) << 24) | (uint32_t(uint8_t(w->buf[5])) << 16) |
                     (uint32_t(uint8_t(w->buf[6])) << 8) | uint32_t(uint8_t(w->buf[7]));
      if (w->buf.size() < 8 + len) break;
      if (w->buf[0] == kExit) {
        w->has_code = absl::SimpleAtoi(w->buf.substr(8, len), &w->code);
      } else if (w->capture && (w->buf[0] == kStdout || w->buf[0] == kStderr)) {
        AppendProbeOutput(&w->output, &w->truncated, std::string_view(w->buf).substr(8, len));
      }
      w->buf.erase(0, 8 + len);
    }
  }
  if (!done) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  std::string exec_id = w->id;
  int code = w->code;
  bool has_code = w->has_code, capture = w->capture;
  std::string output = std::move(w->output);
  if (w->truncated) output += "...";
  {
    StateLock l(mu_);
    auto it = execs_.find(w->id);
    if (it != execs_.end()) {
      it->second->running = false;
      it->second->exit_code = w->code;
      it->second->has_exit = true;
    }
    watched_.erase(fd);  // closes the stream
  }
  cv_.SignalAll();
  if (capture) {
    // The result is recorded (a store write) on the health executor, not on this thread.
    health_work_.Post([this, exec_id, has_code, code, output = std::move(output)]() mutable {
      ProbeExited(exec_id, has_code, code, std::move(output));
    });
    return;
  }
  EmitExecDie(exec_id, code);
}

}  // namespace berth::engine
