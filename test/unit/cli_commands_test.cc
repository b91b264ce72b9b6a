// Whole commands against the fake engine: the calls they make and in which order, what they
// print, their exit codes (docker's, per the reference transcript).

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sstream>

#include "api/client/stdcopy.h"
#include "cli/cli.h"
#include "client_fake_server.h"
#include "scoped_env.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using berth::testing::FakeRequest;
using berth::testing::FakeResponse;
using berth::testing::FakeServer;
using berth::testing::FakeWriteAll;
using berth::testing::ServePing;
using client::StdcopyFrame;
using client::StdStream;

constexpr const char* kId = "b5264de1247ff47743d26383aabc582056bdf0498f80968903a084bbac447538";

// An in-memory file standing in for the terminal's stdout/stderr descriptors.
class MemFd {
 public:
  MemFd() : fd_(::memfd_create("berth-test", MFD_CLOEXEC)) {}
  ~MemFd() { ::close(fd_); }
  int fd() const { return fd_; }
  std::string Read() const {
    std::string out;
    char buf[4096];
    ssize_t n;
    off_t off = 0;
    while ((n = ::pread(fd_, buf, sizeof buf, off)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
    return out;
  }

 private:
  int fd_;
};

struct Result {
  int rc;
  std::string out, err, raw_out, raw_err;
};

Result RunCli(const FakeServer& server, std::vector<std::string> args) {
  std::vector<std::string> full = {"-H", server.host()};
  full.insert(full.end(), args.begin(), args.end());
  std::ostringstream out, err;
  MemFd raw_out, raw_err;
  int rc = Run(full, out, err, raw_out.fd(), raw_err.fd());
  return {rc, out.str(), err.str(), raw_out.Read(), raw_err.Read()};
}

bool Has(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

TEST(CliCommandsTest, RunDetachedCreatesWaitsThenStartsAndPrintsId) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (Has(r.target, "/containers/create")) {
      FakeWriteAll(fd, FakeResponse(201, std::string(R"({"Id":")") + kId + R"(","Warnings":[]})"));
    } else if (Has(r.target, "/wait")) {
      // Headers at once, the body only when the CLI is gone (it is not read with -d).
      FakeWriteAll(fd,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n");
    } else if (Has(r.target, "/start")) {
      FakeWriteAll(fd, FakeResponse(204, ""));
    }
  });
  Result res = RunCli(server, {"run", "-d", "-it", "--name", "b1", "busybox"});
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out, std::string(kId) + "\n");
  auto calls = server.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0], "HEAD /_ping");
  EXPECT_EQ(calls[1], "POST /v1.41/containers/create?name=b1");
  EXPECT_EQ(calls[2], std::string("POST /v1.41/containers/") + kId + "/wait?condition=next-exit");
  EXPECT_EQ(calls[3], std::string("POST /v1.41/containers/") + kId + "/start");
}

TEST(CliCommandsTest, RunWithMissingImageSaysUnableToFind) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(404, R"({"message":"No such image: busybox:latest"})"));
  });
  Result res = RunCli(server, {"run", "-d", "busybox"});
  EXPECT_EQ(res.rc, 125);
  EXPECT_EQ(res.err,
            "Unable to find image 'busybox:latest' locally\n"
            "docker: Error response from daemon: No such image: busybox:latest\n\n"
            "Run 'docker run --help' for more information\n");
  EXPECT_EQ(res.out, "");
}

