// service_bench: swarm services' four latencies on a real `berth lab` cluster (1 manager m1, 2
// workers; heartbeats every 1 s; web:latest and web:v2 = busybox httpd on :80, imported on every
// node), RUNS times (default 5) on one lab, medians in ms beside Docker 20.10's figures
// (../shared/reference/README.md, measured on this machine):
//   1. create to running: POST /services/create of 2 replicas until GET /tasks on m1 shows 2
//      tasks of it running (Docker: 0.53 s);
//   2. scale 2 -> 20 over the 3 nodes until 20 run, and 20 -> 2 until only 2 tasks are desired
//      running and running and the 18 others' containers are stopped (Docker: 2.3 s each); httpd
//      ignores SIGTERM (it is PID 1), so every stop there waits out the 1 s grace; then 20 -> 2
//      again with tasks that end on SIGTERM as the tutorial's nginx does (httpd under --init);
//   3. rolling update of 4 replicas, parallelism 1, delay 0, a 1 s stop grace (httpd ignores
//      SIGTERM, so every stop takes the grace), stop-first and start-first: from the update
//      until UpdateStatus says "completed" (Docker: 11.6 s and 6.7 s), which swarmkit's updater
//      says one monitor period (here 1 s) after the last batch; and the rollout alone, until the
//      4 tasks desired running are all of the new image and running;
//   4. a published service (8080 -> 80) scaled 0 -> 1: from its task's Running (Status.Timestamp,
//      the node's clock, the same machine's) to the first TCP connection a client on the host
//      gets through w1's published port, retried every millisecond (Docker: its mesh needs IPVS,
//      which this kernel lacks; the target is under 100 ms).
// Each run creates its services afresh and removes them at the end (waiting for their
// containers to go).
//
//   service_bench BIN_DIR [RUNS]      (RUNS also from $SERVICE_RUNS; root; needs etcd and docker)
//
// The lab is bt-svcbench-<pid> on a /24 of its own (10.14x.y.0/24 from the pid), taken down at
// the end and, whatever way the program ends, at exit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <thread>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"
#include "lab_util.h"
#include "nlohmann/json.hpp"

