// Service and task logs (cluster/task_logs.h) without a swarm: the stdcopy framing, the details
// prefix the docker CLI parses, the node side's reframing of a real container log file, the
// manager's choice of tasks and nodes, and the merge of several node streams (fakes) into one
// client answer.
#include "cluster/task_logs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/server.h"
#include "cluster/node_state.h"
#include "cluster/pki/pki.h"
#include "common/clock.h"
#include "engine/log_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<LogFrame> Frames(std::string_view data) {
  FrameParser p;
  p.Feed(data);
  std::vector<LogFrame> out;
  while (std::optional<LogFrame> f = p.Next()) out.push_back(*f);
  EXPECT_FALSE(p.corrupt());
  EXPECT_EQ(p.pending(), 0u) << "a frame was left incomplete";
  return out;
}

std::string Framed(StdStream s, std::string_view payload) {
  std::string out;
  AppendFrame(out, s, payload);
  return out;
}

constexpr char kDetails[] =
    "com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1";

// --- frames and details --------------------------------------------------------------------------

TEST(TaskLogFrames, HeaderIsDockersStdcopy) {
  std::string f = Framed(StdStream::kStderr, std::string(258, 'x'));
  ASSERT_EQ(f.size(), 8u + 258u);
  EXPECT_EQ(f[0], 2);
  EXPECT_EQ(f.substr(1, 3), std::string(3, '\0'));
  EXPECT_EQ(static_cast<unsigned char>(f[6]), 1);  // 258 = 0x0102, big endian
  EXPECT_EQ(static_cast<unsigned char>(f[7]), 2);
}

TEST(TaskLogFrames, ParserTakesPiecesOfAnySize) {
  std::string stream = Framed(StdStream::kStdout, "one\n") + Framed(StdStream::kStderr, "") +
                       Framed(StdStream::kSystemErr, "three\n");
  FrameParser p;
  std::vector<LogFrame> got;
  for (char c : stream) {  // a byte at a time
    p.Feed(std::string_view(&c, 1));
    while (std::optional<LogFrame> f = p.Next()) got.push_back(*f);
  }
  EXPECT_THAT(got,
              ElementsAre(LogFrame{StdStream::kStdout, "one\n"}, LogFrame{StdStream::kStderr, ""},
                          LogFrame{StdStream::kSystemErr, "three\n"}));
  EXPECT_EQ(p.pending(), 0u);
}

TEST(TaskLogFrames, ParserRefusesWhatIsNotAFrameStream) {
  FrameParser p;
  p.Feed("HTTP/1.1 500 Internal Server Error\r\n");
  EXPECT_FALSE(p.Next().has_value());
  EXPECT_TRUE(p.corrupt());
}

TEST(TaskLogFrames, IncompleteFrameIsPending) {
  std::string f = Framed(StdStream::kStdout, "hello\n");
  FrameParser p;
  p.Feed(std::string_view(f).substr(0, 10));
  EXPECT_FALSE(p.Next().has_value());
  EXPECT_FALSE(p.corrupt());
  EXPECT_EQ(p.pending(), 10u);
}

TEST(TaskLogDetails, SortedKeysAsDockerdRendersThem) {
  EXPECT_EQ(RenderLogDetails({"n1", "s1", "t1"}), kDetails);
  // Values are query-escaped (ids never need it, but the CLI unescapes).
  EXPECT_EQ(RenderLogDetails({"a b", "x,y", "k=v"}),
            "com.docker.swarm.node.id=a+b,com.docker.swarm.service.id=x%2Cy,"
            "com.docker.swarm.task.id=k%3Dv");
}

// --- the node side's framing
// ----------------------------------------------------------------------

TEST(TaskLogDetailFramer, OneFramePerEntryWithDetailsFirst) {
  DetailFramer framer(kDetails, /*timestamps=*/false);
  std::string out;
  std::string rendered = Framed(StdStream::kStdout, "a\nb\n") + Framed(StdStream::kStderr, "c\n");
  // In two pieces, cut inside the first frame.
  framer.Feed(std::string_view(rendered).substr(0, 11), out);
  framer.Feed(std::string_view(rendered).substr(11), out);
  EXPECT_THAT(Frames(out),
              ElementsAre(LogFrame{StdStream::kStdout, absl::StrCat(kDetails, " a\n")},
                          LogFrame{StdStream::kStdout, absl::StrCat(kDetails, " b\n")},
                          LogFrame{StdStream::kStderr, absl::StrCat(kDetails, " c\n")}));
}

