#include "cluster/task_logs.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/transport/http_client.h"
#include "cluster/pki/pki.h"
#include "cluster/rpc.h"
#include "common/fd.h"
#include "engine/log_reader.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "sys/fs.h"

namespace berth::cluster {
namespace {

constexpr size_t kHeaderSize = 8;
// A frame's size is a u32; anything near it from a node is not a log line.
constexpr uint32_t kMaxFrame = 64u << 20;
// How much the merge holds for a slow client before the node readers wait.
constexpr size_t kMaxQueued = 4u << 20;

constexpr char kTaskLabel[] = "com.docker.swarm.task.id";
constexpr char kServiceLabel[] = "com.docker.swarm.service.id";

bool HasRun(const spec::Task& t) {
  return spec::TaskStateRank(t.status.state) >= spec::TaskStateRank("running");
}

void Fail(api::Conn& c, const Status& s) { c.SendJson(api::HttpStatusFor(s), ErrorBody(s)); }

}  // namespace

// --- frames --------------------------------------------------------------------------------------

void AppendFrame(std::string& out, StdStream stream, std::string_view payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  char header[kHeaderSize] = {static_cast<char>(stream),
                              0,
                              0,
                              0,
                              static_cast<char>((n >> 24) & 0xff),
                              static_cast<char>((n >> 16) & 0xff),
                              static_cast<char>((n >> 8) & 0xff),
                              static_cast<char>(n & 0xff)};
  out.append(header, kHeaderSize);
  out.append(payload);
}

std::optional<LogFrame> FrameParser::Next() {
  if (corrupt_ || buf_.size() - pos_ < kHeaderSize) return std::nullopt;
  const auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  uint32_t n = (uint32_t{h[4]} << 24) | (uint32_t{h[5]} << 16) | (uint32_t{h[6]} << 8) | h[7];
  if (h[0] > static_cast<unsigned char>(StdStream::kSystemErr) || n > kMaxFrame) {
    corrupt_ = true;
    return std::nullopt;
  }
  if (buf_.size() - pos_ - kHeaderSize < n) return std::nullopt;
  LogFrame f{static_cast<StdStream>(h[0]), buf_.substr(pos_ + kHeaderSize, n)};
  pos_ += kHeaderSize + n;
  // Drop what was consumed once it is most of the buffer (amortised: no copy per frame).
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (64u << 10) && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return f;
}

// --- details
// ---------------------------------------------------------------------------------------

std::string RenderLogDetails(const TaskLogContext& ctx) {
  // Sorted by key, as dockerd's attrsByteSlice sorts them.
  return absl::StrCat(
      http::QueryEscape("com.docker.swarm.node.id"), "=", http::QueryEscape(ctx.node_id), ",",
      http::QueryEscape("com.docker.swarm.service.id"), "=", http::QueryEscape(ctx.service_id), ",",
      http::QueryEscape("com.docker.swarm.task.id"), "=", http::QueryEscape(ctx.task_id));
}

void DetailFramer::Frame(StdStream stream, std::string_view entry, std::string& out) const {
  std::string payload;
  payload.reserve(entry.size() + details_.size() + 1);
  size_t space = timestamps_ ? entry.find(' ') : std::string_view::npos;
  if (space != std::string_view::npos) {
    payload.append(entry.substr(0, space + 1));
    payload.append(details_);
    payload.push_back(' ');
    payload.append(entry.substr(space + 1));
  } else {
    payload.append(details_);
    payload.push_back(' ');
    payload.append(entry);
  }
  AppendFrame(out, stream, payload);
}

void DetailFramer::Feed(std::string_view rendered, std::string& out) {
  parser_.Feed(rendered);
  while (std::optional<LogFrame> f = parser_.Next()) {
    std::string_view p = f->payload;
    while (!p.empty()) {
      size_t nl = p.find('\n');
      size_t len = nl == std::string_view::npos ? p.size() : nl + 1;
      Frame(f->stream, p.substr(0, len), out);
      p.remove_prefix(len);
    }
  }
}

std::string ClientOutput(const LogFrame& frame, const TaskLogOptions& opts) {
  if (frame.stream == StdStream::kStdout && !opts.want_stdout) return "";
  if (frame.stream == StdStream::kStderr && !opts.want_stderr) return "";
  if (frame.stream == StdStream::kStdin) return "";
  std::string_view p = frame.payload;
  std::string text;
  if (!opts.details && frame.stream != StdStream::kSystemErr) {
    // "[<ts> ]<details> <message>": the details are the word after the timestamp.
    size_t start = 0;
    if (opts.timestamps) {
      size_t sp = p.find(' ');
      start = sp == std::string_view::npos ? 0 : sp + 1;
    }
    size_t end = p.find(' ', start);
    if (end != std::string_view::npos) {
      text.append(p.substr(0, start));
      text.append(p.substr(end + 1));
      p = text;
    }
  }
  std::string out;
  if (opts.multiplexed)
    AppendFrame(out, frame.stream, p);
  else
    out.assign(p);
  return out;
}

std::string IncompleteStreamMessage(const std::vector<std::string>& reasons) {
  return absl::StrCat(
      "Error grabbing logs: rpc error: code = Unknown desc = warning: incomplete log stream. some "
      "logs could not be retrieved for the following reasons: ",
      absl::StrJoin(reasons, ", "), "\n");
}

// --- the request ---------------------------------------------------------------------------------

std::string RenderNodeLogRequest(const NodeLogRequest& r) {
  nlohmann::json j = {{"task_ids", r.task_ids}, {"follow", r.follow}, {"tail", r.tail},
                      {"since", r.since},       {"until", r.until},   {"timestamps", r.timestamps}};
  return j.dump();
}

StatusOr<NodeLogRequest> ParseNodeLogRequest(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object())
    return absl::InvalidArgumentError("task logs: the request is not a JSON object");
  NodeLogRequest r;
  try {
    r.task_ids = j.value("task_ids", std::vector<std::string>{});
    r.follow = j.value("follow", false);
    r.tail = j.value("tail", -1);
    r.since = j.value("since", int64_t{0});
    r.until = j.value("until", int64_t{0});
    r.timestamps = j.value("timestamps", false);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("task logs: bad request: ", e.what()));
  }
  return r;
}