int RunWithStartError(const std::string& message, std::string* err, std::string* out = nullptr) {
  FakeServer server([&](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (Has(r.target, "/containers/create")) {
      FakeWriteAll(fd, FakeResponse(201, std::string(R"({"Id":")") + kId + R"(","Warnings":[]})"));
    } else if (Has(r.target, "/wait")) {
      FakeWriteAll(fd,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n");
    } else {
      FakeWriteAll(fd, FakeResponse(400, nlohmann::json{{"message", message}}.dump()));
    }
  });
  Result res = RunCli(server, {"run", "-d", "busybox", "nosuchcmd"});
  *err = res.err;
  if (out != nullptr) *out = res.out;
  return res.rc;
}

TEST(CliCommandsTest, RunStartFailureExitCodes) {
  std::string err;
  EXPECT_EQ(RunWithStartError("OCI runtime create failed: exec: \"nosuchcmd\": executable file "
                              "not found in $PATH: unknown",
                              &err),
            127);
  EXPECT_TRUE(Has(err, "docker: Error response from daemon: OCI runtime create failed"));
  EXPECT_EQ(RunWithStartError("exec: \"/etc\": permission denied", &err), 126);
  std::string out;
  EXPECT_EQ(RunWithStartError(
                "user specified IP address is supported on user defined networks only", &err, &out),
            125);
  EXPECT_EQ(out, std::string(kId) + "\n");  // the id comes first, as in the transcript
  EXPECT_EQ(err,
            "docker: Error response from daemon: user specified IP address is supported on user "
            "defined networks only\n\nRun 'docker run --help' for more information\n");
}

TEST(CliCommandsTest, RunForegroundAttachesBeforeStartAndExitsWithContainerCode) {
  std::atomic<bool> started{false};
  FakeServer server([&](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (Has(r.target, "/containers/create")) {
      FakeWriteAll(fd, FakeResponse(201, std::string(R"({"Id":")") + kId + R"(","Warnings":[]})"));
    } else if (Has(r.target, "/attach")) {
      FakeWriteAll(fd,
                   "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream"
                   "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
      while (!started) ::usleep(1000);
      FakeWriteAll(fd, StdcopyFrame(StdStream::kStdout, "hello\n") +
                           StdcopyFrame(StdStream::kStderr, "oops\n"));
    } else if (Has(r.target, "/wait")) {
      FakeWriteAll(fd,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n");
      while (!started) ::usleep(1000);
      std::string body = R"({"Error":null,"StatusCode":3})";
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", body.size());
      FakeWriteAll(fd, size + body + "\r\n0\r\n\r\n");
    } else if (Has(r.target, "/start")) {
      started = true;
      FakeWriteAll(fd, FakeResponse(204, ""));
    }
  });
  Result res = RunCli(server, {"run", "--name", "x", "busybox", "sh", "-c", "echo hello; exit 3"});
  EXPECT_EQ(res.rc, 3) << res.err;
  EXPECT_EQ(res.raw_out, "hello\n");
  EXPECT_EQ(res.raw_err, "oops\n");
  auto calls = server.calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_TRUE(Has(calls[2], "/attach?stderr=1&stdout=1&stream=1")) << calls[2];
  EXPECT_TRUE(Has(calls[3], "/wait?condition=next-exit")) << calls[3];
  EXPECT_TRUE(Has(calls[4], "/start")) << calls[4];
  auto reqs = server.requests();
  auto body = nlohmann::json::parse(reqs[1].body);
  EXPECT_EQ(body["Cmd"], nlohmann::json::array({"sh", "-c", "echo hello; exit 3"}));
}

TEST(CliCommandsTest, RunProxiesSignalsToTheContainer) {
  std::atomic<bool> killed{false};
  FakeServer server([&](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (Has(r.target, "/containers/create")) {
      FakeWriteAll(fd, FakeResponse(201, std::string(R"({"Id":")") + kId + R"(","Warnings":[]})"));
    } else if (Has(r.target, "/attach")) {
      FakeWriteAll(fd, "HTTP/1.1 101 UPGRADED\r\n\r\n");
      while (!killed) ::usleep(1000);  // the stream ends once the container got the signal
    } else if (Has(r.target, "/wait")) {
      FakeWriteAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      while (!killed) ::usleep(1000);
      FakeWriteAll(fd, "12\r\n{\"StatusCode\":130}\r\n0\r\n\r\n");
    } else if (Has(r.target, "/kill")) {
      killed = true;
      FakeWriteAll(fd, FakeResponse(204, ""));
    } else {
      FakeWriteAll(fd, FakeResponse(204, ""));
    }
  });
  std::thread interrupter([&] {
    server.WaitFor("/start");
    ::usleep(50000);  // let the CLI reach its copy loop, where the handler is installed
    ::kill(::getpid(), SIGINT);
  });
  Result res = RunCli(server, {"run", "busybox", "sleep", "100"});
  interrupter.join();
  EXPECT_EQ(res.rc, 130);
  EXPECT_TRUE(Has(server.calls().back(), "/kill?signal=SIGINT")) << server.calls().back();
}

TEST(CliCommandsTest, RunRmWaitsForRemoval) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (Has(r.target, "/containers/create")) {
      FakeWriteAll(fd, FakeResponse(201, std::string(R"({"Id":")") + kId + R"(","Warnings":[]})"));
    } else if (Has(r.target, "/wait")) {
      FakeWriteAll(fd, FakeResponse(200, R"({"StatusCode":0})"));
    } else {
      FakeWriteAll(fd, FakeResponse(204, ""));
    }
  });
  Result res = RunCli(server, {"run", "-d", "--rm", "busybox"});
  EXPECT_EQ(res.rc, 0);
  auto reqs = server.requests();
  EXPECT_TRUE(Has(server.calls()[2], "/wait?condition=removed"));
  EXPECT_EQ(nlohmann::json::parse(reqs[1].body)["HostConfig"]["AutoRemove"], true);
}

TEST(CliCommandsTest, ExecStreamsOutputAndReturnsTheProcessExitCode) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (r.target == "/v1.41/containers/b2/json") {
      FakeWriteAll(
          fd, FakeResponse(200, R"({"Id":"c2","State":{"Running":true},"Config":{"Tty":false}})"));
    } else if (r.target == "/v1.41/containers/b2/exec") {
      FakeWriteAll(fd, FakeResponse(201, R"({"Id":"e1"})"));
    } else if (r.target == "/v1.41/exec/e1/start") {
      FakeWriteAll(fd,
                   "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream"
                   "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" +
                       StdcopyFrame(StdStream::kStdout, "PING b1\n") +
                       StdcopyFrame(StdStream::kStderr, "ping: bad address\n"));
    } else if (r.target == "/v1.41/exec/e1/json") {
      FakeWriteAll(fd, FakeResponse(200, R"({"ID":"e1","Running":false,"ExitCode":1})"));
    }
  });
  Result res = RunCli(server, {"exec", "b2", "ping", "-c", "1", "-W", "2", "b1"});
  EXPECT_EQ(res.rc, 1);
  EXPECT_EQ(res.raw_out, "PING b1\n");
  EXPECT_EQ(res.raw_err, "ping: bad address\n");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 5u);
  // api-traces/b1-resolv-conf.md
  EXPECT_EQ(nlohmann::json::parse(reqs[2].body), nlohmann::json::parse(R"({
    "User": "", "Privileged": false, "Tty": false, "AttachStdin": false, "AttachStderr": true,
    "AttachStdout": true, "Detach": false, "DetachKeys": "", "Env": null, "WorkingDir": "",
    "Cmd": ["ping", "-c", "1", "-W", "2", "b1"]})"));
  EXPECT_EQ(nlohmann::json::parse(reqs[3].body),
            nlohmann::json::parse(R"({"Detach":false,"Tty":false})"));
  EXPECT_EQ(reqs[3].headers["upgrade"], "tcp");
}

