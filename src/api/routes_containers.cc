#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "api/proxy_stream.h"
#include "api/render.h"
#include "api/routes.h"
#include "api/transport/stream.h"
#include "engine/log_reader.h"
#include "spec/detach_keys.h"
#include "spec/json/container_json.h"
#include "spec/json/exec_json.h"
#include "spec/json/filters_json.h"
#include "common/fd.h"
#include "sys/fs.h"

namespace berth::api {

using nlohmann::json;

std::shared_ptr<ExecStreams::Entry> ExecStreams::Add(const std::string& id, int fd) {
  auto e = std::make_shared<Entry>();
  {
    absl::MutexLock lock(&e->mu);
    e->fd = fd;
  }
  absl::MutexLock lock(&mu_);
  entries_[id] = e;
  return e;
}

void ExecStreams::Remove(const std::string& id) {
  absl::MutexLock lock(&mu_);
  entries_.erase(id);
}

std::shared_ptr<ExecStreams::Entry> ExecStreams::Find(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : it->second;
}

namespace {

// Before a TTY exec starts: the size the client sends (POST /exec/{id}/resize, on another
// connection, which the docker CLI sends only after the 101 under API 1.41), so that the process
// starts at it; dockerd starts the process at once, and a quick `stty size` reads 0 0. Only the
// CLIs that send a size right after the 101 are waited for (the docker CLI and berth, by their
// User-Agent): up to 2 s with stdin (the docker CLI refuses -it without a terminal, so a size is
// on its way, and a loaded machine has delayed it past 300 ms; input it sends first, as a ^D from
// `script`, does not end the wait), 300 ms without (a script's exec -t may send none). Any other
// client (an SDK, which sends a size if ever only when it likes) has its process started at
// once, as dockerd does. false: the daemon is shutting down.
bool WaitForSize(Conn& c, const Request& req, ExecStreams::Entry& entry, bool with_stdin,
                 int* rows, int* cols) {
  auto agent = req.headers.find("user-agent");
  if (agent == req.headers.end() || !(absl::StartsWith(agent->second, "Docker-Client/") ||
                                      absl::StartsWith(agent->second, "Berth-Client/")))
    return true;
  transport::Deadline until =
      transport::After(std::chrono::milliseconds(with_stdin ? 2000 : 300));
  int sized_fd = -1;  // stays open while entry lives, which the caller holds
  {
    absl::MutexLock lock(&entry.mu);
    if (entry.rows == 0 && !entry.sized.valid())
      entry.sized = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    sized_fd = entry.sized.get();
  }
  std::optional<transport::FdWatch> sized;
  if (sized_fd >= 0) sized.emplace(c.stream(), sized_fd);
  for (;;) {
    {
      absl::MutexLock lock(&entry.mu);
      if (entry.rows > 0) break;
    }
    transport::WaitResult w = c.stream().Wait(false, sized ? &*sized : nullptr, until);
    if (w.aborted) return false;
    if (!w.other) break;  // the time is up
    uint64_t count;
    (void)::read(sized_fd, &count, sizeof count);
  }
  absl::MutexLock lock(&entry.mu);
  *rows = entry.rows;
  *cols = entry.cols;
  return true;
}

std::optional<int> OptionalInt(const Request& req, const std::string& k) {
  int v;
  std::string s = req.Query(k);
  if (s.empty() || !absl::SimpleAtoi(s, &v)) return std::nullopt;
  return v;
}



// Writes the container's log so far to a hijacked attach stream (attach?logs=1), framed as
// `docker logs` frames it (raw with a TTY). False if the client went away.
bool ReplayLogs(Conn& c, const engine::ContainerManager::LogSource& src, bool out, bool err) {
  if (src.log_path.empty()) return true;  // the none driver keeps nothing to replay
  engine::LogReadOptions o;
  o.want_stdout = out;
  o.want_stderr = err;
  o.raw = src.tty;
  engine::LogReader reader(src.log_path, o);
  if (!reader.Open().ok()) return true;
  return reader.ReadAvailable([&c](std::string_view data) { return c.stream().WriteAll(data).ok(); });
}

void Logs(Backend& b, Request& req, Conn& c) {
  auto src = b.containers.Logs(req.params["id"]);
  if (!src.ok()) {
    c.SendError(src.status());
    return;
  }
  if (src->log_path.empty()) {  // dockerd's ErrReadLogsNotSupported, a NotImplemented error
    c.SendError(absl::UnimplementedError("configured logging driver does not support reading"));
    return;
  }
  engine::LogReadOptions o;
  o.want_stdout = req.QueryBool("stdout");
  o.want_stderr = req.QueryBool("stderr");
  if (!o.want_stdout && !o.want_stderr) {
    c.SendError(absl::InvalidArgumentError("Bad parameters: you must choose at least one stream"));
    return;
  }
  bool follow = req.QueryBool("follow");
  o.timestamps = req.QueryBool("timestamps");
  o.details = req.QueryBool("details");
  o.raw = src->tty;
  // The CLI sends "<seconds>.<nanoseconds>" (Go's GetTimestamp): parsed exactly, since a double
  // would move a since or until taken from `logs -t` output by a few hundred nanoseconds.
  auto parse_time = [](const std::string& s, int64_t* out) {
    if (s.empty()) return;
    size_t dot = s.find('.');
    int64_t secs = 0, frac = 0;
    std::string f = dot == std::string::npos ? "" : s.substr(dot + 1);
    if (absl::SimpleAtoi(s.substr(0, dot), &secs) && f.size() <= 9 &&
        (f.empty() || absl::SimpleAtoi(f, &frac))) {
      for (size_t i = f.size(); i < 9; ++i) frac *= 10;
      *out = secs * 1000000000 + frac;
    } else {
      ParseRfc3339(s, out);
    }
  };
  parse_time(req.Query("since"), &o.since);
  parse_time(req.Query("until"), &o.until);
  std::string tail_s = req.Query("tail", "all");
  if (tail_s != "all" && !absl::SimpleAtoi(tail_s, &o.tail)) o.tail = -1;

  UniqueFd inotify;
  std::string log_dir = src->log_path.substr(0, src->log_path.find_last_of('/'));
  if (follow && src->running) {
    inotify.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    // Watch before the first read, so nothing written in between is missed. The directory, not
    // the file: a rotation replaces the file, and IN_CREATE/IN_MOVED_TO say so.
    ::inotify_add_watch(inotify.get(), log_dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO);
    ::inotify_add_watch(inotify.get(), src->state_dir.c_str(), IN_MOVED_TO | IN_CREATE);
  }
  engine::LogReader reader(src->log_path, o);
  if (Status st = reader.Open(); !st.ok()) {
    c.SendError(st);
    return;
  }
  if (!c.BeginStream(200, src->tty ? "application/vnd.docker.raw-stream"
                                   : "application/vnd.docker.multiplexed-stream"))
    return;
  auto sink = [&c](std::string_view data) { return c.WriteChunk(data); };
  if (!reader.ReadAvailable(sink)) return;
  if (follow && src->running && inotify.valid()) {
    std::string exit_file = src->state_dir + "/exit";
    // New log lines and the exit file wake the thread, and so does the client leaving.
    transport::FdWatch inotify_watch(c.stream(), inotify.get());
    bool watch_client = true;
    for (;;) {
      bool finished = sys::Exists(exit_file) || !b.containers.Running(src->id);
      if (!reader.ReadAvailable(sink)) return;
      if (finished || reader.past_until()) break;
      transport::WaitResult w = c.stream().Wait(watch_client, &inotify_watch, transport::kForever);
      if (w.aborted) return;
      if (w.stream) {
        if (c.ClientGone()) return;
        watch_client = false;  // it sent something instead: stop looking, it would stay readable
      }
      char evbuf[4096];
      while (::read(inotify.get(), evbuf, sizeof evbuf) > 0) {
      }
    }
  }
  c.EndStream();
  c.MarkClosed();
}

}  // namespace

void AddContainerRoutes(Router& r, Backend& b) {
  r.Add("POST", "/containers/create", [&b](Request& req, Conn& c) {
    // Docker's JSON is parsed here, once, into typed values: a wrong type or value is a 400
    // with Docker's words before anything is created.
    auto create = spec::ParseContainerCreate(req.body, req.Query("name"));
    if (!create.ok()) {
      c.SendError(create.status());
      return;
    }
    // Berth runs linux/amd64 images only (docs/differences.md); create's ?platform= must match
    // the image, as dockerd checks it (a mismatch is "not found", so the CLI pulls).
    if (auto img = b.images.Get(create->config.image); img.ok()) {
      if (Status st = CheckRunnablePlatform(*img, create->config.image, req.Query("platform")); !st.ok()) {
        c.SendError(st);
        return;
      }
    }
    auto res = b.containers.Create(*create);
    if (!res.ok()) c.SendError(res.status());
    else SendOrdered(c, 201, {{"Id", res->id}, {"Warnings", res->warnings}});
  });

  r.Add("GET", "/containers/json", [&b](Request& req, Conn& c) {
    auto filters = RequestFilters(req);
    if (!filters.ok()) {
      c.SendError(filters.status());
      return;
    }
    int limit = req.QueryInt("limit", -1);
    if (limit <= 0 && req.QueryBool("latest")) limit = 1;
    bool all = req.QueryBool("all") || limit > 0;
    auto list = b.containers.List(all, *filters, limit, req.QueryBool("size"));
    if (!list.ok()) {
      c.SendError(list.status());
      return;
    }
    OrderedJson out = OrderedJson::array();
    for (auto& s : *list) out.push_back(RenderContainerSummary(s));
    SendOrdered(c, 200, out);
  });

  r.Add("POST", "/containers/prune", [&b](Request& req, Conn& c) {
    auto filters = RequestFilters(req);
    if (!filters.ok()) {
      c.SendError(filters.status());
      return;
    }
    auto res = b.containers.Prune(*filters);
    if (!res.ok()) c.SendError(res.status());
    else
      SendOrdered(c, 200, {{"ContainersDeleted", res->deleted.empty() ? OrderedJson(nullptr) : OrderedJson(res->deleted)},
                           {"SpaceReclaimed", res->reclaimed}});
  });

  r.Add("GET", "/containers/{id}/json", [&b](Request& req, Conn& c) {
    auto res = b.containers.Inspect(req.params["id"], req.QueryBool("size"));
    if (!res.ok()) c.SendError(res.status());
    else SendOrdered(c, 200, RenderContainer(*res));
  });

  r.Add("POST", "/containers/{id}/start", [&b](Request& req, Conn& c) {
    auto res = b.containers.Start(req.params["id"]);
    if (!res.ok()) c.SendError(res.status());
    else c.SendEmpty(*res ? 204 : 304);
  });

  r.Add("POST", "/containers/{id}/stop", [&b](Request& req, Conn& c) {
    auto res = b.containers.Stop(req.params["id"], OptionalInt(req, "t"), req.Query("signal"));
    if (!res.ok()) c.SendError(res.status());
    else c.SendEmpty(*res ? 204 : 304);
  });

  r.Add("POST", "/containers/{id}/kill", [&b](Request& req, Conn& c) {
    Status st = b.containers.Kill(req.params["id"], req.Query("signal"));
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });

  r.Add("POST", "/containers/{id}/restart", [&b](Request& req, Conn& c) {
    Status st = b.containers.Restart(req.params["id"], OptionalInt(req, "t"));
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });

  r.Add("POST", "/containers/{id}/wait", [&b](Request& req, Conn& c) {
    bool began = false;
    auto res = b.containers.Wait(
        req.params["id"], req.Query("condition"),
        [&] { began = c.BeginStream(200, "application/json"); },
        [&](int fd) {
          // Until the container changes or the client leaves: no polling.
          transport::FdWatch watch(c.stream(), fd);
          for (;;) {
            transport::WaitResult w = c.stream().Wait(true, &watch, transport::kForever);
            if (w.aborted || (w.stream && c.ClientGone())) return false;
            if (w.other) return true;
            char scratch[512];
            (void)c.stream().ReadSome(scratch, sizeof scratch, transport::kNoWait);
          }
        });
    if (!began) {
      if (!res.ok()) c.SendError(res.status());
      return;
    }
    if (res.ok()) c.WriteChunk(OrderedJson{{"StatusCode", res->status_code}, {"Error", nullptr}}.dump() + "\n");
    else c.WriteChunk(json{{"StatusCode", -1}, {"Error", {{"Message", std::string(res.status().message())}}}}.dump() + "\n");
    c.EndStream();
    c.MarkClosed();
  });

  r.Add("DELETE", "/containers/{id}", [&b](Request& req, Conn& c) {
    Status st = req.QueryBool("link")
                    ? b.containers.RemoveLink(req.params["id"])
                    : b.containers.Remove(req.params["id"], req.QueryBool("force"), req.QueryBool("v"));
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });

  r.Add("POST", "/containers/{id}/rename", [&b](Request& req, Conn& c) {
    Status st = b.containers.Rename(req.params["id"], req.Query("name"));
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });

  r.Add("GET", "/containers/{id}/top", [&b](Request& req, Conn& c) {
    auto res = b.containers.Top(req.params["id"], req.Query("ps_args"));
    if (!res.ok()) c.SendError(res.status());
    else SendOrdered(c, 200, RenderTop(*res));
  });

  r.Add("GET", "/containers/{id}/stats", [&b](Request& req, Conn& c) {
    auto res = b.containers.Stats(req.params["id"]);
    if (!res.ok()) {
      c.SendError(res.status());
      return;
    }
    if (!req.QueryBool("stream", true) || req.QueryBool("one-shot")) {
      SendOrdered(c, 200, RenderStats(*res, nullptr));
      return;
    }
    if (!c.BeginStream(200, "application/json")) return;
    engine::ContainerStats prev = *res;
    std::optional<engine::ContainerStats> before;
    for (;;) {
      if (!c.WriteChunk(RenderStats(prev, before ? &*before : nullptr).dump() + "\n")) return;
      // One sample a second, as docker stats does; the client ends the stream by closing.
      transport::WaitResult w =
          c.stream().Wait(true, nullptr, transport::After(std::chrono::seconds(1)));
      if (w.stream || w.aborted) return;
      auto next = b.containers.Stats(req.params["id"]);
      if (!next.ok()) break;
      before = std::move(prev);
      prev = std::move(*next);
    }
    c.EndStream();
    c.MarkClosed();
  });

  r.Add("POST", "/containers/{id}/resize", [&b](Request& req, Conn& c) {
    Status st = b.containers.Resize(req.params["id"], req.QueryInt("h", 0), req.QueryInt("w", 0));
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(200);
  });

  r.Add("POST", "/containers/{id}/attach", [&b](Request& req, Conn& c) {
    // dockerd reads the detach keys before it looks the container up.
    std::string keys_spec = req.Query("detachKeys");
    auto keys = spec::ParseDetachKeys(keys_spec.empty() ? spec::kDefaultDetachKeys : keys_spec);
    if (!keys.ok()) {
      c.SendError(absl::InvalidArgumentError("Invalid detach keys (" + keys_spec + ") provided"));
      return;
    }
    // Validate the container before upgrading, so a bad name is a plain 404.
    auto id = b.containers.Resolve(req.params["id"]);
    if (!id.ok()) {
      c.SendError(id.status());
      return;
    }
    bool in = req.QueryBool("stdin"), out = req.QueryBool("stdout"), err = req.QueryBool("stderr");
    auto info = b.containers.Inspect(*id, false);
    bool tty = info.ok() && info->config.tty;
    bool upgrade = absl::StrContains(req.headers["connection"], "pgrade");
    if (!c.Hijack(upgrade, tty ? "application/vnd.docker.raw-stream"
                               : "application/vnd.docker.multiplexed-stream"))
      return;
    // logs=1: what the container wrote so far, then (stream=1) the live stream. With stream=0
    // the connection ends after the logs, as dockerd's does.
    if (req.QueryBool("logs")) {
      auto src = b.containers.Logs(*id);
      if (src.ok() && !ReplayLogs(c, *src, out, err)) return;
    }
    b.containers.StreamEvent(*id, "attach");
    if (!req.QueryBool("stream")) {
      (void)c.stream().CloseWrite();
      return;
    }
    auto stream = b.containers.Attach(*id, in, out, err);
    if (!stream.ok()) return;
    // Docker looks for the detach keys only on a TTY's input.
    int code = ProxyStream(c, stream->fd.get(), stream->tty, in, nullptr,
                           stream->tty ? *keys : std::string());
    if (code == kProxyDetached) b.containers.StreamEvent(*id, "detach");
    (void)c.stream().CloseWrite();
  });

  r.Add("GET", "/containers/{id}/logs", [&b](Request& req, Conn& c) { Logs(b, req, c); });

  r.Add("POST", "/containers/{id}/exec", [&b](Request& req, Conn& c) {
    auto config = spec::ParseExecConfig(req.body);
    if (!config.ok()) {
      c.SendError(config.status());
      return;
    }
    auto id = b.containers.ExecCreate(req.params["id"], *config);
    if (!id.ok()) c.SendError(id.status());
    else SendOrdered(c, 201, {{"Id", *id}});
  });

  r.Add("POST", "/exec/{id}/start", [&b](Request& req, Conn& c) {
    auto body = spec::ParseExecStart(req.body);
    if (!body.ok()) {
      c.SendError(body.status());
      return;
    }
    bool detach = body->detach;
    std::string exec_id = req.params["id"];
    auto info = b.containers.ExecInspect(exec_id);
    if (!info.ok()) {
      c.SendError(info.status());
      return;
    }
    if (detach) {
      auto stream = b.containers.ExecStart(exec_id, true);
      if (!stream.ok()) c.SendError(stream.status());
      else c.SendEmpty(200);
      return;
    }
    // The process gets a terminal if the exec was created with Tty; the output is framed or
    // not as the start body's Tty says (dockerd wraps its writers by that one alone), so a
    // client that asks for raw output of a non-TTY exec gets stdout and stderr merged.
    bool tty = info->config.tty;
    bool raw_output = body->tty;
    bool upgrade = absl::StrContains(req.headers["connection"], "pgrade");
    // Upgrade first, as dockerd: the CLI sends the terminal size (POST /exec/{id}/resize) only
    // after the 101, and a tty exec must start with that size, or `stty size` races it.
    auto entry = b.exec_streams.Add(exec_id, -1);  // before the 101, so no resize is missed
    if (!c.Hijack(upgrade, raw_output ? "application/vnd.docker.raw-stream"
                                      : "application/vnd.docker.multiplexed-stream")) {
      b.exec_streams.Remove(exec_id);
      return;
    }
    int rows = 0, cols = 0;
    if (tty && !WaitForSize(c, req, *entry, info->config.attach_stdin, &rows, &cols)) {
      b.exec_streams.Remove(exec_id);
      return;
    }
    auto stream = b.containers.ExecStart(exec_id, false, rows, cols);
    if (!stream.ok()) {
      // The process could not start: dockerd tells the client inside the stream.
      std::string msg = std::string(stream.status().message()) + "\r\n";
      (void)c.stream().WriteAll(raw_output ? msg : engine::Frame(engine::kStdout, msg));
      b.exec_streams.Remove(exec_id);
      return;
    }
    {
      absl::MutexLock lock(&entry->mu);
      entry->fd = stream->fd.get();
    }
    bool in = info->config.attach_stdin;
    // The detach keys are the exec's own (from its create body), looked for on a TTY only.
    std::string keys;
    if (tty) {
      const std::string& spec_keys = info->config.detach_keys;
      keys = spec::ParseDetachKeys(spec_keys.empty() ? spec::kDefaultDetachKeys : spec_keys)
                 .value_or(std::string());
    }
    std::string unread;
    int code = ProxyStream(c, stream->fd.get(), raw_output, in, &entry->mu, keys, &unread);
    b.exec_streams.Remove(exec_id);
    {
      absl::MutexLock lock(&entry->mu);
      entry->fd = -1;
    }
    if (code == kProxyDetached) {
      // The exec runs on; its exit code is still recorded when it ends.
      b.containers.ExecDetached(exec_id, std::move(stream->fd), std::move(unread));
      (void)c.stream().CloseWrite();
      return;
    }
    // The exit code is recorded before the client sees the end of the stream: the CLI asks for it
    // (GET /exec/{id}/json) as soon as the stream ends, and a null ExitCode reads as 0.
    b.containers.ExecExited(exec_id, code);
    (void)c.stream().CloseWrite();
  });

  r.Add("GET", "/exec/{id}/json", [&b](Request& req, Conn& c) {
    auto res = b.containers.ExecInspect(req.params["id"]);
    if (!res.ok()) c.SendError(res.status());
    else SendOrdered(c, 200, RenderExec(*res));
  });

  r.Add("POST", "/exec/{id}/resize", [&b](Request& req, Conn& c) {
    Status st = b.containers.ExecResize(req.params["id"], req.QueryInt("h", 0), req.QueryInt("w", 0));
    if (!st.ok()) {
      c.SendError(st);
      return;
    }
    if (auto e = b.exec_streams.Find(req.params["id"])) {
      absl::MutexLock lock(&e->mu);
      e->rows = req.QueryInt("h", 0);
      e->cols = req.QueryInt("w", 0);
      if (e->fd >= 0)
        SendAll(e->fd, engine::Frame(engine::kResize, std::to_string(e->rows) + " " +
                                                          std::to_string(e->cols)));
      if (e->sized.valid()) (void)::eventfd_write(e->sized.get(), 1);
    }
    c.SendEmpty(200);
  });
}

}  // namespace berth::api