// --- the node side
// ---------------------------------------------------------------------------------

namespace {

// One task container's log being read.
struct ContainerLog {
  engine::ContainerService::LogSource src;
  std::unique_ptr<engine::LogReader> reader;
  std::unique_ptr<DetailFramer> framer;
  bool done = false;
};

}  // namespace

void NodeTaskLogs::Handle(api::Request& req, api::Conn& conn) {
  const transport::PeerIdentity& peer = conn.peer();
  if (!peer.verified || peer.organizational_unit != pki::kManagerRole)
    return Fail(conn, absl::PermissionDeniedError("task logs are for the swarm's managers"));
  if (peer.organization != cluster_id_)
    return Fail(conn, absl::PermissionDeniedError("the certificate belongs to another swarm"));
  StatusOr<NodeLogRequest> r = ParseNodeLogRequest(req.body);
  if (!r.ok()) return Fail(conn, r.status());

  std::vector<ContainerLog> logs;
  for (const std::string& task_id : r->task_ids) {
    spec::Filters f;
    f.Add("label", absl::StrCat(kTaskLabel, "=", task_id));
    StatusOr<std::vector<engine::ContainerSummary>> found = containers_.List(true, f);
    if (!found.ok()) return Fail(conn, found.status());
    for (const engine::ContainerSummary& c : *found) {
      StatusOr<engine::ContainerService::LogSource> src = containers_.Logs(c.id);
      if (!src.ok() || src->log_path.empty()) continue;  // gone meanwhile, or a driver keeping none
      TaskLogContext ctx{node_id_, "", task_id};
      if (auto it = c.labels.find(kServiceLabel); it != c.labels.end()) ctx.service_id = it->second;
      engine::LogReadOptions o;
      o.since = r->since;
      o.until = r->until;
      o.tail = r->tail;
      o.timestamps = r->timestamps;
      ContainerLog log;
      log.src = std::move(*src);
      log.reader = std::make_unique<engine::LogReader>(log.src.log_path, o);
      if (Status s = log.reader->Open(); !s.ok()) {
        spdlog::warn("swarm: task {}: cannot read the log of container {}: {}", task_id, log.src.id,
                     s.ToString());
        continue;
      }
      log.framer = std::make_unique<DetailFramer>(RenderLogDetails(ctx), r->timestamps);
      logs.push_back(std::move(log));
    }
  }

  // Watched before the first read, so that nothing written in between is missed: each log's
  // directory (writes, and the new file of a rotation) and state directory (the exit file).
  UniqueFd inotify;
  if (r->follow) {
    inotify.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    for (const ContainerLog& l : logs) {
      if (!l.src.running || !inotify.valid()) continue;
      std::string dir = l.src.log_path.substr(0, l.src.log_path.find_last_of('/'));
      ::inotify_add_watch(inotify.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO);
      ::inotify_add_watch(inotify.get(), l.src.state_dir.c_str(), IN_MOVED_TO | IN_CREATE);
    }
  }
  if (!conn.BeginStream(200, "application/vnd.docker.multiplexed-stream")) return;
  std::string out;
  // Reads what each log has now; false when the client went away.
  auto read_all = [&](bool following) {
    for (ContainerLog& l : logs) {
      if (l.done) continue;
      bool finished = !following || !l.src.running || sys::Exists(l.src.state_dir + "/exit") ||
                      !containers_.Running(l.src.id);
      bool ok = l.reader->ReadAvailable([&](std::string_view data) {
        out.clear();
        l.framer->Feed(data, out);
        return out.empty() || conn.WriteChunk(out);
      });
      if (!ok) return false;
      if (finished || l.reader->past_until()) l.done = true;
    }
    return true;
  };
  if (!read_all(false)) return;
  if (r->follow && inotify.valid()) {
    for (ContainerLog& l : logs) l.done = false;
    transport::FdWatch watch(conn.stream(), inotify.get());
    bool watch_client = true;
    for (;;) {
      if (!read_all(true)) return;
      if (std::all_of(logs.begin(), logs.end(), [](const ContainerLog& l) { return l.done; }))
        break;
      // New lines and exit files wake the thread, and so does the manager going away; the
      // timeout is a backstop for an exit that made no event here.
      transport::WaitResult w =
          conn.stream().Wait(watch_client, &watch, transport::After(std::chrono::seconds(1)));
      if (w.aborted) return;
      if (w.stream) {
        if (conn.ClientGone()) return;
        watch_client = false;  // it sent something instead: stop looking, it would stay readable
      }
      char evbuf[4096];
      while (::read(inotify.get(), evbuf, sizeof evbuf) > 0) {
      }
    }
  }
  conn.EndStream();
  conn.MarkClosed();
}