TEST(CliCommandsTest, RmReportsEachErrorAndExitsOne) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (Has(r.target, "nosuch")) {
      FakeWriteAll(fd, FakeResponse(404, R"({"message":"No such container: nosuch"})"));
    } else {
      FakeWriteAll(fd, FakeResponse(204, ""));
    }
  });
  Result res = RunCli(server, {"rm", "tweb", "nosuch", "r3"});
  EXPECT_EQ(res.rc, 1);
  EXPECT_EQ(res.out, "tweb\nr3\n");
  EXPECT_EQ(res.err, "Error response from daemon: No such container: nosuch\n");
  EXPECT_EQ(server.calls()[1], "DELETE /v1.41/containers/tweb");
  // With -f a container that is already gone is skipped silently.
  Result forced = RunCli(server, {"rm", "-f", "tweb", "nosuch"});
  EXPECT_EQ(forced.rc, 0);
  EXPECT_EQ(forced.out, "tweb\n");
  EXPECT_EQ(forced.err, "");
  EXPECT_EQ(server.calls().back(), "DELETE /v1.41/containers/nosuch?force=1");
}

TEST(CliCommandsTest, InspectFindsSwarmObjectsInTheDockerClisOrder) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (r.target == "/v1.41/tasks/t1") {
      FakeWriteAll(fd, FakeResponse(200, R"({"ID":"t1","Slot":1})"));
      return;
    }
    FakeWriteAll(fd, FakeResponse(404, R"({"message":"not found"})"));
  });
  Result res = RunCli(server, {"inspect", "-f", "{{.ID}} {{.Slot}}", "t1"});
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out, "t1 1\n");
  std::vector<std::string> paths;
  for (const std::string& c : server.calls())
    if (c.find("_ping") == std::string::npos) paths.push_back(c);
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "GET /v1.41/containers/t1/json", "GET /v1.41/images/t1/json",
                       "GET /v1.41/networks/t1", "GET /v1.41/volumes/t1", "GET /v1.41/services/t1",
                       "GET /v1.41/tasks/t1"}));
}