TEST(TaskLogDetailFramer, DetailsGoAfterTheTimestamp) {
  DetailFramer framer(kDetails, /*timestamps=*/true);
  std::string out;
  framer.Feed(Framed(StdStream::kStdout,
                     "2026-01-01T00:00:00.000000001Z hello world\n"
                     "2026-01-01T00:00:01.000000000Z no newline"),
              out);
  EXPECT_THAT(
      Frames(out),
      ElementsAre(LogFrame{StdStream::kStdout, absl::StrCat("2026-01-01T00:00:00.000000001Z ",
                                                            kDetails, " hello world\n")},
                  LogFrame{StdStream::kStdout, absl::StrCat("2026-01-01T00:00:01.000000000Z ",
                                                            kDetails, " no newline")}));
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-task-logs-test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A json-file log as the shim writes it, read by the engine's reader, reframed for the manager.
TEST(TaskLogDetailFramer, ReframesARealContainerLog) {
  TempDir dir;
  std::string path = dir.path() + "/c-json.log";
  {
    std::ofstream f(path);
    f << R"({"log":"first\n","stream":"stdout","time":"2026-01-01T00:00:01.5Z"})"
      << "\n"
      << R"({"log":"second\n","stream":"stdout","time":"2026-01-01T00:00:02Z"})"
      << "\n"
      << R"({"log":"oops\n","stream":"stderr","time":"2026-01-01T00:00:03Z"})"
      << "\n"
      << R"({"log":"third\n","stream":"stdout","time":"2026-01-01T00:00:04Z"})"
      << "\n";
  }
  engine::LogReadOptions o;
  o.timestamps = true;
  o.tail = 3;
  engine::LogReader reader(path, o);
  ASSERT_TRUE(reader.Open().ok());
  DetailFramer framer(kDetails, /*timestamps=*/true);
  std::string out;
  ASSERT_TRUE(reader.ReadAvailable([&](std::string_view d) {
    framer.Feed(d, out);
    return true;
  }));
  EXPECT_THAT(
      Frames(out),
      ElementsAre(LogFrame{StdStream::kStdout,
                           absl::StrCat("2026-01-01T00:00:02.000000000Z ", kDetails, " second\n")},
                  LogFrame{StdStream::kStderr,
                           absl::StrCat("2026-01-01T00:00:03.000000000Z ", kDetails, " oops\n")},
                  LogFrame{StdStream::kStdout,
                           absl::StrCat("2026-01-01T00:00:04.000000000Z ", kDetails, " third\n")}));
}

// --- what the client gets ----------------------------------------------------------------------

TEST(TaskLogClientOutput, KeepsOrDropsTheDetails) {
  LogFrame plain{StdStream::kStdout, absl::StrCat(kDetails, " hello world\n")};
  LogFrame stamped{StdStream::kStderr,
                   absl::StrCat("2026-01-01T00:00:00.000000001Z ", kDetails, " hello world\n")};
  TaskLogOptions o;
  o.details = true;
  EXPECT_EQ(ClientOutput(plain, o), Framed(StdStream::kStdout, plain.payload));
  o.details = false;
  EXPECT_EQ(ClientOutput(plain, o), Framed(StdStream::kStdout, "hello world\n"));
  o.timestamps = true;
  EXPECT_EQ(ClientOutput(stamped, o),
            Framed(StdStream::kStderr, "2026-01-01T00:00:00.000000001Z hello world\n"));
  o.details = true;
  EXPECT_EQ(ClientOutput(stamped, o), Framed(StdStream::kStderr, stamped.payload));
}

TEST(TaskLogClientOutput, TtyIsBareTextAndStreamsCanBeLeftOut) {
  LogFrame out{StdStream::kStdout, absl::StrCat(kDetails, " hi\n")};
  LogFrame err{StdStream::kStderr, absl::StrCat(kDetails, " bad\n")};
  TaskLogOptions o;
  o.multiplexed = false;
  EXPECT_EQ(ClientOutput(out, o), "hi\n");
  o.multiplexed = true;
  o.want_stderr = false;
  EXPECT_EQ(ClientOutput(err, o), "");
  EXPECT_EQ(ClientOutput(out, o), Framed(StdStream::kStdout, "hi\n"));
}

TEST(TaskLogClientOutput, IncompleteStreamIsDockersLine) {
  EXPECT_EQ(IncompleteStreamMessage({"node n2 is not available", "task t9 has not been scheduled"}),
            "Error grabbing logs: rpc error: code = Unknown desc = warning: incomplete log "
            "stream. some logs could not be retrieved for the following reasons: node n2 is not "
            "available, task t9 has not been scheduled\n");
}

TEST(TaskLogRequest, RoundTripsAndRefusesJunk) {
  NodeLogRequest r{{"t1", "t2"}, true, 5, 17, 99, true};
  StatusOr<NodeLogRequest> back = ParseNodeLogRequest(RenderNodeLogRequest(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->task_ids, r.task_ids);
  EXPECT_TRUE(back->follow);
  EXPECT_EQ(back->tail, 5);
  EXPECT_EQ(back->since, 17);
  EXPECT_EQ(back->until, 99);
  EXPECT_TRUE(back->timestamps);
  EXPECT_FALSE(ParseNodeLogRequest("[1,2]").ok());
  EXPECT_FALSE(ParseNodeLogRequest(R"({"task_ids": "t1"})").ok());
}

// --- which tasks, which nodes
// ----------------------------------------------------------------------

spec::Task MakeTask(std::string id, std::string service, std::string node, std::string state) {
  spec::Task t;
  t.id = std::move(id);
  t.service_id = std::move(service);
  t.node_id = std::move(node);
  t.status.state = std::move(state);
  return t;
}

spec::Node MakeNode(std::string id, std::string addr) {
  spec::Node n;
  n.id = std::move(id);
  n.status.addr = std::move(addr);
  return n;
}

std::vector<std::string> Ids(const std::vector<spec::Task>& tasks) {
  std::vector<std::string> out;
  for (const spec::Task& t : tasks) out.push_back(t.id);
  return out;
}

TEST(TaskLogSelection, ServiceTasksThatRanEachOnce) {
  std::vector<spec::Task> all = {
      MakeTask("t1", "s1", "n1", "running"), MakeTask("t2", "s1", "n2", "failed"),
      MakeTask("t3", "s1", "n1", "preparing"), MakeTask("t4", "s2", "n1", "running")};
  TaskLogSelection sel("s1", "", /*follow=*/true);
  EXPECT_THAT(Ids(sel.Take(all)), ElementsAre("t1", "t2"));
  EXPECT_TRUE(sel.Take(all).empty());
  all[2].status.state = "running";  // a new replica came up
  all.push_back(MakeTask("t5", "s1", "n2", "starting"));
  EXPECT_THAT(Ids(sel.Take(all)), ElementsAre("t3"));
}

TEST(TaskLogSelection, ATaskByIdWhateverItsState) {
  std::vector<spec::Task> all = {MakeTask("t1", "s1", "", "pending"),
                                 MakeTask("t2", "s1", "n1", "running")};
  EXPECT_THAT(Ids(TaskLogSelection("", "t1", false).Take(all)), ElementsAre("t1"));
  // Following, it comes once it runs.
  TaskLogSelection follow("", "t1", true);
  EXPECT_TRUE(follow.Take(all).empty());
  all[0].node_id = "n2";
  all[0].status.state = "running";
  EXPECT_THAT(Ids(follow.Take(all)), ElementsAre("t1"));
}

TEST(TaskLogGroupByNode, OneTargetPerNodeWithItsClusterPort) {
  std::vector<spec::Task> tasks = {
      MakeTask("t1", "s", "n1", "running"),   MakeTask("t2", "s", "n2", "running"),
      MakeTask("t3", "s", "n1", "running"),   MakeTask("t4", "s", "", "running"),
      MakeTask("t5", "s", "gone", "running"), MakeTask("t6", "s", "n6", "running")};
  std::vector<spec::Node> nodes = {MakeNode("n1", "10.0.0.1"), MakeNode("n2", "10.0.0.2"),
                                   MakeNode("n6", "fd00::6")};
  std::vector<std::string> unplaced;
  std::vector<NodeLogTarget> got = GroupByNode(tasks, nodes, &unplaced);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].node_id, "n1");
  EXPECT_EQ(got[0].addr, "10.0.0.1:2377");
  EXPECT_THAT(got[0].task_ids, ElementsAre("t1", "t3"));
  EXPECT_EQ(got[1].addr, "10.0.0.2:2377");
  EXPECT_EQ(got[2].node_id, "gone");
  EXPECT_EQ(got[2].addr, "");
  EXPECT_EQ(got[3].addr, "[fd00::6]:2377");
  EXPECT_THAT(unplaced, ElementsAre("t4"));
}