// --- the manager side
// ------------------------------------------------------------------------------

namespace {

class HttpNodeLogStream : public NodeLogStream {
 public:
  explicit HttpNodeLogStream(std::unique_ptr<http::Response> resp) : resp_(std::move(resp)) {}
  StatusOr<size_t> Read(char* buf, size_t n) override { return resp_->Read(buf, n); }
  void Cancel() override { resp_->Abort(); }

 private:
  std::unique_ptr<http::Response> resp_;
};

}  // namespace

NodeLogOpener DialNodeLogs(std::shared_ptr<const transport::TlsContext> tls,
                           std::chrono::milliseconds connect_timeout) {
  auto client = std::make_shared<http::HttpClient>(
      http::HttpOptions{.user_agent = "berthd",
                        .connect_timeout_ms = static_cast<int>(connect_timeout.count()),
                        .idle_timeout_ms = static_cast<int>(connect_timeout.count()),
                        .max_idle_per_host = 0},
      [tls](const http::Url&) -> StatusOr<http::HostTls> {
        return http::HostTls{tls, true};
      });
  return [client, connect_timeout](
             const NodeLogTarget& target, const NodeLogRequest& request,
             const std::atomic<bool>& cancel) -> StatusOr<std::unique_ptr<NodeLogStream>> {
    if (target.addr.empty())
      return absl::UnavailableError(absl::StrCat("node ", target.node_id, " has no address"));
    // The node's certificate names its IP: dialled by address, it is checked for it.
    ASSIGN_OR_RETURN(http::Url url, http::ParseUrl(absl::StrCat("https://", target.addr)));
    http::Request req;
    req.method = "POST";
    req.url = url;
    req.url.target = kTaskLogsPath;
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = RenderNodeLogRequest(request);
    req.streaming = true;  // the deadline covers the answer's header; the body flows on
    req.deadline = transport::After(connect_timeout * 2);
    ASSIGN_OR_RETURN(std::unique_ptr<http::Response> resp, client->Send(req, &cancel));
    if (resp->status() != 200) {
      StatusOr<std::string> text = resp->ReadAll(64 << 10);
      RpcReply reply;
      reply.status = resp->status();
      if (text.ok()) reply.body = nlohmann::json::parse(*text, nullptr, false);
      if (reply.body.is_discarded()) reply.body = nullptr;
      return ReplyError(reply);
    }
    return std::unique_ptr<NodeLogStream>(std::make_unique<HttpNodeLogStream>(std::move(resp)));
  };
}