TEST(CliCommandsTest, InspectSkipsSwarmObjectsOffAManager) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    for (const char* p : {"/v1.41/services/", "/v1.41/tasks/", "/v1.41/nodes/", "/v1.41/secrets/",
                          "/v1.41/configs/"})
      if (r.target.rfind(p, 0) == 0) {
        FakeWriteAll(fd, FakeResponse(503, R"({"message":"This node is not a swarm manager."})"));
        return;
      }
    FakeWriteAll(fd, FakeResponse(404, R"({"message":"not found"})"));
  });
  Result res = RunCli(server, {"inspect", "nosuch"});
  EXPECT_EQ(res.rc, 1);
  EXPECT_EQ(res.err, "Error: No such object: nosuch\n");
  Result typed = RunCli(server, {"inspect", "--type", "task", "nosuch"});
  EXPECT_EQ(typed.rc, 1);
  EXPECT_NE(typed.err.find("not a swarm manager"), std::string::npos) << typed.err;
  Result bad = RunCli(server, {"inspect", "--type", "gadget", "x"});
  EXPECT_EQ(bad.rc, 1);
  EXPECT_EQ(bad.err, "\"gadget\" is not a valid value for --type\n");
}

TEST(CliCommandsTest, InspectShowsAManagersOtherSwarmErrors) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (r.target.rfind("/v1.41/services/", 0) == 0) {
      FakeWriteAll(fd, FakeResponse(503, R"({"message":"rpc error: code = Unknown desc = The swarm does not have a leader."})"));
      return;
    }
    FakeWriteAll(fd, FakeResponse(404, R"({"message":"not found"})"));
  });
  Result res = RunCli(server, {"inspect", "web"});
  EXPECT_EQ(res.rc, 1);
  EXPECT_NE(res.err.find("does not have a leader"), std::string::npos) << res.err;
  Result bad = RunCli(server, {"inspect", "--type", "gadget", "x"});
  EXPECT_EQ(bad.rc, 1);
  EXPECT_EQ(bad.err, "\"gadget\" is not a valid value for --type\n");
}

TEST(CliCommandsTest, InspectUnknownPrintsEmptyArrayThenError) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(404, R"({"message":"not found"})"));
  });
  Result res = RunCli(server, {"inspect", "nosuch"});
  EXPECT_EQ(res.rc, 1);
  EXPECT_EQ(res.out, "[]\n");
  EXPECT_EQ(res.err, "Error: No such object: nosuch\n");
  Result typed = RunCli(server, {"container", "inspect", "nosuch"});
  EXPECT_EQ(typed.rc, 1);
  EXPECT_EQ(typed.out, "[]\n");
  EXPECT_EQ(typed.err, "Error response from daemon: not found\n");
}

TEST(CliCommandsTest, InspectKeepsDaemonKeyOrderAndRunsTemplates) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(
        fd, FakeResponse(
                200, R"({"Id":"abc","Name":"/b1","NetworkSettings":{"IPAddress":"172.17.0.2"}})"));
  });
  Result res = RunCli(server, {"inspect", "b1"});
  EXPECT_EQ(res.rc, 0);
  EXPECT_EQ(res.out,
            "[\n    {\n        \"Id\": \"abc\",\n        \"Name\": \"/b1\",\n        "
            "\"NetworkSettings\": {\n            \"IPAddress\": \"172.17.0.2\"\n        }\n    "
            "}\n]\n");
  Result f = RunCli(server, {"inspect", "-f", "{{.NetworkSettings.IPAddress}}", "b1"});
  EXPECT_EQ(f.rc, 0);
  EXPECT_EQ(f.out, "172.17.0.2\n");
}

