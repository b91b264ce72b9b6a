// `service logs`' printer: Docker's "web.1.abc123@node    | line" output from the daemon's
// stdcopy frames, and the same output however the transport cut the bytes (a frame or a line
// split across reads once printed a torn label).

#include <random>
#include <string>
#include <vector>

#include "api/client/stdcopy.h"
#include "cli/service_logs.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using client::StdcopyFrame;
using client::StdStream;

constexpr char kWeb1[] =
    "com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1";
constexpr char kWeb2[] =
    "com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t2";

// What a ServiceLogPrinter wrote, stdout and stderr apart plus both in order.
struct Output {
  std::string out, err, all;
  Status status;
  size_t pending = 0;
};

// The labels the command would resolve, without a daemon.
std::string Label(const std::string& node, const std::string& service, const std::string& task) {
  std::string name = service == "s1" ? "web" : service;
  std::string slot = task == "t1" ? "1" : task == "t2" ? "2" : "?";
  std::string host = node == "n1" ? "node-a" : node == "n2" ? "node-b" : node;
  return name + "." + slot + "." + task + "@" + host;
}

// Prints `stream` fed in the pieces that `cuts` (increasing offsets) make of it.
Output Print(const ServiceLogOptions& opts, const std::string& stream,
             const std::vector<size_t>& cuts) {
  Output o;
  ServiceLogPrinter p(opts, Label, [&](StdStream s, std::string_view text) {
    (s == StdStream::kStderr ? o.err : o.out).append(text);
    o.all.append(text);
  });
  size_t at = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    o.status = p.Feed(std::string_view(stream).substr(at, end - at));
    at = end;
    if (!o.status.ok()) break;
  }
  o.pending = p.pending();
  return o;
}

// Two tasks interleaved on stdout and stderr, a line longer than a read, an empty message, and a
// last line without its newline (berthd frames a trailing partial line on its own).
std::string TwoTasks(bool timestamps) {
  std::string ts1 = timestamps ? "2026-12-02T21:00:00.000000001Z " : "";
  std::string ts2 = timestamps ? "2026-12-02T21:00:01.5Z " : "";
  return StdcopyFrame(StdStream::kStdout, ts1 + kWeb1 + " hello from 1\n") +
         StdcopyFrame(StdStream::kStdout, ts2 + kWeb2 + " hello from 2\n") +
         StdcopyFrame(StdStream::kStderr, ts1 + kWeb1 + " oops\n") +
         StdcopyFrame(StdStream::kStdout, ts2 + kWeb2 + " " + std::string(300, 'x') + "\n") +
         StdcopyFrame(StdStream::kStdout, ts1 + kWeb1 + " \n") +
         StdcopyFrame(StdStream::kStdout, ts2 + kWeb2 + " no newline");
}

TEST(CliServiceLogs, WholeFramesGetDockersLabel) {
  Output o = Print({}, TwoTasks(false), {});
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.out,
            "web.1.t1@node-a    | hello from 1\n"
            "web.2.t2@node-b    | hello from 2\n"
            "web.2.t2@node-b    | " + std::string(300, 'x') + "\n"
            "web.1.t1@node-a    | \n"
            "web.2.t2@node-b    | no newline");
  EXPECT_EQ(o.err, "web.1.t1@node-a    | oops\n");
  EXPECT_EQ(o.pending, 0u);
}

TEST(CliServiceLogs, TimestampsDetailsAndRaw) {
  std::string s = StdcopyFrame(
      StdStream::kStdout,
      std::string("2026-12-02T21:00:00Z ") + kWeb1 + ",env=prod,a%2Cb=c+d,a=1,a-b=2 line one\n");
  Output t = Print({.timestamps = true, .details = true}, s, {});
  ASSERT_TRUE(t.status.ok()) << t.status;
  EXPECT_EQ(t.out, "2026-12-02T21:00:00Z web.1.t1@node-a    | a,b=c d,a-b=2,a=1,env=prod line one\n");
  Output raw = Print({.raw = true},
                     StdcopyFrame(StdStream::kStdout, "line one\n") +
                         StdcopyFrame(StdStream::kStderr, "err two\n"),
                     {});
  ASSERT_TRUE(raw.status.ok()) << raw.status;
  EXPECT_EQ(raw.out, "line one\n");
  EXPECT_EQ(raw.err, "err two\n");
}