struct TaskLogMerger::Reader {
  NodeLogTarget target;
  std::atomic<bool> cancel{false};
  absl::Mutex mu;
  std::shared_ptr<NodeLogStream> stream ABSL_GUARDED_BY(mu);
  std::thread thread;
};

TaskLogMerger::TaskLogMerger(TaskLogOptions opts, NodeLogOpener open, const Clock& clock)
    : opts_(std::move(opts)), open_(std::move(open)), clock_(clock) {}

TaskLogMerger::~TaskLogMerger() {
  CancelAll();
  for (auto& r : readers_)
    if (r->thread.joinable()) r->thread.join();
}

void TaskLogMerger::CancelAll() {
  {
    StateLock l(mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  for (auto& r : readers_) {
    r->cancel = true;
    std::shared_ptr<NodeLogStream> s;
    {
      absl::MutexLock l(&r->mu);
      s = r->stream;
    }
    if (s != nullptr) s->Cancel();
  }
}

void TaskLogMerger::AddReason(std::string reason) {
  StateLock l(mu_);
  reasons_.push_back(std::move(reason));
  cv_.SignalAll();
}

void TaskLogMerger::Add(const NodeLogTarget& target) {
  auto r = std::make_unique<Reader>();
  r->target = target;
  {
    StateLock l(mu_);
    if (stopping_) return;
    ++running_;
  }
  Reader* raw = r.get();
  readers_.push_back(std::move(r));
  raw->thread = std::thread([this, raw] { ReadNode(raw); });
}

bool TaskLogMerger::Push(std::vector<LogFrame> frames) {
  StateLock l(mu_);
  while (queued_bytes_ > kMaxQueued && !stopping_) mu_.Wait(cv_);
  if (stopping_) return false;
  for (LogFrame& f : frames) {
    queued_bytes_ += f.payload.size();
    queue_.push_back(std::move(f));
  }
  cv_.SignalAll();
  return true;
}

void TaskLogMerger::Finish(const Reader& r, const Status& error) {
  StateLock l(mu_);
  --running_;
  if (!error.ok() && !stopping_ && !r.cancel) {
    spdlog::warn("swarm: the logs of node {} ({}) could not be read: {}", r.target.node_id,
                 r.target.addr, error.ToString());
    reasons_.push_back(absl::IsUnavailable(error) || absl::IsDeadlineExceeded(error)
                           ? absl::StrCat("node ", r.target.node_id, " is not available")
                           : absl::StrCat("node ", r.target.node_id, ": ", error.message()));
  }
  cv_.SignalAll();
}

void TaskLogMerger::ReadNode(Reader* r) {
  NodeLogRequest req;
  req.task_ids = r->target.task_ids;
  req.follow = opts_.follow;
  req.tail = opts_.tail;
  req.since = opts_.since;
  req.until = opts_.until;
  req.timestamps = opts_.timestamps;
  StatusOr<std::unique_ptr<NodeLogStream>> opened = open_(r->target, req, r->cancel);
  if (!opened.ok()) return Finish(*r, opened.status());
  std::shared_ptr<NodeLogStream> stream(std::move(*opened));
  {
    absl::MutexLock l(&r->mu);
    r->stream = stream;
  }
  // A Cancel that came between the open and the line above found no stream to cancel.
  if (r->cancel) return Finish(*r, absl::OkStatus());
  FrameParser parser;
  std::string buf(32 << 10, '\0');
  Status error;
  for (;;) {
    StatusOr<size_t> n = stream->Read(buf.data(), buf.size());
    if (!n.ok()) {
      error = n.status();
      break;
    }
    if (*n == 0) {
      if (parser.pending() > 0) error = absl::UnavailableError("the stream ended inside a frame");
      break;
    }
    parser.Feed(std::string_view(buf.data(), *n));
    std::vector<LogFrame> frames;
    while (std::optional<LogFrame> f = parser.Next()) frames.push_back(std::move(*f));
    if (parser.corrupt()) {
      error = absl::InternalError("the node's answer is not a log stream");
      break;
    }
    if (!frames.empty() && !Push(std::move(frames))) break;
  }
  Finish(*r, error);
}

bool TaskLogMerger::Run(const LogClientSink& client,
                        const std::function<std::vector<NodeLogTarget>()>& more) {
  auto error_text = [&](const std::vector<std::string>& reasons) {
    std::string msg = IncompleteStreamMessage(reasons);
    if (!opts_.multiplexed) return msg;
    std::string out;
    AppendFrame(out, StdStream::kSystemErr, msg);
    return out;
  };
  MonoTime next_poll = clock_.Monotonic() + opts_.poll;
  for (;;) {
    std::deque<LogFrame> batch;
    std::vector<std::string> reasons;
    bool ended = false;
    {
      StateLock l(mu_);
      WaitFor(clock_, mu_, cv_, opts_.poll, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !queue_.empty() || (!opts_.follow && running_ == 0) ||
               (opts_.follow && reasons_written_ < reasons_.size());
      });
      batch.swap(queue_);
      queued_bytes_ = 0;
      cv_.SignalAll();  // readers waiting for room
      ended = !opts_.follow && running_ == 0;
      if (opts_.follow && reasons_written_ < reasons_.size()) {
        // Following never ends, so Docker's end-of-stream line comes when the node fails.
        reasons.assign(reasons_.begin() + static_cast<long>(reasons_written_), reasons_.end());
        reasons_written_ = reasons_.size();
      }
      if (ended) reasons = reasons_;
    }
    std::string out;
    for (const LogFrame& f : batch) out += ClientOutput(f, opts_);
    if (!reasons.empty()) out += error_text(reasons);
    if (!out.empty() && !client.write(out)) return false;
    if (ended) return true;
    if (client.gone && client.gone()) return false;
    if (opts_.follow && more && clock_.Monotonic() >= next_poll) {
      for (const NodeLogTarget& t : more()) Add(t);
      next_poll = clock_.Monotonic() + opts_.poll;
    }
  }
}

// --- which tasks
// -------------------------------------------------------------------------------------

std::vector<spec::Task> TaskLogSelection::Take(const std::vector<spec::Task>& all) {
  std::vector<spec::Task> out;
  for (const spec::Task& t : all) {
    bool wanted = !service_id_.empty() ? t.service_id == service_id_ && HasRun(t)
                                       : t.id == task_id_ && (!follow_ || HasRun(t));
    if (!wanted) continue;
    if (std::find(taken_.begin(), taken_.end(), t.id) != taken_.end()) continue;
    taken_.push_back(t.id);
    out.push_back(t);
  }
  return out;
}

std::vector<NodeLogTarget> GroupByNode(const std::vector<spec::Task>& tasks,
                                       const std::vector<spec::Node>& nodes,
                                       std::vector<std::string>* unplaced) {
  std::vector<NodeLogTarget> out;
  for (const spec::Task& t : tasks) {
    if (t.node_id.empty()) {
      if (unplaced != nullptr) unplaced->push_back(t.id);
      continue;
    }
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const NodeLogTarget& g) { return g.node_id == t.node_id; });
    if (it == out.end()) {
      // A node that is gone (or never said where it is) keeps an empty address: its share
      // fails as an unreachable node's does.
      std::string addr;
      for (const spec::Node& n : nodes) {
        if (n.id != t.node_id || n.status.addr.empty()) continue;
        const std::string& ip = n.status.addr;
        addr = ip.find(':') != std::string::npos ? absl::StrCat("[", ip, "]:2377")
                                                 : absl::StrCat(ip, ":2377");
      }
      out.push_back({t.node_id, addr, {}});
      it = std::prev(out.end());
    }
    it->task_ids.push_back(t.id);
  }
  return out;
}

}  // namespace berth::cluster