TEST(CliCommandsTest, NetworkLsPrintsDockersTable) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(200, R"([
      {"Name":"none","Id":"f1d796a99fa4aaaa","Driver":"null","Scope":"local"},
      {"Name":"bridge","Id":"955830a6de53bbbb","Driver":"bridge","Scope":"local"},
      {"Name":"host","Id":"fa88d95acf19cccc","Driver":"host","Scope":"local"}])"));
  });
  Result res = RunCli(server, {"network", "ls"});
  EXPECT_EQ(res.rc, 0);
  // docker-tutorial-transcript.md, default-network-ls
  EXPECT_EQ(res.out,
            "NETWORK ID     NAME      DRIVER    SCOPE\n"
            "955830a6de53   bridge    bridge    local\n"
            "fa88d95acf19   host      host      local\n"
            "f1d796a99fa4   none      null      local\n");
  Result q = RunCli(server, {"network", "ls", "-q", "--filter", "driver=bridge"});
  EXPECT_EQ(q.out, "955830a6de53\nfa88d95acf19\nf1d796a99fa4\n");
  EXPECT_EQ(server.calls().back(),
            "GET /v1.41/networks?filters=%7B%22driver%22%3A%7B%22bridge%22%3Atrue%7D%7D");
}

TEST(CliCommandsTest, NetworkRmUnknownPrintsExitStatusLine) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(404, R"({"message":"network nosuchnet not found"})"));
  });
  Result res = RunCli(server, {"network", "rm", "nosuchnet"});
  EXPECT_EQ(res.rc, 1);
  EXPECT_EQ(res.err, "Error response from daemon: network nosuchnet not found\nexit status 1\n");
}

TEST(CliCommandsTest, NetworkCreateClientErrorMakesNoApiCallButPing) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(201, R"({"Id":"x","Warning":""})"));
  });
  Result res = RunCli(server, {"network", "create", "--subnet=10.16.0.0/24", "--aux-address",
                               "10.16.0.2", "auxnokey"});
  EXPECT_EQ(res.rc, 1);
  EXPECT_EQ(res.err, "no matching subnet for aux-address \n");
  for (const auto& c : server.calls()) EXPECT_FALSE(Has(c, "/networks/create"));
  Result ok = RunCli(server, {"network", "create", "testNetwork"});
  EXPECT_EQ(ok.rc, 0);
  EXPECT_EQ(ok.out, "x\n");
}

TEST(CliCommandsTest, PsFormatsRowsFromTheList) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(
        fd, FakeResponse(
                200, R"([{"Id":"8f97dbb7af47da0d1cec0a470309f85fda2a65e3f6daea9491286bc578ce4ff4",
      "Names":["/pweb4"],"Image":"web","Command":"httpd -f -p 80 -h /www","Created":1795836411,
      "Ports":[{"IP":"127.0.0.1","PrivatePort":80,"PublicPort":8082,"Type":"tcp"}],
      "Labels":{},"State":"running","Status":"Up 18 seconds",
      "NetworkSettings":{"Networks":{"testNetwork":{},"bridge":{}}}}])"));
  });
  Result res =
      RunCli(server, {"ps", "-a", "--format",
                      "{{.Names}} {{.Status}} {{.Networks}} {{.Ports}} {{.Command}} {{.ID}}"});
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(
      res.out,
      "pweb4 Up 18 seconds bridge,testNetwork 127.0.0.1:8082->80/tcp \"httpd -f -p 80 -h /…\" "
      "8f97dbb7af47\n");
  EXPECT_EQ(server.calls()[1], "GET /v1.41/containers/json?all=1");
  Result q = RunCli(server, {"ps", "-q", "--no-trunc"});
  EXPECT_EQ(q.out, "8f97dbb7af47da0d1cec0a470309f85fda2a65e3f6daea9491286bc578ce4ff4\n");
}

TEST(CliCommandsTest, LogsDemultiplexesUnlessTty) {
  bool tty = false;
  FakeServer server([&](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (Has(r.target, "/json")) {
      FakeWriteAll(fd, FakeResponse(200, std::string(R"({"Id":"c1","Config":{"Tty":)") +
                                             (tty ? "true" : "false") + "}}"));
    } else if (tty) {
      FakeWriteAll(fd, FakeResponse(200, "raw tty text\r\n", "application/vnd.docker.raw-stream"));
    } else {
      FakeWriteAll(fd, FakeResponse(200,
                                    StdcopyFrame(StdStream::kStdout, "out\n") +
                                        StdcopyFrame(StdStream::kStderr, "err\n"),
                                    "application/vnd.docker.multiplexed-stream"));
    }
  });
  Result res = RunCli(server, {"logs", "--tail", "5", "c1"});
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.raw_out, "out\n");
  EXPECT_EQ(res.raw_err, "err\n");
  EXPECT_EQ(server.calls()[2], "GET /v1.41/containers/c1/logs?stderr=1&stdout=1&tail=5");
  tty = true;
  Result t = RunCli(server, {"logs", "c1"});
  EXPECT_EQ(t.raw_out, "raw tty text\r\n");
}

