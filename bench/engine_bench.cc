// engine_bench: Berth's container round trips against bare runc, measured in one process.
//
//   engine_bench BIN_DIR [ITERATIONS]
//
// Starts its own berthd (temporary roots, its own socket), imports a busybox-static rootfs, then
// reports medians of:
//   floor      `runc run` of a prepared busybox bundle running `true` (the baseline)
//   run --rm   create(AutoRemove) + wait(removed) + start, until the container is gone
//   run -d     create + start, until start returns (the container is running)
//   docker CLI `docker run --rm busybox true` and `docker run -d busybox sleep`, wall time
// and 50 `run -d` in a row, then the RSS of berthd and of every shim.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace {

using Clock = std::chrono::steady_clock;
std::string g_sock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Connect() {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", g_sock.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendRequest(int fd, const std::string& method, const std::string& path, const std::string& body) {
  std::string req = method + " /v1.41" + path + " HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\n"
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = write(fd, req.data() + off, req.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads one response: status and body (Content-Length or chunked).
int ReadResponse(int fd, std::string* body, bool headers_only = false) {
  std::string buf;
  char tmp[8192];
  size_t hdr_end;
  while ((hdr_end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) return -1;
    buf.append(tmp, static_cast<size_t>(n));
  }
  int status = std::atoi(buf.c_str() + 9);
  std::string headers = buf.substr(0, hdr_end);
  std::string rest = buf.substr(hdr_end + 4);
  if (headers_only) {
    *body = rest;
    return status;
  }
  for (auto& c : headers) c = static_cast<char>(tolower(c));
  if (headers.find("transfer-encoding: chunked") != std::string::npos) {
    while (rest.find("0\r\n\r\n") == std::string::npos) {
      ssize_t n = read(fd, tmp, sizeof tmp);
      if (n <= 0) break;
      rest.append(tmp, static_cast<size_t>(n));
    }
  } else {
    auto p = headers.find("content-length: ");
    size_t len = p == std::string::npos ? 0 : std::stoul(headers.substr(p + 16));
    while (rest.size() < len) {
      ssize_t n = read(fd, tmp, sizeof tmp);
      if (n <= 0) break;
      rest.append(tmp, static_cast<size_t>(n));
    }
  }
  *body = rest;
  return status;
}

int Call(const std::string& method, const std::string& path, const std::string& body, std::string* out) {
  int fd = Connect();
  if (fd < 0) return -1;
  SendRequest(fd, method, path, body);
  int st = ReadResponse(fd, out);
  close(fd);
  return st;
}

std::string CreateContainer(const nlohmann::json& body) {
  std::string out;
  int st = Call("POST", "/containers/create", body.dump(), &out);
  if (st != 201) {
    std::fprintf(stderr, "create: %d %s\n", st, out.c_str());
    std::exit(1);
  }
  return nlohmann::json::parse(out)["Id"];
}

int Run(const std::vector<std::string>& argv, bool quiet = true) {
  pid_t pid = fork();
  if (pid == 0) {
    if (quiet) {
      int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

long RssKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

std::vector<pid_t> ShimPids(const std::string& exec_root) {
  std::vector<pid_t> out;
  std::string c = exec_root + "/c";
  for (auto& id : std::vector<std::string>{}) (void)id;
  FILE* p = popen(("cat " + c + "/*/shim.pid 2>/dev/null").c_str(), "r");
  if (!p) return out;
  int pid;
  while (fscanf(p, "%d", &pid) == 1) out.push_back(pid);
  pclose(p);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BIN_DIR [ITERATIONS]\n", argv[0]);
    return 2;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "engine_bench needs root (runc, mounts)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  std::string bin = argv[1];
  int iters = argc > 2 ? std::atoi(argv[2]) : 30;
  char tmpl[] = "/tmp/bt-bench.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  g_sock = dir + "/berth.sock";
  std::string exec_root = dir + "/exec";

  // A busybox-static rootfs: the image, and the bundle of the runc floor.
  std::string rootfs = dir + "/rootfs";
  Run({"sh", "-c", "mkdir -p " + rootfs + "/bin " + rootfs + "/etc && cp /bin/busybox " + rootfs +
                       "/bin/ && for a in sh true sleep echo; do ln -s busybox " + rootfs +
                       "/bin/$a; done && tar -C " + rootfs + " -cf " + dir + "/busybox.tar ."});
  std::string bundle = dir + "/bundle";
  Run({"sh", "-c", "mkdir -p " + bundle + " && cp -a " + rootfs + " " + bundle + "/rootfs && cd " +
                       bundle + " && runc spec && sed -i 's/\"terminal\": true/\"terminal\": false/; "
                       "s/\"sh\"/\"true\"/' config.json"});

  pid_t berthd = fork();
  if (berthd == 0) {
    int devnull = open((dir + "/berthd.log").c_str(), O_WRONLY | O_CREAT, 0644);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl((bin + "/berthd").c_str(), "berthd", "-H", ("unix://" + g_sock).c_str(), "--data-root",
          (dir + "/data").c_str(), "--exec-root", exec_root.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    std::string out;
    if (Call("GET", "/_ping", "", &out) == 200) break;
    usleep(20000);
  }
  {
    // Import through the API (the body is the tarball).
    std::ifstream f(dir + "/busybox.tar", std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string out;
    int fd = Connect();
    std::string tar = ss.str();
    std::string req = "POST /v1.41/images/create?fromSrc=-&repo=busybox&tag=latest HTTP/1.1\r\nHost: b\r\n"
                      "Content-Type: application/x-tar\r\nContent-Length: " + std::to_string(tar.size()) + "\r\n\r\n";
    (void)!write(fd, req.data(), req.size());
    size_t off = 0;
    while (off < tar.size()) off += static_cast<size_t>(write(fd, tar.data() + off, tar.size() - off));
    ReadResponse(fd, &out);
    close(fd);
  }

  std::vector<double> floor, rm_rt, rund, cli_rm, cli_d;
  for (int i = 0; i < iters; ++i) {
    auto t0 = Clock::now();
    Run({"runc", "--root", dir + "/runc-floor", "run", "--bundle", bundle, "floor" + std::to_string(i)});
    floor.push_back(Ms(t0, Clock::now()));

    // run --rm true, as the CLI does it: create, wait(removed), start, read the wait result.
    t0 = Clock::now();
    std::string id = CreateContainer({{"Image", "busybox"}, {"Cmd", {"true"}}, {"HostConfig", {{"AutoRemove", true}}}});
    int wfd = Connect();
    SendRequest(wfd, "POST", "/containers/" + id + "/wait?condition=removed", "");
    std::string wbody;
    ReadResponse(wfd, &wbody, /*headers_only=*/true);
    std::string out;
    Call("POST", "/containers/" + id + "/start", "", &out);
    char tmp[4096];
    while (wbody.find("StatusCode") == std::string::npos) {
      ssize_t n = read(wfd, tmp, sizeof tmp);
      if (n <= 0) break;
      wbody.append(tmp, static_cast<size_t>(n));
    }
    close(wfd);
    rm_rt.push_back(Ms(t0, Clock::now()));

    t0 = Clock::now();
    id = CreateContainer({{"Image", "busybox"}, {"Cmd", {"sleep", "600"}}});
    Call("POST", "/containers/" + id + "/start", "", &out);
    rund.push_back(Ms(t0, Clock::now()));
    Call("DELETE", "/containers/" + id + "?force=1", "", &out);
  }
  setenv("DOCKER_HOST", ("unix://" + g_sock).c_str(), 1);
  bool have_docker = Run({"docker", "version"}) == 0;
  for (int i = 0; have_docker && i < iters; ++i) {
    auto t0 = Clock::now();
    Run({"docker", "run", "--rm", "busybox", "true"});
    cli_rm.push_back(Ms(t0, Clock::now()));
    t0 = Clock::now();
    Run({"docker", "run", "-d", "--name", "cli" + std::to_string(i), "busybox", "sleep", "600"});
    cli_d.push_back(Ms(t0, Clock::now()));
    Run({"docker", "rm", "-f", "cli" + std::to_string(i)});
  }

  auto t0 = Clock::now();
  for (int i = 0; i < 50; ++i) {
    std::string out, id = CreateContainer({{"Image", "busybox"}, {"Cmd", {"sleep", "600"}}});
    Call("POST", "/containers/" + id + "/start", "", &out);
  }
  double fifty = Ms(t0, Clock::now());
  usleep(300000);  // let the shims settle to idle
  long berthd_rss = RssKb(berthd);
  auto shims = ShimPids(exec_root);
  std::vector<double> shim_rss;
  long shim_total = 0;
  for (pid_t p : shims) {
    long r = RssKb(p);
    shim_rss.push_back(static_cast<double>(r));
    shim_total += r;
  }

  double f = Median(floor);
  std::printf("engine_bench: %d iterations, medians (ms); baseline = bare runc run of the same bundle\n", iters);
  std::printf("  runc run (floor)            %8.2f  1.00x\n", f);
  std::printf("  API run --rm true           %8.2f  %.2fx floor\n", Median(rm_rt), Median(rm_rt) / f);
  std::printf("  API run -d to running       %8.2f  %.2fx floor\n", Median(rund), Median(rund) / f);
  if (have_docker) {
    std::printf("  docker CLI run --rm true    %8.2f  %.2fx floor\n", Median(cli_rm), Median(cli_rm) / f);
    std::printf("  docker CLI run -d           %8.2f  %.2fx floor\n", Median(cli_d), Median(cli_d) / f);
  }
  std::printf("  50 run -d in a row (API)    %8.0f ms total\n", fifty);
  std::printf("  RSS with %zu running: berthd %.1f MB, shims median %.2f MB each, all %.1f MB\n",
              shims.size(), berthd_rss / 1024.0, Median(shim_rss) / 1024.0,
              (berthd_rss + shim_total) / 1024.0);

  // Clean up everything this run made.
  std::string out;
  Call("GET", "/containers/json?all=1", "", &out);
  for (auto& c : nlohmann::json::parse(out, nullptr, false))
    Call("DELETE", "/containers/" + c["Id"].get<std::string>() + "?force=1", "", &out);
  kill(berthd, SIGTERM);
  waitpid(berthd, nullptr, 0);
  Run({"sh", "-c", "umount -l " + exec_root + "/c/*/rootfs 2>/dev/null; rm -rf " + dir});
  return 0;
}