// --- the merge
// ---------------------------------------------------------------------------------------

// A node's answer: its chunks, then the end (or, when `hold`, nothing until cancelled).
class FakeStream : public NodeLogStream {
 public:
  FakeStream(std::vector<std::string> chunks, bool hold, std::atomic<int>* cancels)
      : chunks_(std::move(chunks)), hold_(hold), cancels_(cancels) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    absl::MutexLock l(&mu_);
    if (next_ < chunks_.size()) {
      std::string& c = chunks_[next_];
      size_t k = std::min(n, c.size());
      std::copy(c.begin(), c.begin() + static_cast<long>(k), buf);
      c.erase(0, k);
      if (c.empty()) ++next_;
      return k;
    }
    if (hold_) mu_.Await(absl::Condition(&cancelled_));
    if (cancelled_) return absl::CancelledError("cancelled");
    return size_t{0};
  }
  void Cancel() override {
    absl::MutexLock l(&mu_);
    if (!cancelled_) ++*cancels_;
    cancelled_ = true;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> chunks_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  const bool hold_;
  std::atomic<int>* cancels_;
};

struct FakeNodes {
  std::map<std::string, std::vector<std::string>> answers;  // by node id
  std::set<std::string> unreachable;
  bool hold = false;
  std::atomic<int> opened{0};
  std::atomic<int> cancels{0};
  absl::Mutex mu;
  std::vector<NodeLogRequest> requests ABSL_GUARDED_BY(mu);