TEST(CliCommandsTest, PortListsBindings) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(200, R"({"Id":"p","NetworkSettings":{"Ports":{
      "80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],
      "53/udp":[{"HostIp":"0.0.0.0","HostPort":"5353"}],"81/tcp":null}}})"));
  });
  Result res = RunCli(server, {"port", "pweb"});
  EXPECT_EQ(res.rc, 0);
  EXPECT_EQ(res.out, "53/udp -> 0.0.0.0:5353\n80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n");
  Result one = RunCli(server, {"port", "pweb", "80"});
  EXPECT_EQ(one.out, "0.0.0.0:8080\n[::]:8080\n");
}

TEST(CliCommandsTest, LoadPostsTheArchiveAndPrintsTheStream) {
  char path[] = "/tmp/berth-load-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_EQ(::write(fd, "TARBYTES", 8), 8);
  ::close(fd);
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(200, "{\"stream\":\"Loaded image: busybox:latest\\n\"}\r\n"));
  });
  Result res = RunCli(server, {"load", "-i", path});
  ::unlink(path);
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out, "Loaded image: busybox:latest\n");
  auto reqs = server.requests();
  EXPECT_EQ(reqs[1].body, "TARBYTES");
  EXPECT_EQ(reqs[1].headers["content-type"], "application/x-tar");
}

TEST(CliCommandsTest, RunStillStartsWhenTheDaemonHoldsBackWaitHeaders) {
  // A daemon that answers wait only when the container exits: run falls back to starting after
  // a grace period instead of deadlocking.
  std::atomic<bool> started{false};
  FakeServer server([&](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    if (Has(r.target, "/containers/create")) {
      FakeWriteAll(fd, FakeResponse(201, std::string(R"({"Id":")") + kId + R"(","Warnings":[]})"));
    } else if (Has(r.target, "/wait")) {
      while (!started) ::usleep(1000);
      FakeWriteAll(fd, FakeResponse(200, R"({"StatusCode":0})"));
    } else {
      started = true;
      FakeWriteAll(fd, FakeResponse(204, ""));
    }
  });
  Result res = RunCli(server, {"run", "-d", "busybox"});
  EXPECT_EQ(res.rc, 0);
  EXPECT_EQ(res.out, std::string(kId) + "\n");
  EXPECT_TRUE(started);
}

TEST(CliCommandsTest, ImagesTableWithDockersUnits) {
  ::setenv("TZ", "UTC", 1);
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(200, R"([
      {"Id":"sha256:cfeb95b09bb9e21759d77a0a9f624feaf201048778159633f16ce39d58991059",
       "RepoTags":["busybox:latest","localhost:5000/web:v2"],"Created":0,"Size":2157568},
      {"Id":"sha256:29591e142fbfbe106df16957e9b1acb73da4597b3d1480d436e1f55cd787a220",
       "RepoTags":null,"Created":0,"Size":123456789}])"));
  });
  Result res = RunCli(server, {"images"});
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out,
            "REPOSITORY           TAG       IMAGE ID       CREATED   SIZE\n"
            "busybox              latest    cfeb95b09bb9   N/A       2.16MB\n"
            "localhost:5000/web   v2        cfeb95b09bb9   N/A       2.16MB\n"
            "<none>               <none>    29591e142fbf   N/A       123MB\n");
  Result q = RunCli(server, {"images", "-q", "--filter", "dangling=true"});
  EXPECT_EQ(q.out, "cfeb95b09bb9\ncfeb95b09bb9\n29591e142fbf\n");
  EXPECT_EQ(server.calls().back(),
            "GET /v1.41/images/json?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D");
}