TEST(CliServiceLogs, SameOutputWhereverTheStreamIsCut) {
  for (ServiceLogOptions opts : {ServiceLogOptions{}, ServiceLogOptions{.timestamps = true},
                                 ServiceLogOptions{.details = true},
                                 ServiceLogOptions{.raw = true}}) {
    // Raw output has no details to parse; the framing is what is under test there.
    std::string stream = TwoTasks(opts.timestamps);
    Output whole = Print(opts, stream, {});
    ASSERT_TRUE(whole.status.ok()) << whole.status;
    ASSERT_FALSE(whole.out.empty());
    for (size_t i = 1; i < stream.size(); ++i) {
      Output two = Print(opts, stream, {i});
      ASSERT_TRUE(two.status.ok()) << "cut at " << i << ": " << two.status;
      ASSERT_EQ(two.all, whole.all) << "cut at " << i;
      ASSERT_EQ(two.err, whole.err) << "cut at " << i;
    }
    std::vector<size_t> every_byte;
    for (size_t i = 1; i < stream.size(); ++i) every_byte.push_back(i);
    Output bytes = Print(opts, stream, every_byte);
    ASSERT_TRUE(bytes.status.ok()) << bytes.status;
    EXPECT_EQ(bytes.all, whole.all);
    std::mt19937 rng(12);  // fixed: a failure must replay
    for (int round = 0; round < 200; ++round) {
      std::vector<size_t> cuts;
      std::uniform_int_distribution<size_t> gap(1, 24);
      for (size_t at = gap(rng); at < stream.size(); at += gap(rng)) cuts.push_back(at);
      Output random = Print(opts, stream, cuts);
      ASSERT_TRUE(random.status.ok()) << random.status;
      ASSERT_EQ(random.all, whole.all) << "round " << round;
    }
  }
}

TEST(CliServiceLogs, ALineIsPrintedAsSoonAsItsFrameIsComplete) {
  // --follow: nothing waits for the next frame, and a half frame prints nothing yet.
  std::string first = StdcopyFrame(StdStream::kStdout, std::string(kWeb1) + " first\n");
  std::string second = StdcopyFrame(StdStream::kStdout, std::string(kWeb2) + " second\n");
  std::string out;
  ServiceLogPrinter p({}, Label, [&](StdStream, std::string_view text) { out.append(text); });
  ASSERT_TRUE(p.Feed(first + second.substr(0, 20)).ok());
  EXPECT_EQ(out, "web.1.t1@node-a    | first\n");
  EXPECT_EQ(p.pending(), 20u);
  ASSERT_TRUE(p.Feed(second.substr(20)).ok());
  EXPECT_EQ(out, "web.1.t1@node-a    | first\nweb.2.t2@node-b    | second\n");
  EXPECT_EQ(p.pending(), 0u);
}

TEST(CliServiceLogs, ErrorsOfTheStream) {
  // The daemon's in-band error ends the command as docker's stdcopy ends it.
  Output e = Print({},
                   StdcopyFrame(StdStream::kStdout, std::string(kWeb1) + " ok\n") +
                       StdcopyFrame(StdStream::kSystemErr, "Error grabbing logs: node gone\n"),
                   {3, 40});
  EXPECT_EQ(e.status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(e.status.message(), "error from daemon in stream: Error grabbing logs: node gone\n");
  EXPECT_EQ(e.out, "web.1.t1@node-a    | ok\n");
  Output unframed = Print({}, "PING 10.0.0.2\n", {});
  EXPECT_EQ(unframed.status.code(), absl::StatusCode::kInvalidArgument);
  Output no_details = Print({.timestamps = true},
                            StdcopyFrame(StdStream::kStdout, "2026-12-02T21:00:00Z bare\n"), {});
  EXPECT_EQ(no_details.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(no_details.out, "");
  Output no_task = Print({}, StdcopyFrame(StdStream::kStdout,
                                          "com.docker.swarm.node.id=n1,"
                                          "com.docker.swarm.service.id=s1,x=1 line\n"),
                         {});
  EXPECT_EQ(no_task.status.message(), "missing task id in details: map[x:1]");
}

TEST(CliServiceLogs, ParseLogDetailsUnescapes) {
  auto d = ParseLogDetails("a=1,b%3Dc=x+y%2C,,noequals,e=");
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d["a"], "1");
  EXPECT_EQ(d["b=c"], "x y,");
  EXPECT_EQ(d["e"], "");
}

}  // namespace
}  // namespace berth::cli