  NodeLogOpener Opener() {
    return [this](const NodeLogTarget& t, const NodeLogRequest& r,
                  const std::atomic<bool>&) -> StatusOr<std::unique_ptr<NodeLogStream>> {
      {
        absl::MutexLock l(&mu);
        requests.push_back(r);
      }
      if (unreachable.count(t.node_id))
        return absl::UnavailableError(absl::StrCat("dial tcp ", t.addr, ": connection refused"));
      ++opened;
      auto it = answers.find(t.node_id);  // read by several reader threads: no operator[]
      std::vector<std::string> chunks =
          it == answers.end() ? std::vector<std::string>{} : it->second;
      return std::unique_ptr<NodeLogStream>(
          std::make_unique<FakeStream>(std::move(chunks), hold, &cancels));
    };
  }
};

// Two messages of a node, in frames cut across reads as a network would.
std::vector<std::string> NodeAnswer(const std::string& node, const std::string& task) {
  std::string d = RenderLogDetails({node, "s1", task});
  std::string all = Framed(StdStream::kStdout, d + " hello from " + node + "\n") +
                    Framed(StdStream::kStderr, d + " trouble on " + node + "\n");
  return {all.substr(0, 5), all.substr(5, 40), all.substr(45)};
}

struct Captured {
  std::string data;
  int writes = 0;
  LogClientSink Sink(int fail_after = -1) {
    return {[this, fail_after](std::string_view d) {
              if (fail_after >= 0 && writes >= fail_after) return false;
              ++writes;
              data.append(d);
              return true;
            },
            [] { return false; }};
  }
};