TEST(CliCommandsTest, ImagesDigestsColumnAsDocker) {
  ::setenv("TZ", "UTC", 1);
  std::string d1 = "sha256:" + std::string(64, '1'), d2 = "sha256:" + std::string(64, '2');
  std::string body = R"([
      {"Id":"sha256:cfeb95b09bb9e21759d77a0a9f624feaf201048778159633f16ce39d58991059",
       "RepoTags":["busybox:latest","localhost:5000/web:v2"],
       "RepoDigests":["busybox@)" + d1 + R"("],"Created":0,"Size":2157568},
      {"Id":"sha256:19591e142fbfbe106df16957e9b1acb73da4597b3d1480d436e1f55cd787a220",
       "RepoTags":null,"RepoDigests":["localhost:5000/multi@)" + d2 + R"("],"Created":0,"Size":1000},
      {"Id":"sha256:29591e142fbfbe106df16957e9b1acb73da4597b3d1480d436e1f55cd787a220",
       "RepoTags":["<none>:<none>"],"RepoDigests":["<none>@<none>"],"Created":0,"Size":123456789}])";
  FakeServer server([&](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(200, body));
  });
  Result res = RunCli(server, {"images", "--digests"});
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out,
            "REPOSITORY             TAG       DIGEST                                                                    IMAGE ID       CREATED   SIZE\n"
            "busybox                latest    " + d1 + "   cfeb95b09bb9   N/A       2.16MB\n"
            "localhost:5000/web     v2        <none>                                                                    cfeb95b09bb9   N/A       2.16MB\n"
            "localhost:5000/multi   <none>    " + d2 + "   19591e142fbf   N/A       1kB\n"
            "<none>                 <none>    <none>                                                                    29591e142fbf   N/A       123MB\n");
  Result plain = RunCli(server, {"images"});
  EXPECT_EQ(plain.out,
            "REPOSITORY             TAG       IMAGE ID       CREATED   SIZE\n"
            "busybox                latest    cfeb95b09bb9   N/A       2.16MB\n"
            "localhost:5000/web     v2        cfeb95b09bb9   N/A       2.16MB\n"
            "localhost:5000/multi   <none>    19591e142fbf   N/A       1kB\n"
            "<none>                 <none>    29591e142fbf   N/A       123MB\n");
}

TEST(CliCommandsTest, PullShowsDockersLinesOffATerminal) {
  std::string stream =
      "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\r\n"
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"e5d9363303dd\"}\r\n"
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":5,\"total\":10},\"progress\":\"[==\\u003e ]\",\"id\":\"e5d9363303dd\"}\r\n"
      "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"e5d9363303dd\"}\r\n"
      "{\"status\":\"Digest: sha256:abc\"}\r\n"
      "{\"status\":\"Status: Downloaded newer image for busybox:latest\"}\r\n";
  std::string auth;
  FakeServer server([&](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    auth = r.headers.count("x-registry-auth") ? r.headers.at("x-registry-auth") : "(none)";
    if (r.target.find("nosuch") != std::string::npos) {
      FakeWriteAll(fd, FakeResponse(404, R"({"message":"pull access denied for nosuch, repository does not exist or may require 'docker login'"})"));
      return;
    }
    if (r.target.find("broken") != std::string::npos) {
      FakeWriteAll(fd, FakeResponse(200, "{\"status\":\"Pulling from library/broken\",\"id\":\"latest\"}\r\n"
                                         "{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\r\n"));
      return;
    }
    FakeWriteAll(fd, FakeResponse(200, stream));
  });
  berth::testing::ScopedEnv cfg("DOCKER_CONFIG", "/nonexistent-berth-test");
  Result res = RunCli(server, {"pull", "busybox"});
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out,
            "Using default tag: latest\n"
            "latest: Pulling from library/busybox\n"
            "e5d9363303dd: Pulling fs layer\n"
            "e5d9363303dd: Pull complete\n"
            "Digest: sha256:abc\n"
            "Status: Downloaded newer image for busybox:latest\n"
            "docker.io/library/busybox:latest\n");
  EXPECT_EQ(server.calls().back(), "POST /v1.41/images/create?fromImage=busybox&tag=latest");
  EXPECT_EQ(auth, "e30=");
  Result q = RunCli(server, {"pull", "-q", "--platform", "Linux/AMD64", "localhost:5000/x:1"});
  EXPECT_EQ(q.rc, 0) << q.err;
  EXPECT_EQ(q.out, "localhost:5000/x:1\n");
  EXPECT_EQ(server.calls().back(),
            "POST /v1.41/images/create?fromImage=localhost%3A5000%2Fx&platform=linux%2Famd64&tag=1");
  Result all = RunCli(server, {"pull", "-a", "busybox"});
  EXPECT_EQ(server.calls().back(), "POST /v1.41/images/create?fromImage=busybox");
  EXPECT_EQ(all.out.substr(all.out.size() - 26), "docker.io/library/busybox\n");
  Result tagged_all = RunCli(server, {"pull", "-a", "busybox:1"});
  EXPECT_EQ(tagged_all.rc, 1);
  EXPECT_EQ(tagged_all.err, "tag can't be used with --all-tags/-a\n");
  Result bad = RunCli(server, {"pull", "Busybox"});
  EXPECT_EQ(bad.rc, 1);
  EXPECT_EQ(bad.err, "invalid reference format: repository name must be lowercase\n");
  Result denied = RunCli(server, {"pull", "nosuch"});
  EXPECT_EQ(denied.rc, 1);
  EXPECT_EQ(denied.err, "Error response from daemon: pull access denied for nosuch, repository does "
                        "not exist or may require 'docker login'\n");
  Result broken = RunCli(server, {"pull", "broken"});
  EXPECT_EQ(broken.rc, 1);
  EXPECT_EQ(broken.err, "unexpected EOF\n");
}

