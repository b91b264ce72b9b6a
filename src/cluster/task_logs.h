#pragma once
// Service and task logs across a swarm (`docker service logs`): GET /services/{id}/logs and
// GET /tasks/{id}/logs reach a manager, but a task's log lives on the node that ran its
// container. So every node serves one more call on its cluster port (mutual TLS, 2377):
//
//   POST /task-logs {"task_ids": [...], "follow": bool, "tail": int (-1: all),
//                    "since": unix nanos, "until": unix nanos, "timestamps": bool}
//
// answered 200 with a chunked body of Docker's stdcopy frames (stream 1 stdout, 2 stderr), ONE
// log message per frame, each carrying the details Docker's swarm log stream carries:
//
//   [<RFC3339Nano timestamp> ]com.docker.swarm.node.id=<n>,com.docker.swarm.service.id=<s>,
//   com.docker.swarm.task.id=<t> <message>
//
// (the docker CLI asks details=true and parses that prefix out of each frame to print
// "web.1.abc123@node    | line"; it relies on one message per frame). The node finds each task's
// container by its com.docker.swarm.task.id label and reads its log with engine::LogReader, as
// the container logs route does (tail, since and until apply per container). With follow the
// answer goes on while any of the containers runs, and ends when the caller goes away. Only a
// manager of this swarm may ask (certificate OU swarm-manager, O the cluster id).
//
// The manager's route (routes_services.cc) finds the tasks, groups them by node, opens one such
// stream per node (the node's Status.Addr, port 2377; the manager's own node too) and merges
// their frames, whole, into the client's answer (TaskLogMerger), dropping the details when the
// client did not ask for them. A node that cannot be reached costs Docker's error line at the end
// ("Error grabbing logs: ... node X is not available"), and a warning in the daemon's log.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "api/http.h"
#include "api/transport/tls.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/sync.h"
#include "engine/container_service.h"
#include "spec/service.h"

namespace berth::cluster {

inline constexpr char kTaskLogsPath[] = "/task-logs";

// --- stdcopy frames ------------------------------------------------------------------------------

// Docker's stdcopy stream ids (stream 3 carries the daemon's own error text).
enum class StdStream : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kSystemErr = 3 };

struct LogFrame {
  StdStream stream = StdStream::kStdout;
  std::string payload;
  bool operator==(const LogFrame&) const = default;
};

// Appends one frame: [stream, 0, 0, 0, payload size (big endian u32)] then the payload.
void AppendFrame(std::string& out, StdStream stream, std::string_view payload);

// Takes a frame stream in pieces of any size and hands out whole frames.
class FrameParser {
 public:
  void Feed(std::string_view data) { buf_.append(data); }
  // The next whole frame; nullopt when more bytes are needed (or the stream is corrupt).
  std::optional<LogFrame> Next();
  // A header named an unknown stream: the rest cannot be framed.
  bool corrupt() const { return corrupt_; }
  // Bytes of an incomplete frame (a stream that ends with some was cut).
  size_t pending() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  bool corrupt_ = false;
};

// --- the details prefix
// ----------------------------------------------------------------------------

struct TaskLogContext {
  std::string node_id;
  std::string service_id;
  std::string task_id;
};

// "com.docker.swarm.node.id=<n>,com.docker.swarm.service.id=<s>,com.docker.swarm.task.id=<t>":
// Docker's attrs, sorted by key, each key and value query-escaped (Go's url.QueryEscape).
std::string RenderLogDetails(const TaskLogContext& ctx);

// The node side's framing: LogReader renders many entries of one stream per frame; this turns
// each entry into a frame of its own with the details after its timestamp (when `timestamps`,
// the reader put one in front of each entry). Entries are told apart by their newline; a piece
// left without one at the end of a frame is an entry of its own.
class DetailFramer {
 public:
  DetailFramer(std::string details, bool timestamps)
      : details_(std::move(details)), timestamps_(timestamps) {}
  // LogReader's output, in pieces of any size; appends the new frames to `out`.
  void Feed(std::string_view rendered, std::string& out);

 private:
  void Frame(StdStream stream, std::string_view entry, std::string& out) const;
  std::string details_;
  bool timestamps_;
  FrameParser parser_;
};

// What the client of the manager's route asked for.
struct TaskLogOptions {
  bool follow = false;
  int tail = -1;      // per container; -1: all
  int64_t since = 0;  // unix nanos; 0: from the start
  int64_t until = 0;  // unix nanos; 0: no end
  bool timestamps = false;
  bool details = false;  // keep the details prefix (the CLI always asks, unless --raw)
  bool want_stdout = true;
  bool want_stderr = true;
  // Docker's stdcopy frames to the client; false (a TTY service): the bare text.
  bool multiplexed = true;
  // Following: how often the task list is looked at again for new tasks (and the client for
  // whether it left).
  Duration poll = std::chrono::seconds(1);
};

// A node-side message as the client gets it: without the details unless asked for, and framed
// unless the service has a TTY. Frames of an unwanted stream (or unframeable) give "".
std::string ClientOutput(const LogFrame& frame, const TaskLogOptions& opts);

// "Error grabbing logs: rpc error: code = Unknown desc = warning: incomplete log stream. some
// logs could not be retrieved for the following reasons: <r1>, <r2>" with its newline, as
// dockerd writes a swarm log error (on the stdcopy stream 3 when multiplexed, which the CLI
// shows as "error from daemon in stream: ..." and fails).
std::string IncompleteStreamMessage(const std::vector<std::string>& reasons);