TEST(TaskLogMerger, MergesWholeFramesOfEveryNodeAndEnds) {
  FakeNodes nodes;
  nodes.answers["n1"] = NodeAnswer("n1", "t1");
  nodes.answers["n2"] = NodeAnswer("n2", "t2");
  SystemClock clock;
  TaskLogOptions o;
  o.details = true;
  o.tail = 10;
  Captured client;
  {
    TaskLogMerger m(o, nodes.Opener(), clock);
    m.Add({"n1", "10.0.0.1:2377", {"t1"}});
    m.Add({"n2", "10.0.0.2:2377", {"t2", "t3"}});
    EXPECT_TRUE(m.Run(client.Sink()));
  }
  std::vector<LogFrame> got = Frames(client.data);
  ASSERT_EQ(got.size(), 4u);
  // Each node's messages in their order; the nodes interleaved as they came.
  std::vector<std::string> n1, n2;
  for (const LogFrame& f : got)
    (absl::StrContains(f.payload, "node.id=n1,") ? n1 : n2).push_back(f.payload);
  std::string d1 = RenderLogDetails({"n1", "s1", "t1"});
  EXPECT_THAT(n1, ElementsAre(d1 + " hello from n1\n", d1 + " trouble on n1\n"));
  EXPECT_EQ(n2.size(), 2u);
  absl::MutexLock l(&nodes.mu);
  ASSERT_EQ(nodes.requests.size(), 2u);
  for (const NodeLogRequest& r : nodes.requests) {
    EXPECT_EQ(r.tail, 10);
    EXPECT_FALSE(r.follow);
  }
}

TEST(TaskLogMerger, WithoutDetailsTheClientGetsTheBareMessages) {
  FakeNodes nodes;
  nodes.answers["n1"] = NodeAnswer("n1", "t1");
  SystemClock clock;
  TaskLogOptions o;  // details=false: `docker service logs --raw`
  Captured client;
  TaskLogMerger m(o, nodes.Opener(), clock);
  m.Add({"n1", "10.0.0.1:2377", {"t1"}});
  EXPECT_TRUE(m.Run(client.Sink()));
  EXPECT_THAT(Frames(client.data), ElementsAre(LogFrame{StdStream::kStdout, "hello from n1\n"},
                                               LogFrame{StdStream::kStderr, "trouble on n1\n"}));
}

TEST(TaskLogMerger, AnUnreachableNodeIsDockersErrorAtTheEnd) {
  FakeNodes nodes;
  nodes.answers["n1"] = NodeAnswer("n1", "t1");
  nodes.unreachable = {"n2"};
  SystemClock clock;
  TaskLogOptions o;
  o.details = true;
  Captured client;
  TaskLogMerger m(o, nodes.Opener(), clock);
  m.AddReason("task t9 has not been scheduled");
  m.Add({"n1", "10.0.0.1:2377", {"t1"}});
  m.Add({"n2", "10.0.0.2:2377", {"t2"}});
  EXPECT_TRUE(m.Run(client.Sink()));
  std::vector<LogFrame> got = Frames(client.data);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].stream, StdStream::kSystemErr);
  EXPECT_EQ(got[2].payload, IncompleteStreamMessage(
                                {"task t9 has not been scheduled", "node n2 is not available"}));
}

TEST(TaskLogMerger, ACutOrGarbledStreamIsAnError) {
  FakeNodes nodes;
  std::string whole = Framed(StdStream::kStdout, RenderLogDetails({"n1", "s1", "t1"}) + " x\n");
  nodes.answers["n1"] = {whole, whole.substr(0, 12)};  // ends inside its second frame
  nodes.answers["n2"] = {"<html>not a log</html>"};
  SystemClock clock;
  TaskLogOptions o;
  Captured client;
  TaskLogMerger m(o, nodes.Opener(), clock);
  m.Add({"n1", "a:2377", {"t1"}});
  m.Add({"n2", "b:2377", {"t2"}});
  EXPECT_TRUE(m.Run(client.Sink()));
  std::vector<LogFrame> got = Frames(client.data);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "x\n");
  EXPECT_EQ(got[1].stream, StdStream::kSystemErr);
  EXPECT_THAT(got[1].payload, HasSubstr("node n1 is not available"));
  EXPECT_THAT(got[1].payload, HasSubstr("node n2: the node's answer is not a log stream"));
}

