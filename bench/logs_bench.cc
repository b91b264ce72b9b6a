// logs_bench: reading back a container's log. A container writes SIZE MB (default 100) of
// 100-byte lines to stdout; then, each ITERATIONS times (default 5), medians in ms:
//   - a raw read of its json-file log (read(2) of 1 MB blocks, discarded): the baseline, what
//     `cat` costs;
//   - berthd's GET /containers/{id}/logs?stdout=1&stderr=1 alone, read to its end over the socket
//     (and with timestamps=1, and tail=100);
//   - the docker CLI end to end, `docker logs c >/dev/null`.
// Then `docker logs -f` of a container writing SIZE MB at full speed: how long after the
// container's exit the follower ends (it keeps up if that is small) and that it got every byte.
//
// Usage: logs_bench BIN_DIR [ITERATIONS] [SIZE_MB]   (root: it starts its own berthd)

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench_util.h"
#include "nlohmann/json.hpp"

namespace bb = berth::bench;
using bb::Clock;
using bb::Median;
using bb::Ms;

namespace {

// Reads a file the way cat does, discarding it; its size.
int64_t RawRead(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) bb::Fail("open %s", path.c_str());
  static char buf[1 << 20];
  int64_t total = 0;
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) total += n;
  close(fd);
  return total;
}

// GET path on berthd's socket, read to EOF (the logs route closes the connection); bytes read.
int64_t StreamGet(const bb::Api& api, const std::string& path) {
  int fd = api.Connect();
  if (fd < 0) bb::Fail("connect %s", api.socket_path().c_str());
  std::string req = "GET /v1.41" + path + " HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) bb::Fail("write");
  static char buf[1 << 20];
  int64_t total = 0;
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) total += n;
  close(fd);
  return total;
}

int RunQuiet(const std::vector<std::string>& argv, int out_fd) {
  return bb::Reap(bb::Spawn(argv, out_fd, -1));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BIN_DIR [ITERATIONS] [SIZE_MB]\n", argv[0]);
    return 2;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "logs_bench needs root (runc, mounts, namespaces)\n");
    return 2;
  }
  bb::InstallExitHandling();
  std::string bin = argv[1];
  int iters = argc > 2 ? bb::Iterations(argc, argv, 2) : 5;
  int size_mb = argc > 3 ? std::atoi(argv[3]) : 100;
  if (size_mb <= 0) size_mb = 100;
  std::string dir = bb::MakeBenchDir();
  bb::MakeBusyboxRootfs(dir);
  bb::Daemon daemon;
  daemon.Start(bin, dir);
  const bb::Api& api = daemon.api();
  bb::ImportBusybox(api, dir);
  setenv("DOCKER_HOST", ("unix://" + api.socket_path()).c_str(), 1);
  bool have_docker = bb::Run({"docker", "version"}) == 0;

  // 99 characters and a newline per line, SIZE MB in all.
  std::string line(99, 'x');
  for (size_t i = 0; i < line.size(); ++i) line[i] = static_cast<char>('a' + i % 26);
  std::string writer = "yes " + line + " | head -c " + std::to_string(int64_t{size_mb} << 20);
  std::string id = api.CreateContainer({{"Image", "busybox"}, {"Cmd", {"sh", "-c", writer}}});
  auto w0 = Clock::now();
  api.StartContainer(id);
  api.Must("POST", "/containers/" + id + "/wait", "", 200);
  double write_ms = Ms(w0, Clock::now());
  std::string log_path = api.MustJson("GET", "/containers/" + id + "/json", "", 200)["LogPath"];
  struct stat st;
  if (stat(log_path.c_str(), &st) != 0) bb::Fail("no log at %s", log_path.c_str());
  int64_t payload = int64_t{size_mb} << 20;

  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::vector<double> raw, route, route_ts, route_tail, cli;
  for (int i = 0; i < iters; ++i) {
    auto t0 = Clock::now();
    RawRead(log_path);
    raw.push_back(Ms(t0, Clock::now()));

    t0 = Clock::now();
    int64_t got = StreamGet(api, "/containers/" + id + "/logs?stdout=1&stderr=1");
    route.push_back(Ms(t0, Clock::now()));
    if (got < payload) bb::Fail("logs route returned %lld bytes, want >= %lld", (long long)got, (long long)payload);

    t0 = Clock::now();
    StreamGet(api, "/containers/" + id + "/logs?stdout=1&stderr=1&timestamps=1");
    route_ts.push_back(Ms(t0, Clock::now()));

    t0 = Clock::now();
    StreamGet(api, "/containers/" + id + "/logs?stdout=1&stderr=1&tail=100");
    route_tail.push_back(Ms(t0, Clock::now()));

    if (have_docker) {
      t0 = Clock::now();
      if (RunQuiet({"docker", "logs", id}, devnull) != 0) bb::Fail("docker logs failed");
      cli.push_back(Ms(t0, Clock::now()));
    }
  }

  // logs -f of a container writing at full speed, the follower started before the writing.
  double lag = -1, follow_total = -1;
  int64_t followed = -1;
  if (have_docker) {
    std::string fid = api.CreateContainer(
        {{"Image", "busybox"}, {"Cmd", {"sh", "-c", "sleep 1; " + writer}}});
    api.StartContainer(fid);
    std::string out_path = dir + "/follow.out";
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    auto t0 = Clock::now();
    pid_t f = bb::Spawn({"docker", "logs", "-f", fid}, out, -1);
    close(out);
    api.Must("POST", "/containers/" + fid + "/wait", "", 200);
    auto exited = Clock::now();
    bb::Reap(f);
    auto done = Clock::now();
    lag = Ms(exited, done);
    follow_total = Ms(t0, done);
    struct stat fs;
    followed = stat(out_path.c_str(), &fs) == 0 ? fs.st_size : -1;
    unlink(out_path.c_str());
  }

  double base = Median(raw);
  std::printf("logs_bench: %d MB of 100-byte lines written to stdout in %.0f ms; log file %.1f MB; "
              "%d iterations, medians (ms); baseline = raw read of the log file\n",
              size_mb, write_ms, st.st_size / 1048576.0, iters);
  std::printf("  raw read of the json log (cat)   %8.1f  1.00x\n", base);
  std::printf("  API GET /logs                    %8.1f  %.2fx raw  (%.0f MB/s of log)\n",
              Median(route), Median(route) / base, st.st_size / 1048576.0 / (Median(route) / 1000));
  std::printf("  API GET /logs?timestamps=1       %8.1f  %.2fx raw\n", Median(route_ts),
              Median(route_ts) / base);
  std::printf("  API GET /logs?tail=100           %8.1f  %.2fx raw\n", Median(route_tail),
              Median(route_tail) / base);
  if (have_docker) {
    std::printf("  docker logs c >/dev/null (CLI)   %8.1f  %.2fx raw\n", Median(cli),
                Median(cli) / base);
    std::printf("  docker logs -f of a full-speed writer: ended %.0f ms after the container's exit "
                "(%.0f ms in all), %lld of %lld bytes\n",
                lag, follow_total, (long long)followed, (long long)payload);
  }
  return 0;
}
