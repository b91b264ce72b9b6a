// registry_bench: pull and push of a generated image of about SIZE MB (default 200) in five
// layers of mixed compressibility, against Debian's docker-registry on the loopback of the
// benchmark's own namespace, each against its floor measured in the same run, ROUNDS times
// (default 5), alternating, medians in ms:
//   - pull floor: the manifest, the config, then the layer blobs fetched by curl 3 at a time (as
//     max-concurrent-downloads) and each unpacked with `tar -xzf` into a temp dir;
//   - berth pull: POST /images/create of the same image, after the image and its layers were
//     removed (the layer store is checked to be back to what it held before);
//   - push floor: the same blobs uploaded by curl 3 at a time (POST, then PUT of the file) and the
//     manifest put, to a registry with fresh storage;
//   - berth push: POST /images/{name}/push of the pulled image to a registry with fresh storage
//     (nothing to mount from, nothing already there).
// The image is built and pushed by test/e2e/tools/mkimage.py (found next to the source tree:
// BIN_DIR/../../test/e2e/tools, or $BERTH_TOOLS).
//
// Usage: registry_bench BIN_DIR [ROUNDS] [SIZE_MB]   (root: it starts its own berthd)

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "nlohmann/json.hpp"

namespace bb = berth::bench;
using bb::Clock;
using bb::Median;
using bb::Ms;

namespace {

constexpr int kSourcePort = 5000;  // holds the image the pulls fetch
constexpr int kPushPort = 5001;    // restarted with fresh storage before every push

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
    closedir(d);
  }
  return n;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One docker-registry serving storage on 127.0.0.1:port inside the namespace; stopped at exit.
class Registry {
 public:
  Registry(std::string ns_path, std::string dir, int port)
      : ns_(std::move(ns_path)), dir_(std::move(dir)), port_(port) {}

  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }

  // Starts it on an empty storage directory (fresh: any earlier storage is removed).
  void StartFresh() {
    Stop();
    bb::MustRun({"rm", "-rf", dir_});
    bb::MustRun({"mkdir", "-p", dir_ + "/storage"});
    std::ofstream cfg(dir_ + "/config.yml");
    cfg << "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
        << "storage:\n  filesystem:\n    rootdirectory: " << dir_ << "/storage\n"
        << "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        << "http:\n  addr: " << addr() << "\n  secret: berth-bench\n";
    cfg.close();
    int log = open((dir_ + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                   0644);
    // nsenter execs the registry: the pid is the registry's.
    *pid_ = bb::Spawn({"nsenter", "--net=" + ns_, "/usr/bin/docker-registry", "serve",
                       dir_ + "/config.yml"},
                      log, log);
    close(log);
    if (!registered_) {
      bb::OnExit([pid = pid_] {
        if (*pid > 0) bb::KillAndReap(*pid);
        *pid = -1;
      });
      registered_ = true;
    }
    for (int i = 0; i < 200; ++i) {
      if (bb::Run({"nsenter", "--net=" + ns_, "curl", "-sf", "-o", "/dev/null",
                   "http://" + addr() + "/v2/"}) == 0)
        return;
      bb::Sleep(std::chrono::milliseconds(25));
    }
    bb::Fail("docker-registry on %s did not answer; see %s/registry.log", addr().c_str(),
             dir_.c_str());
  }

  void Stop() {
    if (*pid_ > 0) bb::KillAndReap(*pid_);
    *pid_ = -1;
  }

 private:
  std::string ns_, dir_;
  int port_;
  std::shared_ptr<pid_t> pid_ = std::make_shared<pid_t>(-1);
  bool registered_ = false;
};

// A request on berthd's socket with extra headers; reads the whole (chunked) answer into body.
int StreamCall(const bb::Api& api, const std::string& method, const std::string& path,
               const std::string& headers, std::string* body) {
  bb::CheckInterrupted();
  int fd = api.Connect();
  if (fd < 0) bb::Fail("connect %s", api.socket_path().c_str());
  std::string req = method + " /v1.41" + path + " HTTP/1.1\r\nHost: berth\r\n" + headers +
                    "Content-Length: 0\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) bb::Fail("write");
  int st = bb::Api::ReadResponse(fd, body);
  close(fd);
  bb::CheckInterrupted();
  return st;
}