TEST(TaskLogMerger, TtyServiceGetsBareTextAndErrorText) {
  FakeNodes nodes;
  nodes.answers["n1"] = NodeAnswer("n1", "t1");
  nodes.unreachable = {"n2"};
  SystemClock clock;
  TaskLogOptions o;
  o.multiplexed = false;
  Captured client;
  TaskLogMerger m(o, nodes.Opener(), clock);
  m.Add({"n1", "a:2377", {"t1"}});
  m.Add({"n2", "b:2377", {"t2"}});
  EXPECT_TRUE(m.Run(client.Sink()));
  EXPECT_EQ(client.data, "hello from n1\ntrouble on n1\n" +
                             IncompleteStreamMessage({"node n2 is not available"}));
}

TEST(TaskLogMerger, FollowingPicksUpNewTasksAndStopsWhenTheClientLeaves) {
  FakeNodes nodes;
  nodes.answers["n1"] = NodeAnswer("n1", "t1");
  nodes.answers["n2"] = NodeAnswer("n2", "t2");
  nodes.hold = true;  // following: the nodes' streams stay open
  SystemClock clock;
  TaskLogOptions o;
  o.follow = true;
  o.poll = std::chrono::milliseconds(5);
  std::string data;
  int polls = 0;
  LogClientSink sink{[&](std::string_view d) {
                       data.append(d);
                       return true;
                     },
                     // The client leaves once both nodes' messages reached it.
                     [&] { return Frames(data).size() == 4; }};
  {
    TaskLogMerger m(o, nodes.Opener(), clock);
    m.Add({"n1", "a:2377", {"t1"}});
    bool ended = m.Run(sink, [&]() -> std::vector<NodeLogTarget> {
      // A replacement task shows up on another node on the second look.
      if (++polls == 2) return {{"n2", "b:2377", {"t2"}}};
      return {};
    });
    EXPECT_FALSE(ended);
    EXPECT_GE(polls, 2);
  }  // the merger cancels the held streams and joins its readers
  EXPECT_EQ(nodes.opened, 2);
  EXPECT_EQ(nodes.cancels, 2);
  absl::MutexLock l(&nodes.mu);
  for (const NodeLogRequest& r : nodes.requests) EXPECT_TRUE(r.follow);
}

TEST(TaskLogMerger, AClientThatCannotBeWrittenEndsTheMerge) {
  FakeNodes nodes;
  nodes.answers["n1"] = NodeAnswer("n1", "t1");
  nodes.hold = true;
  SystemClock clock;
  TaskLogOptions o;
  o.follow = true;
  o.poll = std::chrono::milliseconds(5);
  Captured client;
  {
    TaskLogMerger m(o, nodes.Opener(), clock);
    m.Add({"n1", "a:2377", {"t1"}});
    EXPECT_FALSE(m.Run(client.Sink(/*fail_after=*/0)));
  }
  EXPECT_EQ(nodes.cancels, 1);
}

// --- the wire: a node's server and a manager's client over mutual TLS on loopback
// -------------------

// A node's engine with one task container, whose log is a file the test writes.
class OneContainerEngine : public engine::ContainerService {
 public:
  OneContainerEngine(std::string log_path, std::string state_dir)
      : log_path_(std::move(log_path)), state_dir_(std::move(state_dir)) {}
  StatusOr<engine::CreateResult> Create(const spec::ContainerCreateRequest&) override {
    return absl::UnimplementedError("create");
  }
  StatusOr<bool> Start(const std::string&) override { return absl::UnimplementedError("start"); }
  StatusOr<bool> Stop(const std::string&, std::optional<int>, const std::string&) override {
    return absl::UnimplementedError("stop");
  }
  Status Remove(const std::string&, bool) override { return absl::UnimplementedError("rm"); }
  uint64_t WatchExits(ExitHandler) override { return 0; }
  void UnwatchExits(uint64_t) override {}
  uint64_t WatchHealth(HealthHandler) override { return 0; }
  void UnwatchHealth(uint64_t) override {}
  StatusOr<engine::ContainerState> State(const std::string& id) override {
    return absl::NotFoundError(id);
  }
  StatusOr<std::vector<engine::ContainerSummary>> List(bool, const spec::Filters& f, int,
                                                       bool) override {
    std::vector<engine::ContainerSummary> out;
    if (!f.ExactMatch("label", "com.docker.swarm.task.id=t1")) return out;
    engine::ContainerSummary c;
    c.id = "c1";
    c.labels = {{"com.docker.swarm.task.id", "t1"}, {"com.docker.swarm.service.id", "s1"}};
    out.push_back(c);
    return out;
  }
  StatusOr<LogSource> Logs(const std::string& id) override {
    if (id != "c1") return absl::NotFoundError(id);
    return LogSource{"c1", log_path_, state_dir_, false, running_.load(), "json-file"};
  }
  bool Running(const std::string& id) override { return id == "c1" && running_.load(); }
  std::atomic<bool> running_{false};