TEST(CliCommandsTest, StatsNoStreamTable) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(
        fd, FakeResponse(
                200, R"({"id":"6381739acf98783491e4ddd288a5d747f9e24b32c54819193532d2255be0d462",
      "name":"/b1","pids_stats":{"current":1},
      "cpu_stats":{"cpu_usage":{"total_usage":2000000},"system_cpu_usage":100000000,"online_cpus":2},
      "precpu_stats":{"cpu_usage":{"total_usage":1000000},"system_cpu_usage":50000000},
      "memory_stats":{"usage":1048576,"limit":2147483648,"stats":{"inactive_file":524288}},
      "networks":{"eth0":{"rx_bytes":1500,"tx_bytes":0}},
      "blkio_stats":{"io_service_bytes_recursive":[{"op":"Read","value":4096},{"op":"Write","value":0}]}})"));
  });
  Result res = RunCli(server, {"stats", "--no-stream", "b1"});
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out,
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O      BLOCK "
            "I/O    PIDS\n"
            "6381739acf98   b1        4.00%     512KiB / 2GiB       0.02%     1.5kB / 0B   4.1kB / "
            "0B   1\n");
  EXPECT_EQ(server.calls()[1], "GET /v1.41/containers/b1/stats?stream=0");
}

TEST(CliCommandsTest, TopPrintsTitlesAndProcesses) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(200, R"({"Titles":["PID","USER","COMMAND"],
      "Processes":[["7342","root","sh"],["7400","root","sleep 100"]]})"));
  });
  Result res = RunCli(server, {"top", "b1", "-o", "pid,user,args"});
  EXPECT_EQ(res.rc, 0) << res.err;
  EXPECT_EQ(res.out,
            "PID                 USER                COMMAND\n"
            "7342                root                sh\n"
            "7400                root                sleep 100\n");
  EXPECT_EQ(server.calls()[1], "GET /v1.41/containers/b1/top?ps_args=-o%20pid%2Cuser%2Cargs");
}

TEST(CliCommandsTest, MisshapenDaemonAnswerIsAnErrorNotACrash) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(200, R"([{"Untagged": 42}])"));
  });
  Result res = RunCli(server, {"rmi", "busybox"});
  EXPECT_EQ(res.rc, 1);
  EXPECT_TRUE(Has(res.err, "unexpected response from daemon")) << res.err;
}

TEST(CliCommandsTest, FlagAndArgumentErrors) {
  FakeServer server([](const FakeRequest& r, int fd) { ServePing(r, fd); });
  Result bad = RunCli(server, {"ps", "--bogus"});
  EXPECT_EQ(bad.rc, 125);
  EXPECT_EQ(bad.err,
            "unknown flag: --bogus\n\nUsage:  docker ps [OPTIONS]\n\nRun 'docker ps --help' for "
            "more information\n");
  Result none = RunCli(server, {"rm"});
  EXPECT_EQ(none.rc, 1);
  EXPECT_TRUE(Has(none.err, "'docker rm' requires at least 1 argument")) << none.err;
  Result unknown = RunCli(server, {"frobnicate"});
  EXPECT_EQ(unknown.rc, 1);
  EXPECT_TRUE(Has(unknown.err, "unknown command"));
}

}  // namespace
}  // namespace berth::cli