// The JSON stream of a pull or push: fails the run on an error message in it.
void CheckStream(const char* what, int status, const std::string& body) {
  if (status != 200) bb::Fail("%s: HTTP %d: %s", what, status, body.c_str());
  if (body.find("\"errorDetail\"") != std::string::npos || body.find("\"error\"") != std::string::npos)
    bb::Fail("%s: %s", what, body.substr(0, 2000).c_str());
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BIN_DIR [ROUNDS] [SIZE_MB]\n", argv[0]);
    return 2;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "registry_bench needs root (namespaces, its own berthd)\n");
    return 2;
  }
  bb::InstallExitHandling();
  std::string bin = argv[1];
  int rounds = argc > 2 ? bb::Iterations(argc, argv, 2) : 5;
  int size_mb = argc > 3 ? std::atoi(argv[3]) : 200;
  if (size_mb < 10) size_mb = 200;
  std::string tools = std::getenv("BERTH_TOOLS") ? std::getenv("BERTH_TOOLS")
                                                 : bin + "/../../test/e2e/tools";
  std::string mkimage = tools + "/mkimage.py";
  if (!Exists(mkimage)) bb::Fail("no %s (set BERTH_TOOLS to test/e2e/tools)", mkimage.c_str());
  if (!Exists("/usr/bin/docker-registry")) bb::Fail("no /usr/bin/docker-registry (apt docker-registry)");

  std::string dir = bb::MakeBenchDir();
  bb::Daemon daemon;
  daemon.Start(bin, dir);
  const bb::Api& api = daemon.api();
  const std::string ns = daemon.netns_path();

  // Five layers, largest first: mostly-binary, mixed, text-heavy; SIZE MB uncompressed in all.
  struct LayerSpec {
    double share, compressible;
  };
  const std::vector<LayerSpec> specs = {
      {0.32, 0.05}, {0.24, 0.5}, {0.20, 0.7}, {0.16, 0.9}, {0.08, 0.3}};
  std::vector<std::string> build = {mkimage, "build", "--out", dir + "/img", "--seed", "42"};
  for (auto& s : specs) {
    char spec[64];
    std::snprintf(spec, sizeof spec, "%dK:%.2f", static_cast<int>(size_mb * 1024 * s.share),
                  s.compressible);
    build.push_back("--layer");
    build.push_back(spec);
  }
  auto g0 = Clock::now();
  bb::MustRun(build);
  double gen_ms = Ms(g0, Clock::now());
  auto info = nlohmann::json::parse(ReadFile(dir + "/img/image.json"));
  std::vector<std::string> layer_hex;
  int64_t compressed = 0, uncompressed = 0;
  for (auto& l : info["layers"]) {
    layer_hex.push_back(l["digest"].get<std::string>().substr(7));
    compressed += l["size"].get<int64_t>();
    uncompressed += l["tar_size"].get<int64_t>();
  }
  std::string config_hex = info["config"]["digest"].get<std::string>().substr(7);
  std::string manifest_digest = info["digest"];

  Registry source(ns, dir + "/reg-src", kSourcePort);
  source.StartFresh();
  Registry target(ns, dir + "/reg-push", kPushPort);
  bb::MustRun({"nsenter", "--net=" + ns, mkimage, "push", "--dir", dir + "/img", "--registry",
               source.addr(), "--repo", "bench/img", "--tag", "v1"});
  const std::string image = source.addr() + "/bench/img";
  const std::string layers_dir = dir + "/data/image/layers";
  const size_t layers_baseline = CountEntries(layers_dir);

  // The floors as shell pipelines run inside the namespace: xargs -P3 over the layer digests.
  std::string digests;
  for (auto& h : layer_hex) digests += h + "\n";
  std::string floor_dir = dir + "/floor";
  std::string src_url = "http://" + source.addr() + "/v2/bench/img";
  std::string pull_floor =
      "set -e; d=" + ShellQuote(floor_dir) + "; u=" + ShellQuote(src_url) +
      "; curl -sf -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "
      "\"$u/manifests/v1\"; curl -sf -o /dev/null \"$u/blobs/sha256:" + config_hex +
      "\"; printf '" + digests +
      "' | xargs -P3 -I{} sh -c 'curl -sf -o \"$0/{}.gz\" \"$1/blobs/sha256:{}\" && mkdir "
      "\"$0/{}\" && tar -xzf \"$0/{}.gz\" -C \"$0/{}\"' \"$d\" \"$u\"";
  std::string blobs_dir = dir + "/img/blobs/sha256";
  std::string push_url = "http://" + target.addr() + "/v2/bench/push";
  std::string push_floor =
      "set -e; b=" + ShellQuote(blobs_dir) + "; u=" + ShellQuote(push_url) + "; printf '" +
      digests + config_hex +
      "\\n' | xargs -P3 -I{} sh -c 'loc=$(curl -sf -X POST -D - -o /dev/null \"$1/blobs/uploads/\" "
      "| tr -d \"\\r\" | sed -n \"s/^[Ll]ocation: //p\"); curl -sf -o /dev/null -H \"Expect:\" -T \"$0/{}\" -H "
      "\"Content-Type: application/octet-stream\" \"$loc&digest=sha256:{}\"' \"$b\" \"$u\"; "
      "curl -sf -o /dev/null -X PUT -H 'Content-Type: "
      "application/vnd.docker.distribution.manifest.v2+json' --data-binary @" +
      ShellQuote(dir + "/img/manifest.json") + " \"$u/manifests/v1\"";

  const std::string auth = "X-Registry-Auth: e30=\r\n";  // {}: anonymous
  std::vector<double> pull_floor_ms, pull_ms, push_floor_ms, push_ms;
  for (int r = 0; r < rounds; ++r) {
    // Pull floor.
    bb::MustRun({"rm", "-rf", floor_dir});
    bb::MustRun({"mkdir", "-p", floor_dir});
    auto t0 = Clock::now();
    bb::MustRun({"nsenter", "--net=" + ns, "sh", "-c", pull_floor});
    pull_floor_ms.push_back(Ms(t0, Clock::now()));
    bb::MustRun({"rm", "-rf", floor_dir});
    std::printf("  round %d: pull floor %.0f", r + 1, pull_floor_ms.back());
    std::fflush(stdout);

    // Push floor, to fresh storage.
    target.StartFresh();
    t0 = Clock::now();
    bb::MustRun({"nsenter", "--net=" + ns, "sh", "-c", push_floor});
    push_floor_ms.push_back(Ms(t0, Clock::now()));
    std::printf(", push floor %.0f", push_floor_ms.back());
    std::fflush(stdout);

    // Berth pull, the image and its layers absent.
    std::string out;
    api.Call("DELETE", "/images/" + image + ":v1?force=1", "", &out);
    if (CountEntries(layers_dir) != layers_baseline)
      bb::Fail("after rmi the layer store holds %zu entries, %zu before the first pull",
               CountEntries(layers_dir), layers_baseline);
    t0 = Clock::now();
    int st = StreamCall(api, "POST", "/images/create?fromImage=" + image + "&tag=v1", auth, &out);
    pull_ms.push_back(Ms(t0, Clock::now()));
    std::printf(", berth pull %.0f", pull_ms.back());
    std::fflush(stdout);
    CheckStream("berth pull", st, out);
    if (out.find(manifest_digest) == std::string::npos)
      bb::Fail("berth pull did not report the digest %s: %s", manifest_digest.c_str(),
               out.substr(0, 2000).c_str());

    // Berth push of the pulled image, to fresh storage.
    target.StartFresh();
    api.Must("POST", "/images/" + image + ":v1/tag?repo=" + target.addr() + "/bench/push&tag=v1",
             "", 201);
    t0 = Clock::now();
    st = StreamCall(api, "POST", "/images/" + target.addr() + "/bench/push/push?tag=v1", auth,
                    &out);
    push_ms.push_back(Ms(t0, Clock::now()));
    CheckStream("berth push", st, out);
    if (out.find("v1: digest: sha256:") == std::string::npos)
      bb::Fail("berth push reported no digest: %s", out.substr(0, 2000).c_str());
    api.Call("DELETE", "/images/" + target.addr() + "/bench/push:v1", "", &out);
    std::printf(", berth push %.0f ms\n", push_ms.back());
    std::fflush(stdout);
  }
  target.Stop();

  double pf = Median(pull_floor_ms), p = Median(pull_ms);
  double uf = Median(push_floor_ms), u = Median(push_ms);
  std::printf("registry_bench: image of %zu layers, %.1f MB uncompressed, %.1f MB gzip (built in "
              "%.0f ms); loopback docker-registry; %d rounds, medians (ms); target <= 1.20x\n",
              layer_hex.size(), uncompressed / 1048576.0, compressed / 1048576.0, gen_ms, rounds);
  std::printf("  pull floor (curl x3 + tar -xzf)  %8.0f  1.00x\n", pf);
  std::printf("  berth pull (POST /images/create) %8.0f  %.2fx floor\n", p, p / pf);
  std::printf("  push floor (curl x3 uploads)     %8.0f  1.00x\n", uf);
  std::printf("  berth push (POST /images/push)   %8.0f  %.2fx floor\n", u, u / uf);
  return 0;
}