 private:
  std::string log_path_;
  std::string state_dir_;
};

void AppendLog(const std::string& path, const std::string& line, const std::string& stream) {
  std::ofstream f(path, std::ios::app);
  f << R"({"log":")" << line << R"(\n","stream":")" << stream
    << R"(","time":"2026-01-01T00:00:01Z"})"
    << "\n";
}

class TaskLogWireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<pki::RootCa> root = pki::RootCa::Create(clock_.Now());
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = std::make_unique<pki::RootCa>(std::move(*root));
    node_ = Paths("node", {"w1", pki::kWorkerRole, "cluster-a"});
    manager_ = Paths("manager", {"m1", pki::kManagerRole, "cluster-a"});
    worker_ = Paths("worker", {"w2", pki::kWorkerRole, "cluster-a"});
    stranger_ = Paths("stranger", {"m9", pki::kManagerRole, "cluster-b"});
    log_ = dir_.path() + "/c1-json.log";
    state_ = dir_.path() + "/state";
    ASSERT_EQ(::mkdir(state_.c_str(), 0700), 0);
    engine_ = std::make_unique<OneContainerEngine>(log_, state_);
    handler_ = std::make_unique<NodeTaskLogs>(*engine_, "w1", "cluster-a");
    NodeTaskLogs* h = handler_.get();
    router_.Add("POST", kTaskLogsPath, [h](api::Request& r, api::Conn& c) { h->Handle(r, c); });
    StatusOr<std::shared_ptr<const transport::TlsContext>> tls = ServerTls(*node_);
    ASSERT_TRUE(tls.ok()) << tls.status();
    api::ServerOptions so;
    so.tls = *tls;
    server_ = std::make_unique<api::ApiServer>(router_, so);
    ASSERT_TRUE(server_->Listen("tcp://127.0.0.1:0").ok());
    server_->Serve();
    addr_ = server_->Addresses().at(0).substr(std::string("tcp://").size());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
  }

  // A node's certificate for 127.0.0.1 (every test node is on loopback), saved as a node does.
  std::unique_ptr<NodePaths> Paths(const std::string& name, const pki::NodeIdentity& id) {
    auto paths = std::make_unique<NodePaths>(dir_.path() + "/" + name);
    StatusOr<pki::NodeKey> key = pki::NewNodeKey(id.node_id);
    EXPECT_TRUE(key.ok());
    StatusOr<std::string> cert =
        root_->SignCsr(key->csr_pem, id, {"127.0.0.1"}, clock_.Now(), std::chrono::hours(1));
    EXPECT_TRUE(cert.ok()) << cert.status();
    EXPECT_TRUE(SaveNodeCerts(*paths, root_->cert_pem(), *cert, key->key_pem).ok());
    return paths;
  }

  NodeLogOpener OpenerAs(const NodePaths& who) {
    StatusOr<std::shared_ptr<const transport::TlsContext>> tls = ClientTls(who);
    EXPECT_TRUE(tls.ok()) << tls.status();
    return DialNodeLogs(*tls, std::chrono::seconds(5));
  }

  // Reads a stream to its end.
  static std::string ReadAll(NodeLogStream& s) {
    std::string out;
    char buf[4096];
    for (;;) {
      StatusOr<size_t> n = s.Read(buf, sizeof buf);
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok() || *n == 0) return out;
      out.append(buf, *n);
    }
  }

  SystemClock clock_;
  TempDir dir_;
  std::unique_ptr<pki::RootCa> root_;
  std::unique_ptr<NodePaths> node_, manager_, worker_, stranger_;
  std::string log_, state_;
  std::unique_ptr<OneContainerEngine> engine_;
  std::unique_ptr<NodeTaskLogs> handler_;
  api::Router router_;
  std::unique_ptr<api::ApiServer> server_;
  std::string addr_;
  std::atomic<bool> no_cancel_{false};
};