// --- the node side ---------------------------------------------------------------------------

// POST /task-logs on a node's cluster port. Handlers run on the server's connection threads; the
// object holds no state besides its configuration.
class NodeTaskLogs {
 public:
  NodeTaskLogs(engine::ContainerService& containers, std::string node_id, std::string cluster_id)
      : containers_(containers), node_id_(std::move(node_id)), cluster_id_(std::move(cluster_id)) {}
  void Handle(api::Request& req, api::Conn& conn);

 private:
  engine::ContainerService& containers_;
  const std::string node_id_;
  const std::string cluster_id_;
};

// The request body for a node, and its parse.
struct NodeLogRequest {
  std::vector<std::string> task_ids;
  bool follow = false;
  int tail = -1;
  int64_t since = 0;
  int64_t until = 0;
  bool timestamps = false;
};
std::string RenderNodeLogRequest(const NodeLogRequest& r);
StatusOr<NodeLogRequest> ParseNodeLogRequest(std::string_view body);

// --- the manager side --------------------------------------------------------------------------

// One node's share of a log request.
struct NodeLogTarget {
  std::string node_id;
  std::string addr;  // "IP:2377"
  std::vector<std::string> task_ids;
};

// A node's answer body as the merge reads it.
class NodeLogStream {
 public:
  virtual ~NodeLogStream() = default;
  // Some bytes of the body; 0 at its end.
  virtual StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // Thread-safe: a Read in progress (and every later one) returns soon.
  virtual void Cancel() = 0;
};

// Opens a node's stream (the real one dials it: DialNodeLogs; tests give fakes).
// `cancel` set (from another thread) ends an open in progress.
using NodeLogOpener = std::function<StatusOr<std::unique_ptr<NodeLogStream>>(
    const NodeLogTarget& target, const NodeLogRequest& request, const std::atomic<bool>& cancel)>;

// The real opener: POST /task-logs to target.addr over mutual TLS with `tls` (the node's
// client context), the node's certificate checked for its IP; connecting is bounded by
// connect_timeout, reading is not (a follow lasts as long as the client stays).
NodeLogOpener DialNodeLogs(std::shared_ptr<const transport::TlsContext> tls,
                           std::chrono::milliseconds connect_timeout = std::chrono::seconds(5));

// The client of the manager's route.
struct LogClientSink {
  std::function<bool(std::string_view)> write;  // false: the client went away
  std::function<bool()> gone;                   // without blocking: has it gone away?
};

// Merges the frames of several node streams into one client answer. A thread per node reads its
// stream and queues whole frames (a bounded queue: a slow client slows the nodes down); the
// caller's thread writes them out in the order they came. Run returns when every stream ended
// (unless following) or the client left; the destructor cancels and joins what still runs.
class TaskLogMerger {
 public:
  TaskLogMerger(TaskLogOptions opts, NodeLogOpener open, const Clock& clock);
  ~TaskLogMerger();
  TaskLogMerger(const TaskLogMerger&) = delete;
  TaskLogMerger& operator=(const TaskLogMerger&) = delete;

  // Starts reading a node's share.
  void Add(const NodeLogTarget& target);
  // Reasons for Docker's "incomplete log stream" line besides the nodes' (tasks without a node).
  void AddReason(std::string reason);
  // Writes to the client until done. `more` (when following): called every opts.poll for new
  // targets (tasks that appeared since), which are added. false: the client went away.
  bool Run(const LogClientSink& client,
           const std::function<std::vector<NodeLogTarget>()>& more = nullptr);

 private:
  struct Reader;
  void ReadNode(Reader* r);
  // Queues a node's frames, waiting for room; false when the merge is stopping.
  bool Push(std::vector<LogFrame> frames);
  void Finish(const Reader& r, const Status& error);
  void CancelAll();

  const TaskLogOptions opts_;
  const NodeLogOpener open_;
  const Clock& clock_;
  mutable StateMutex mu_;
  absl::CondVar cv_;
  std::deque<LogFrame> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> reasons_ ABSL_GUARDED_BY(mu_);
  size_t reasons_written_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<Reader>> readers_;  // the caller's thread only
};

// Which tasks a request reads, as they come. A service's tasks once they ran (Docker reads no
// task that has not reached "running"); a task asked for by id at once when not following (it may
// have no node yet: see GroupByNode), else once it runs. Following, each later Take gives only the
// tasks that qualified since (a replaced task's successor, a scaled-up replica).
class TaskLogSelection {
 public:
  // One of the two: a service's id, or a task's id.
  TaskLogSelection(std::string service_id, std::string task_id, bool follow)
      : service_id_(std::move(service_id)), task_id_(std::move(task_id)), follow_(follow) {}
  std::vector<spec::Task> Take(const std::vector<spec::Task>& all);

 private:
  const std::string service_id_;
  const std::string task_id_;
  const bool follow_;
  std::vector<std::string> taken_;
};

// Groups tasks by node, with each node's address (IP:2377 from the node records' Status.Addr;
// empty for a node that is gone); tasks with no node go to `unplaced` (their ids: Docker's
// "task X has not been scheduled").
std::vector<NodeLogTarget> GroupByNode(const std::vector<spec::Task>& tasks,
                                       const std::vector<spec::Node>& nodes,
                                       std::vector<std::string>* unplaced);

}  // namespace berth::cluster