namespace {

namespace bb = berth::bench;
using namespace berth::bench::lab;
using bb::Clock;
using bb::Median;
using bb::Ms;

constexpr double kDockerCreate = 0.53;
constexpr double kDockerScale = 2.3;
constexpr double kDockerUpdateStopFirst = 11.6;
constexpr double kDockerUpdateStartFirst = 6.7;

// The tasks of a service desired running (GET /tasks on the manager); null on an error.
json WantedTasks(const bb::Api& api, const std::string& service_id) {
  int st;
  json tasks = GetJson(api,
                       "/tasks?filters=" + UrlEncode(json{{"service", {{service_id, true}}},
                                                          {"desired-state", {{"running", true}}}}
                                                         .dump()),
                       &st);
  return st == 200 && tasks.is_array() ? tasks : json();
}

// Of those, the ones running.
int RunningTasks(const bb::Api& api, const std::string& service_id) {
  json tasks = WantedTasks(api, service_id);
  if (tasks.is_null()) return -1;
  int n = 0;
  for (const json& t : tasks)
    if (t.contains("Status") && t["Status"].value("State", "") == "running") ++n;
  return n;
}

// Of those, the ones running the image `image`.
int NewTasksRunning(const bb::Api& api, const std::string& service_id, const std::string& image) {
  json tasks = WantedTasks(api, service_id);
  if (tasks.is_null()) return -1;
  int n = 0;
  for (const json& t : tasks)
    if (t.contains("Status") && t["Status"].value("State", "") == "running" &&
        t["Spec"]["ContainerSpec"].value("Image", "") == image)
      ++n;
  return n;
}

// Task containers of a service still running on any node.
int LiveContainers(const Lab& lab, const std::string& service) {
  int n = 0;
  for (const char* node : {"m1", "w1", "w2"}) {
    int st;
    json list = GetJson(
        lab.Api(node),
        "/containers/json?filters=" +
            UrlEncode(json{{"label", {{"com.docker.swarm.service.name=" + service, true}}}}.dump()),
        &st);
    if (st == 200 && list.is_array()) n += static_cast<int>(list.size());
  }
  return n;
}

std::string Create(const bb::Api& api, const std::string& name, int replicas,
                   const json& update_config) {
  json spec = {{"Name", name},
               {"TaskTemplate",
                {{"ContainerSpec", {{"Image", "web:latest"}, {"StopGracePeriod", 1000000000}}}}},
               {"Mode", {{"Replicated", {{"Replicas", replicas}}}}}};
  if (!update_config.is_null()) spec["UpdateConfig"] = update_config;
  std::string out;
  int st = Call(api, "POST", "/services/create", spec.dump(), &out);
  if (st != 201) bb::Fail("service create %s: %d %s", name.c_str(), st, out.c_str());
  return json::parse(out).value("ID", "");
}

json Inspect(const bb::Api& api, const std::string& id) {
  int st;
  json s = GetJson(api, "/services/" + id, &st);
  if (st != 200) bb::Fail("service inspect %s: %d", id.c_str(), st);
  return s;
}

// POST /services/{id}/update with f applied to the current spec.
template <typename F>
void Update(const bb::Api& api, const std::string& id, F f) {
  json s = Inspect(api, id);
  json spec = s["Spec"];
  f(spec);
  std::string out;
  int st = Call(
      api, "POST",
      "/services/" + id + "/update?version=" + std::to_string(s["Version"].value("Index", 0ULL)),
      spec.dump(), &out);
  if (st != 200) bb::Fail("service update %s: %d %s", id.c_str(), st, out.c_str());
}

void Remove(const Lab& lab, const bb::Api& api, const std::string& id, const std::string& name) {
  std::string out;
  Call(api, "DELETE", "/services/" + id, "", &out);
  WaitFor(60, "the service's containers gone", [&] { return LiveContainers(lab, name) == 0; });
}

// Scales service `id` (named `name`) from 20 to 2; the ms until 2 of its tasks run and the 18
// others' containers are stopped.
double ScaleDownTo2(const Lab& lab, const bb::Api& api, const std::string& id,
                    const std::string& name) {
  auto t0 = Clock::now();
  Update(api, id, [](json& spec) { spec["Mode"]["Replicated"]["Replicas"] = 2; });
  WaitFor(60, "2 tasks running and 18 containers stopped",
          [&] { return RunningTasks(api, id) == 2 && LiveContainers(lab, name) == 2; });
  return Ms(t0, Clock::now());
}

// Seconds since the epoch of an RFC 3339 UTC timestamp with a fraction ("...T07:30:00.123456789Z");
// -1 if it is not one.
double UnixSeconds(const std::string& ts) {
  std::tm tm{};
  const char* rest = strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return -1;
  double frac = 0;
  if (*rest == '.') frac = std::strtod(("0" + std::string(rest, std::strcspn(rest, "Z+-"))).c_str(), nullptr);
  return static_cast<double>(timegm(&tm)) + frac;
}

double NowUnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Whether a TCP connection to ip:port is accepted within 200 ms.
bool Connects(const std::string& ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  timeval tv{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

struct Sample {
  double create, scale_up, scale_down, scale_down_term, stop_first, start_first, mesh_first;
  // From the update until the 4 tasks desired running are of the new image and running (the
  // old ones may still be stopping): "completed" comes one monitor period (1 s) later.
  double stop_first_rollout, start_first_rollout;
};

Sample OneRun(const Lab& lab, int run) {
  Sample s{};
  bb::Api m1 = lab.Api("m1");
  std::string name = "bench" + std::to_string(run);

  // 1. create to 2 running.
  auto t0 = Clock::now();
  std::string id = Create(m1, name, 2, json());
  WaitFor(30, "2 tasks running", [&] { return RunningTasks(m1, id) == 2; });
  s.create = Ms(t0, Clock::now());

  // 2. scale 2 -> 20 -> 2.
  t0 = Clock::now();
  Update(m1, id, [](json& spec) { spec["Mode"]["Replicated"]["Replicas"] = 20; });
  WaitFor(60, "20 tasks running", [&] { return RunningTasks(m1, id) == 20; });
  s.scale_up = Ms(t0, Clock::now());
  s.scale_down = ScaleDownTo2(lab, m1, id, name);
  Remove(lab, m1, id, name);

  // 2b. 20 -> 2 again with tasks that end on SIGTERM, as the tutorial's nginx does: httpd under
  // an init (--init), so the stops do not wait out the grace as above.
  {
    std::string tname = name + "-term";
    json spec = {{"Name", tname},
                 {"TaskTemplate",
                  {{"ContainerSpec",
                    {{"Image", "web:latest"}, {"StopGracePeriod", 1000000000}, {"Init", true}}}}},
                 {"Mode", {{"Replicated", {{"Replicas", 20}}}}}};
    std::string out;
    int st = Call(m1, "POST", "/services/create", spec.dump(), &out);
    if (st != 201) bb::Fail("service create %s: %d %s", tname.c_str(), st, out.c_str());
    std::string tid = json::parse(out).value("ID", "");
    WaitFor(60, "20 tasks running", [&] { return RunningTasks(m1, tid) == 20; });
    s.scale_down_term = ScaleDownTo2(lab, m1, tid, tname);
    Remove(lab, m1, tid, tname);
  }

  // 3. rolling updates of 4 replicas, parallelism 1, delay 0, grace 1 s.
  for (const char* order : {"stop-first", "start-first"}) {
    std::string uname = name + "-" + order;
    json uc = {{"Parallelism", 1},
               {"Order", order},
               {"FailureAction", "pause"},
               {"Monitor", 1000000000},
               {"MaxFailureRatio", 0}};
    std::string uid = Create(m1, uname, 4, uc);
    WaitFor(30, "4 tasks running", [&] { return RunningTasks(m1, uid) == 4; });
    t0 = Clock::now();
    Update(m1, uid, [](json& spec) { spec["TaskTemplate"]["ContainerSpec"]["Image"] = "web:v2"; });
    double rollout = -1;
    WaitFor(120, "the update completed", [&] {
      if (rollout < 0 && NewTasksRunning(m1, uid, "web:v2") == 4) rollout = Ms(t0, Clock::now());
      json svc = Inspect(m1, uid);
      return svc.contains("UpdateStatus") && svc["UpdateStatus"].value("State", "") == "completed";
    });
    bool stop_first = std::string(order) == "stop-first";
    (stop_first ? s.stop_first : s.start_first) = Ms(t0, Clock::now());
    (stop_first ? s.stop_first_rollout : s.start_first_rollout) = rollout;
    Remove(lab, m1, uid, uname);
  }
  // 4. a task's Running to its first connection through the mesh on w1.
  {
    std::string pname = name + "-mesh";
    json spec = {{"Name", pname},
                 {"TaskTemplate", {{"ContainerSpec", {{"Image", "web:latest"}, {"StopGracePeriod", 1000000000}}}}},
                 {"Mode", {{"Replicated", {{"Replicas", 0}}}}},
                 {"EndpointSpec",
                  {{"Ports", json::array({{{"Protocol", "tcp"}, {"TargetPort", 80}, {"PublishedPort", 8080}}})}}}};
    std::string out;
    int st = Call(m1, "POST", "/services/create", spec.dump(), &out);
    if (st != 201) bb::Fail("service create %s: %d %s", pname.c_str(), st, out.c_str());
    std::string pid = json::parse(out).value("ID", "");
    const std::string w1 = lab.Ip("w1");
    WaitFor(10, "w1:8080 refusing with no task", [&] { return !Connects(w1, 8080); });
    Update(m1, pid, [](json& spec) { spec["Mode"]["Replicated"]["Replicas"] = 1; });
    double connected = -1;
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      if (Connects(w1, 8080)) {
        connected = NowUnixSeconds();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (connected < 0) bb::Fail("no connection through w1:8080 within 30 s of the scale to 1");
    json tasks = WantedTasks(m1, pid);
    double running = -1;
    if (tasks.is_array() && tasks.size() == 1 && tasks[0].contains("Status") &&
        tasks[0]["Status"].value("State", "") == "running")
      running = UnixSeconds(tasks[0]["Status"].value("Timestamp", ""));
    if (running < 0) bb::Fail("the mesh service's task is not running with a timestamp");
    s.mesh_first = (connected - running) * 1000;
    Remove(lab, m1, pid, pname);
  }
  std::printf(
      "  run %d: create->2 running %.0f, scale 2->20 %.0f, 20->2 %.0f (ending on SIGTERM %.0f), "
      "update stop-first %.0f (rollout %.0f), start-first %.0f (rollout %.0f), running->first "
      "mesh connection %.1f\n",
      run, s.create, s.scale_up, s.scale_down, s.scale_down_term, s.stop_first,
      s.stop_first_rollout, s.start_first,
      s.start_first_rollout, s.mesh_first);
  std::fflush(stdout);
  return s;
}

void Line(const char* what, const std::vector<double>& v, const char* target, double docker_s) {
  double m = Median(v);
  std::string range = std::to_string(static_cast<int>(*std::min_element(v.begin(), v.end()))) +
                      "-" + std::to_string(static_cast<int>(*std::max_element(v.begin(), v.end())));
  if (docker_s <= 0) {  // no Docker figure to set it against
    std::printf("  %-36s %7.0f %13s  %-7s\n", what, m, range.c_str(), target);
    return;
  }
  std::printf("  %-36s %7.0f %13s  %-7s  Docker %6.0f  %5.2fx\n", what, m, range.c_str(), target,
              docker_s * 1000, m / (docker_s * 1000));
}

}  // namespace

int main(int argc, char** argv) {
  bb::InstallExitHandling();
  LabBenchArgs args = ParseLabBenchArgs(argc, argv, "service_bench", "SERVICE_RUNS");
  const std::string& bin = args.bin;
  int runs = args.runs;
  pid_t pid = getpid();
  std::string net = "10." + std::to_string(140 + pid % 10) + "." + std::to_string((pid / 10) % 250);
  std::printf(
      "service_bench: %d runs on a lab of 1 manager and 2 workers (%s.0/24), "
      "heartbeat 1 s\n",
      runs, net.c_str());
  std::fflush(stdout);
  Lab lab(bin, "bt-svcbench-" + std::to_string(pid), net, 1, 2);
  // web:latest (httpd on :80 in the foreground) and web:v2 on every node.
  std::string tar = "/tmp/bt-svcbench-" + std::to_string(pid) + ".tar";
  bb::MustRun({"sh", "-c",
               "set -e; d=$(mktemp -d); mkdir -p $d/bin $d/var/www; cp /bin/busybox $d/bin/; "
               "for a in $(/bin/busybox --list); do [ $a = busybox ] || ln -sf busybox $d/bin/$a; "
               "done; tar -C $d -cf " +
                   tar + " .; rm -rf $d"});
  for (const char* node : {"m1", "w1", "w2"}) {
    lab.Docker(
        node, {"import", "-c", "CMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/var/www\"]", tar,
               "web:latest"});
    lab.Docker(node, {"tag", "web:latest", "web:v2"});
  }
  bb::Run({"rm", "-f", tar});
  lab.Docker("m1",
             {"swarm", "init", "--advertise-addr", lab.Ip("m1"), "--dispatcher-heartbeat", "1s"});
  std::string token = Trim(lab.Docker("m1", {"swarm", "join-token", "-q", "worker"}));
  for (const char* w : {"w1", "w2"})
    lab.Docker(w, {"swarm", "join", "--token", token, lab.Ip("m1") + ":2377"});

  std::vector<double> create, up, down, down_term, stop_first, start_first, mesh_first, stop_rollout,
      start_rollout;
  for (int i = 0; i < runs; ++i) {
    Sample s = OneRun(lab, i);
    create.push_back(s.create);
    up.push_back(s.scale_up);
    down.push_back(s.scale_down);
    down_term.push_back(s.scale_down_term);
    stop_first.push_back(s.stop_first);
    start_first.push_back(s.start_first);
    mesh_first.push_back(s.mesh_first);
    stop_rollout.push_back(s.stop_first_rollout);
    start_rollout.push_back(s.start_first_rollout);
  }
  std::printf(
      "service_bench: medians of %d runs in ms (min-max beside), ratios Berth / Docker "
      "20.10\n",
      runs);
  Line("create 2 replicas -> 2 running", create, "< 100", kDockerCreate);
  Line("scale 2 -> 20 over 3 nodes", up, "< 300", kDockerScale);
  Line("scale 20 -> 2 (18 stopped)", down, "< 300", kDockerScale);
  Line("  the same, tasks end on SIGTERM", down_term, "< 300", kDockerScale);
  Line("update 4, stop-first, grace 1 s", stop_first, "< 5000", kDockerUpdateStopFirst);
  Line("update 4, start-first, grace 1 s", start_first, "< 1000", kDockerUpdateStartFirst);
  std::printf("  of which the rollout (4 new tasks running; \"completed\" follows a 1 s monitor):\n");
  Line("  stop-first rollout", stop_rollout, "", 0);
  Line("  start-first rollout", start_rollout, "", 0);
  std::printf("  %-36s %7.1f %13s  %-7s  (Docker: no mesh here, IPVS is missing)\n",
              "running -> first mesh connection", Median(mesh_first),
              (std::to_string(static_cast<int>(*std::min_element(mesh_first.begin(), mesh_first.end()))) + "-" +
               std::to_string(static_cast<int>(*std::max_element(mesh_first.begin(), mesh_first.end()))))
                  .c_str(),
              "< 100");
  return 0;
}