TEST_F(TaskLogWireTest, AManagerReadsATasksLogWithItsDetails) {
  AppendLog(log_, "one", "stdout");
  AppendLog(log_, "two", "stderr");
  AppendLog(log_, "three", "stdout");
  NodeLogRequest req;
  req.task_ids = {"t1", "t-not-here"};
  req.tail = 2;
  StatusOr<std::unique_ptr<NodeLogStream>> s =
      OpenerAs(*manager_)({"w1", addr_, req.task_ids}, req, no_cancel_);
  ASSERT_TRUE(s.ok()) << s.status();
  std::string d = RenderLogDetails({"w1", "s1", "t1"});
  EXPECT_THAT(Frames(ReadAll(**s)), ElementsAre(LogFrame{StdStream::kStderr, d + " two\n"},
                                                LogFrame{StdStream::kStdout, d + " three\n"}));
}

TEST_F(TaskLogWireTest, OnlyThisSwarmsManagersMayAsk) {
  NodeLogRequest req;
  req.task_ids = {"t1"};
  StatusOr<std::unique_ptr<NodeLogStream>> w =
      OpenerAs(*worker_)({"w1", addr_, req.task_ids}, req, no_cancel_);
  EXPECT_TRUE(absl::IsPermissionDenied(w.status())) << w.status();
  StatusOr<std::unique_ptr<NodeLogStream>> m =
      OpenerAs(*stranger_)({"w1", addr_, req.task_ids}, req, no_cancel_);
  // A manager's certificate of another swarm (the same root here, to reach the check).
  EXPECT_TRUE(absl::IsPermissionDenied(m.status())) << m.status();
}

TEST_F(TaskLogWireTest, FollowGoesOnUntilTheContainerEnds) {
  engine_->running_ = true;
  AppendLog(log_, "before", "stdout");
  NodeLogRequest req;
  req.task_ids = {"t1"};
  req.follow = true;
  StatusOr<std::unique_ptr<NodeLogStream>> s =
      OpenerAs(*manager_)({"w1", addr_, req.task_ids}, req, no_cancel_);
  ASSERT_TRUE(s.ok()) << s.status();
  std::string d = RenderLogDetails({"w1", "s1", "t1"});
  FrameParser parser;
  auto next = [&]() -> std::optional<LogFrame> {
    char buf[4096];
    for (;;) {
      if (std::optional<LogFrame> f = parser.Next()) return f;
      StatusOr<size_t> n = (*s)->Read(buf, sizeof buf);
      if (!n.ok() || *n == 0) return std::nullopt;
      parser.Feed(std::string_view(buf, *n));
    }
  };
  EXPECT_EQ(next(), (LogFrame{StdStream::kStdout, d + " before\n"}));
  AppendLog(log_, "after", "stdout");  // inotify wakes the node's handler
  EXPECT_EQ(next(), (LogFrame{StdStream::kStdout, d + " after\n"}));
  engine_->running_ = false;
  { std::ofstream(state_ + "/exit") << "0"; }
  EXPECT_EQ(next(), std::nullopt);  // the answer ended with the container
}

TEST_F(TaskLogWireTest, TheMergeOverRealNodesAndAnUnreachableOne) {
  AppendLog(log_, "hello", "stdout");
  TaskLogOptions o;
  o.details = true;
  TaskLogMerger m(o, OpenerAs(*manager_), clock_);
  m.Add({"w1", addr_, {"t1"}});
  m.Add({"w9", "127.0.0.1:1", {"t9"}});  // nothing listens there
  Captured client;
  EXPECT_TRUE(m.Run(client.Sink()));
  std::vector<LogFrame> got = Frames(client.data);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, RenderLogDetails({"w1", "s1", "t1"}) + " hello\n");
  EXPECT_EQ(got[1].payload, IncompleteStreamMessage({"node w9 is not available"}));
}

}  // namespace
}  // namespace berth::cluster
