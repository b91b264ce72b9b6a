// The registry client against a real registry: Debian's docker-registry (distribution 2.8)
// started per test in a throwaway namespace bt-reg-<pid>-<n> (lo up, plus 10.99.0.1 on lo as a
// registry address that is not loopback, so that certificate checks apply to it), with its
// storage in a temp dir. The client runs on a thread that has entered the namespace. Plain HTTP
// push/mount/manifest/tags/fetch, a tampered blob, TLS with htpasswd and a CA made here with
// the openssl CLI, and the registry killed in the middle of a blob. Needs root; skips otherwise.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "common/ids.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/client/auth.h"
#include "registry/client/registry.h"
#include "registry/manifest.h"
#include "registry/reference.h"
#include "sys/subprocess.h"

namespace berth::registry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kOtherAddr[] = "10.99.0.1";  // on the namespace's lo: not loopback to the client

int RunCmd(const std::vector<std::string>& argv, std::string* out = nullptr) {
  auto r = sys::Run(argv);
  if (!r.ok()) return -1;
  if (out) *out = r->out + r->err;
  return r->exit_code;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

std::string DigestOf(std::string_view data) { return "sha256:" + Sha256Hex(data); }

Descriptor Blob(const std::string& digest, int64_t size) {
  Descriptor d;
  d.media_type = std::string(media::kDockerLayerGzip);
  d.digest = digest;
  d.size = size;
  return d;
}

// Runs fn on a thread that has entered the network namespace at path.
void InNetns(const std::string& path, const std::function<void()>& fn) {
  std::thread t([&] {
    UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns.valid() || ::setns(ns.get(), CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "setns " << path << ": " << std::strerror(errno);
      return;
    }
    fn();
  });
  t.join();
}

// One docker-registry in a namespace of its own, with a temp dir for its storage and config.
class RegistryServer {
 public:
  struct Options {
    std::string addr = "0.0.0.0:5000";
    std::string tls_cert, tls_key;  // serve HTTPS
    std::string htpasswd;           // basic auth with this file
    std::string token_realm;        // bearer tokens from this realm...
    std::string token_root;         // ...signed by the key of this certificate
  };

  RegistryServer() {
    static int counter = 0;
    netns_ = absl::StrCat("bt-reg-", getpid(), "-", counter++);
    char tmpl[] = "/tmp/bt-reg-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
    ok_ = !dir_.empty() && RunCmd({"ip", "netns", "add", netns_}) == 0 &&
          RunCmd({"ip", "-n", netns_, "link", "set", "lo", "up"}) == 0 &&
          RunCmd({"ip", "-n", netns_, "addr", "add", std::string(kOtherAddr) + "/32", "dev",
                  "lo"}) == 0;
  }
  ~RegistryServer() {
    Kill();
    RunCmd({"ip", "netns", "del", netns_});
    if (!dir_.empty()) RunCmd({"rm", "-rf", dir_});
  }

  bool ok() const { return ok_; }
  const std::string& dir() const { return dir_; }
  std::string netns_path() const { return "/run/netns/" + netns_; }
  std::string root() const { return dir_ + "/storage"; }
  pid_t pid() const { return pid_; }

  // Starts the registry and waits until it accepts connections.
  ::testing::AssertionResult Start(const Options& o) {
    opts_ = o;
    std::string cfg =
        absl::StrCat("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n",
                     "storage:\n  filesystem:\n    rootdirectory: ", root(),
                     "\n  delete:\n    enabled: true\n", "http:\n  addr: ", o.addr, "\n");
    if (!o.tls_cert.empty())
      absl::StrAppend(&cfg, "  tls:\n    certificate: ", o.tls_cert, "\n    key: ", o.tls_key,
                      "\n");
    if (!o.htpasswd.empty())
      absl::StrAppend(&cfg, "auth:\n  htpasswd:\n    realm: bt-realm\n    path: ", o.htpasswd,
                      "\n");
    if (!o.token_realm.empty())
      absl::StrAppend(&cfg, "auth:\n  token:\n    realm: ", o.token_realm,
                      "\n    service: bt-registry\n    issuer: bt-issuer\n    rootcertbundle: ",
                      o.token_root, "\n");
    WriteFile(dir_ + "/config.yml", cfg);
    return Restart();
  }

  // Starts it again with the same configuration and storage.
  ::testing::AssertionResult Restart() {
    Kill();
    UniqueFd log(
        ::open((dir_ + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    sys::SpawnOptions so;
    so.fds = {{1, log.get()}, {2, log.get()}};
    auto pid = sys::Spawn({"nsenter", "--net=" + netns_path(), "/usr/bin/docker-registry", "serve",
                           dir_ + "/config.yml"},
                          so);
    if (!pid.ok()) return ::testing::AssertionFailure() << pid.status();
    pid_ = *pid;
    // Ready when a connect succeeds; retried on a short exponential backoff.
    bool ready = false;
    int port = std::stoi(opts_.addr.substr(opts_.addr.rfind(':') + 1));
    InNetns(netns_path(), [&] {
      auto delay = std::chrono::milliseconds(5);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (std::chrono::steady_clock::now() < deadline) {
        UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          ready = true;
          return;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return;
        }
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, std::chrono::milliseconds(200));
      }
    });
    if (!ready)
      return ::testing::AssertionFailure()
             << "registry did not start: " << ReadFile(dir_ + "/registry.log");
    return ::testing::AssertionSuccess();
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    sys::Wait(pid_).IgnoreError();
    pid_ = -1;
  }

  // Where the registry keeps a blob's bytes.
  std::string BlobDataPath(const std::string& digest) const {
    std::string hex = digest.substr(7);
    return root() + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
  }

 private:
  std::string netns_;
  std::string dir_;
  bool ok_ = false;
  pid_t pid_ = -1;
  Options opts_;
};

// A file of the given bytes, read from its start.
UniqueFd FileWith(const std::string& dir, const std::string& name, std::string_view data) {
  std::string path = dir + "/" + name;
  WriteFile(path, data);
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

UniqueFd NewFile(const std::string& dir, const std::string& name) {
  return UniqueFd(::open((dir + "/" + name).c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
}

Reference Ref(const std::string& s) {
  auto r = ParseNormalized(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status();
  return r.ok() ? *r : Reference{};
}

// A Docker schema 2 manifest of one config and one layer, as bytes written here.
std::string Schema2(const std::string& config, const std::string& layer) {
  return absl::StrCat("{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"",
                      Av(media::kDockerManifest), "\",\n   \"config\": {\n      \"mediaType\": \"",
                      Av(media::kDockerConfig), "\",\n      \"size\": ", config.size(),
                      ",\n      \"digest\": \"", DigestOf(config),
                      "\"\n   },\n   \"layers\": [\n      {\n         \"mediaType\": \"",
                      Av(media::kDockerLayerGzip), "\",\n         \"size\": ", layer.size(),
                      ",\n         \"digest\": \"", DigestOf(layer), "\"\n      }\n   ]\n}");
}

const char kConfig[] =
    R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}})";

class RegistryClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    ASSERT_TRUE(server_.ok()) << "could not make the namespace or temp dir";
  }
  RegistryServer server_;
};

TEST_F(RegistryClientTest, PlainHttpPushMountManifestTagsFetch) {
  ASSERT_TRUE(server_.Start({}));
  const std::string layer = RandomBytes(3 * 1024 * 1024 + 17, 1);
  const std::string config = kConfig;
  const std::string manifest = Schema2(config, layer);
  const std::string dir = server_.dir();

  InNetns(server_.netns_path(), [&] {
    Registries regs(RegistryOptions{});
    auto one = regs.Open(Ref("127.0.0.1:5000/bt/one"), {}, Access::kPush);
    ASSERT_TRUE(one.ok()) << one.status();
    Repository& r1 = **one;

    auto missing = r1.BlobExists(DigestOf(layer));
    ASSERT_TRUE(missing.ok()) << missing.status();
    EXPECT_FALSE(*missing);

    int64_t last_done = 0;
    UniqueFd in = FileWith(dir, "layer", layer);
    ASSERT_TRUE(r1.PushBlob(DigestOf(layer), in.get(), static_cast<int64_t>(layer.size()),
                            [&](int64_t done, int64_t total) {
                              EXPECT_EQ(total, static_cast<int64_t>(layer.size()));
                              EXPECT_GE(done, last_done);
                              last_done = done;
                            })
                    .ok());
    EXPECT_EQ(last_done, static_cast<int64_t>(layer.size()));
    UniqueFd cin = FileWith(dir, "config", config);
    Status pushed =
        r1.PushBlob(DigestOf(config), cin.get(), static_cast<int64_t>(config.size()), nullptr);
    ASSERT_TRUE(pushed.ok()) << pushed;

    auto exists = r1.BlobExists(DigestOf(layer));
    ASSERT_TRUE(exists.ok()) << exists.status();
    EXPECT_TRUE(*exists);

    // Cross-repository mount into another repository of the registry.
    auto two = regs.Open(Ref("127.0.0.1:5000/bt/two"), {}, Access::kPush, {"bt/one"});
    ASSERT_TRUE(two.ok()) << two.status();
    auto mounted = (*two)->MountBlob(DigestOf(layer), "bt/one");
    ASSERT_TRUE(mounted.ok()) << mounted.status();
    EXPECT_TRUE(*mounted);
    auto there = (*two)->BlobExists(DigestOf(layer));
    ASSERT_TRUE(there.ok());
    EXPECT_TRUE(*there);
    // Mounting what the source does not have opens an upload instead (cancelled): false.
    auto not_mounted = (*two)->MountBlob(DigestOf("nothing"), "bt/one");
    ASSERT_TRUE(not_mounted.ok()) << not_mounted.status();
    EXPECT_FALSE(*not_mounted);

    auto put = r1.PutManifest("v1", media::kDockerManifest, manifest);
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_EQ(*put, DigestOf(manifest));
    ASSERT_TRUE(r1.PutManifest("v2", media::kDockerManifest, manifest).ok());

    for (const std::string& which : {std::string("v1"), DigestOf(manifest)}) {
      auto m = r1.GetManifest(which);
      ASSERT_TRUE(m.ok()) << which << ": " << m.status();
      EXPECT_EQ(m->body, manifest);
      EXPECT_EQ(m->digest, DigestOf(manifest));
      EXPECT_EQ(m->media_type, media::kDockerManifest);
      auto h = r1.HeadManifest(which);
      ASSERT_TRUE(h.ok()) << h.status();
      EXPECT_EQ(h->digest, DigestOf(manifest));
      EXPECT_EQ(h->size, static_cast<int64_t>(manifest.size()));
      EXPECT_EQ(h->media_type, media::kDockerManifest);
    }

    auto tags = r1.Tags();
    ASSERT_TRUE(tags.ok()) << tags.status();
    EXPECT_THAT(*tags, ElementsAre("v1", "v2"));

    UniqueFd out = NewFile(dir, "fetched");
    int64_t seen = 0;
    Descriptor d = Blob(DigestOf(layer), static_cast<int64_t>(layer.size()));
    Status fetched = r1.FetchBlob(d, out.get(), [&](int64_t done, int64_t) { seen = done; });
    ASSERT_TRUE(fetched.ok()) << fetched;
    EXPECT_EQ(seen, static_cast<int64_t>(layer.size()));
    EXPECT_EQ(ReadFile(dir + "/fetched"), layer);

    // Docker's words for what is not there.
    auto nope = r1.GetManifest("nope");
    EXPECT_EQ(nope.status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(
        nope.status().message(),
        "manifest for 127.0.0.1:5000/bt/one:nope not found: manifest unknown: manifest unknown");
    auto head_nope = r1.HeadManifest("nope");
    EXPECT_EQ(head_nope.status().code(), absl::StatusCode::kNotFound);
    UniqueFd out2 = NewFile(dir, "unknown");
    Status unknown = r1.FetchBlob(Blob(DigestOf("unknown"), 7), out2.get(), nullptr);
    EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(unknown.message(), "blob unknown: blob unknown to registry");

    // Nothing listening: Go's words, over HTTP (loopback falls back from HTTPS).
    auto gone = regs.Open(Ref("127.0.0.1:5001/x"), {}, Access::kPull);
    ASSERT_TRUE(gone.ok());
    auto refused = (*gone)->GetManifest("latest");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(refused.status().message(),
              "Get \"http://127.0.0.1:5001/v2/x/manifests/latest\": dial tcp 127.0.0.1:5001: "
              "connect: connection refused");

    // A registry that is not loopback is HTTPS only unless it is an insecure registry.
    auto secure = regs.Open(Ref(std::string(kOtherAddr) + ":5000/bt/one"), {}, Access::kPull);
    ASSERT_TRUE(secure.ok());
    auto tls_to_http = (*secure)->GetManifest("v1");
    EXPECT_EQ(tls_to_http.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(tls_to_http.status().message(),
              absl::StrCat("Get \"https://", kOtherAddr,
                           ":5000/v2/bt/one/manifests/v1\": http: server gave HTTP response to "
                           "HTTPS client"));
    RegistryOptions insecure_opts;
    insecure_opts.insecure_registries = {"10.99.0.0/16"};
    Registries insecure(insecure_opts);
    auto plain = insecure.Open(Ref(std::string(kOtherAddr) + ":5000/bt/one"), {}, Access::kPull);
    ASSERT_TRUE(plain.ok());
    auto via_http = (*plain)->GetManifest("v1");
    ASSERT_TRUE(via_http.ok()) << via_http.status();
    EXPECT_EQ(via_http->digest, DigestOf(manifest));
  });
}

TEST_F(RegistryClientTest, TamperedBlobIsDataLoss) {
  ASSERT_TRUE(server_.Start({}));
  const std::string layer = RandomBytes(1024 * 1024, 2);
  const std::string dir = server_.dir();
  InNetns(server_.netns_path(), [&] {
    Registries regs(RegistryOptions{});
    auto repo = regs.Open(Ref("127.0.0.1:5000/bt/tamper"), {}, Access::kPush);
    ASSERT_TRUE(repo.ok());
    UniqueFd in = FileWith(dir, "layer", layer);
    ASSERT_TRUE(
        (*repo)
            ->PushBlob(DigestOf(layer), in.get(), static_cast<int64_t>(layer.size()), nullptr)
            .ok());

    // Same size, one byte changed, behind the registry's back.
    std::string tampered = layer;
    tampered[tampered.size() / 2] ^= 0x5a;
    WriteFile(server_.BlobDataPath(DigestOf(layer)), tampered);

    UniqueFd out = NewFile(dir, "fetched");
    Status st = (*repo)->FetchBlob(Blob(DigestOf(layer), static_cast<int64_t>(layer.size())),
                                   out.get(), nullptr);
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(st.message(), "filesystem layer verification failed for digest " + DigestOf(layer));

    // A descriptor whose size disagrees with what the registry serves fails the same way.
    UniqueFd out2 = NewFile(dir, "fetched2");
    Status wrong_size = (*repo)->FetchBlob(Blob(DigestOf(layer), 1000), out2.get(), nullptr);
    EXPECT_EQ(wrong_size.code(), absl::StatusCode::kDataLoss);
  });
}

// A CA, and a server certificate for 10.99.0.1 and 127.0.0.1, made with the openssl CLI.
::testing::AssertionResult MakePki(const std::string& dir) {
  std::string out;
  auto run = [&](const std::vector<std::string>& argv) { return RunCmd(argv, &out) == 0; };
  WriteFile(dir + "/san.cnf", absl::StrCat("subjectAltName=IP:", kOtherAddr, ",IP:127.0.0.1\n"));
  bool ok = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", dir + "/ca.key", "-out", dir + "/ca.crt", "-days", "2",
                 "-subj", "/CN=bt test CA"}) &&
            run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", dir + "/server.key", "-out", dir + "/server.csr", "-subj",
                 std::string("/CN=") + kOtherAddr}) &&
            run({"openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.crt",
                 "-CAkey", dir + "/ca.key", "-CAcreateserial", "-out", dir + "/server.crt", "-days",
                 "2", "-extfile", dir + "/san.cnf"});
  if (!ok) return ::testing::AssertionFailure() << "openssl: " << out;
  return ::testing::AssertionSuccess();
}

TEST_F(RegistryClientTest, TlsWithHtpasswd) {
  const std::string dir = server_.dir();
  ASSERT_TRUE(MakePki(dir));
  std::string htpasswd;
  ASSERT_EQ(RunCmd({"htpasswd", "-Bbn", "alice", "s3cret"}, &htpasswd), 0) << htpasswd;
  WriteFile(dir + "/htpasswd", htpasswd);
  RegistryServer::Options o;
  o.tls_cert = dir + "/server.crt";
  o.tls_key = dir + "/server.key";
  o.htpasswd = dir + "/htpasswd";
  ASSERT_TRUE(server_.Start(o));

  // certs.d/<host:port>/ca.crt, as Docker's layout.
  const std::string certs = dir + "/certs.d";
  const std::string host_dir = absl::StrCat(certs, "/", kOtherAddr, ":5000");
  ASSERT_EQ(RunCmd({"mkdir", "-p", host_dir}), 0);
  ASSERT_EQ(RunCmd({"cp", dir + "/ca.crt", host_dir + "/ca.crt"}), 0);
  const std::string domain = absl::StrCat(kOtherAddr, ":5000");
  const std::string layer = RandomBytes(200 * 1024, 3);

  InNetns(server_.netns_path(), [&] {
    RegistryOptions opts;
    opts.certs_dirs = {certs};
    Registries regs(opts);

    AuthConfig good;
    good.username = "alice";
    good.password = "s3cret";
    good.server_address = domain;
    auto login = regs.Login(good);
    ASSERT_TRUE(login.ok()) << login.status();
    EXPECT_EQ(*login, "");  // basic auth: no identity token

    AuthConfig bad = good;
    bad.password = "wrong";
    auto refused = regs.Login(bad);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(refused.status().message(),
              absl::StrCat("login attempt to https://", domain,
                           "/v2/ failed with status: 401 Unauthorized"));

    // The right credentials push and pull.
    auto repo = regs.Open(Ref(domain + "/bt/secret"), good, Access::kPush);
    ASSERT_TRUE(repo.ok());
    UniqueFd in = FileWith(dir, "layer", layer);
    Status pushed =
        (*repo)->PushBlob(DigestOf(layer), in.get(), static_cast<int64_t>(layer.size()), nullptr);
    ASSERT_TRUE(pushed.ok()) << pushed;
    UniqueFd out = NewFile(dir, "fetched");
    Status fetched = (*repo)->FetchBlob(Blob(DigestOf(layer), static_cast<int64_t>(layer.size())),
                                        out.get(), nullptr);
    ASSERT_TRUE(fetched.ok()) << fetched;
    EXPECT_EQ(ReadFile(dir + "/fetched"), layer);

    // The wrong ones: the registry's own answer. None at all: Go's client words.
    auto wrong = regs.Open(Ref(domain + "/bt/secret"), bad, Access::kPull);
    ASSERT_TRUE(wrong.ok());
    auto denied = (*wrong)->BlobExists(DigestOf(layer));
    EXPECT_EQ(denied.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(denied.status().message(), "unauthorized: authentication required");
    auto anon = regs.Open(Ref(domain + "/bt/secret"), {}, Access::kPull);
    ASSERT_TRUE(anon.ok());
    auto no_creds = (*anon)->GetManifest("latest");
    EXPECT_EQ(no_creds.status().code(), absl::StatusCode::kUnknown);  // dockerd's 500
    EXPECT_EQ(no_creds.status().message(),
              absl::StrCat("Get \"https://", domain,
                           "/v2/bt/secret/manifests/latest\": no basic auth credentials"));

    // Without the CA the certificate is not trusted.
    Registries no_certs(RegistryOptions{});
    auto untrusted = no_certs.Login(good);
    EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(untrusted.status().message(),
              absl::StrCat("Get \"https://", domain,
                           "/v2/\": x509: certificate signed by unknown authority"));

    // Loopback is an insecure registry, as Docker's default 127.0.0.0/8: TLS without checking.
    AuthConfig lo = good;
    lo.server_address = "127.0.0.1:5000";
    auto loopback = no_certs.Login(lo);
    EXPECT_TRUE(loopback.ok()) << loopback.status();
  });
}

TEST_F(RegistryClientTest, RegistryKilledMidFetchThenRetry) {
  ASSERT_TRUE(server_.Start({}));
  const std::string dir = server_.dir();
  const std::string blob = RandomBytes(64 * 1024 * 1024, 4);
  const Descriptor d = Blob(DigestOf(blob), static_cast<int64_t>(blob.size()));
  InNetns(server_.netns_path(), [&] {
    Registries regs(RegistryOptions{});
    auto repo = regs.Open(Ref("127.0.0.1:5000/bt/big"), {}, Access::kPush);
    ASSERT_TRUE(repo.ok());
    UniqueFd in = FileWith(dir, "blob", blob);
    ASSERT_TRUE((*repo)->PushBlob(d.digest, in.get(), d.size, nullptr).ok());

    UniqueFd out = NewFile(dir, "partial");
    bool killed = false;
    Status st = (*repo)->FetchBlob(d, out.get(), [&](int64_t done, int64_t) {
      if (!killed && done >= 1024 * 1024) {
        server_.Kill();
        killed = true;
      }
    });
    EXPECT_TRUE(killed);
    EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
    EXPECT_THAT(
        std::string(st.message()),
        StartsWith(absl::StrCat("Get \"http://127.0.0.1:5000/v2/bt/big/blobs/", d.digest, "\": ")));

    // While it is down: connection refused, and the caller can try again.
    UniqueFd out2 = NewFile(dir, "down");
    Status down = (*repo)->FetchBlob(d, out2.get(), nullptr);
    EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(std::string(down.message()), HasSubstr("connect: connection refused"));
  });
  ASSERT_TRUE(server_.Restart());
  InNetns(server_.netns_path(), [&] {
    Registries regs(RegistryOptions{});
    auto repo = regs.Open(Ref("127.0.0.1:5000/bt/big"), {}, Access::kPull);
    ASSERT_TRUE(repo.ok());
    UniqueFd out = NewFile(dir, "complete");
    Status st = (*repo)->FetchBlob(d, out.get(), nullptr);
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(ReadFile(dir + "/complete").size(), blob.size());
    EXPECT_TRUE(ReadFile(dir + "/complete") == blob);
  });
}

TEST_F(RegistryClientTest, CancelStopsAFetch) {
  ASSERT_TRUE(server_.Start({}));
  const std::string dir = server_.dir();
  const std::string blob = RandomBytes(16 * 1024 * 1024, 5);
  const Descriptor d = Blob(DigestOf(blob), static_cast<int64_t>(blob.size()));
  InNetns(server_.netns_path(), [&] {
    Registries regs(RegistryOptions{});
    auto repo = regs.Open(Ref("127.0.0.1:5000/bt/cancel"), {}, Access::kPush);
    ASSERT_TRUE(repo.ok());
    UniqueFd in = FileWith(dir, "blob", blob);
    ASSERT_TRUE((*repo)->PushBlob(d.digest, in.get(), d.size, nullptr).ok());
    std::atomic<bool> cancel{false};
    int64_t at_cancel = -1;
    UniqueFd out = NewFile(dir, "partial");
    Status st = (*repo)->FetchBlob(
        d, out.get(),
        [&](int64_t done, int64_t) {
          if (at_cancel < 0) {
            cancel = true;
            at_cancel = done;
          }
        },
        &cancel);
    EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
    // Within one read of the cancel.
    struct stat sb;
    ASSERT_EQ(::fstat(out.get(), &sb), 0);
    EXPECT_EQ(sb.st_size, at_cancel);
    // The same Repository goes on working afterwards.
    UniqueFd again = NewFile(dir, "again");
    ASSERT_TRUE((*repo)->FetchBlob(d, again.get(), nullptr).ok());
  });
}

// A token server for the Docker token protocol, honest enough for distribution's checks: a
// JWT (ES256) whose header carries the signing certificate (x5c), which the registry verifies
// against its rootcertbundle; iss/aud/exp/nbf and the access the scopes asked for. alice with
// her password gets what she asks; a wrong password is refused as Docker Hub's token server
// does ({"details": ...}, 401); anonymous callers get pull only. Serves one request per
// connection on 127.0.0.1:5001 of the thread's namespace, until Stop().
class TokenServer {
 public:
  ::testing::AssertionResult Start(const std::string& dir, const std::string& netns_path) {
    std::string out;
    if (RunCmd({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", dir + "/token.key", "-out", dir + "/token.crt", "-days", "2",
                "-subj", "/CN=bt token signer"},
               &out) != 0)
      return ::testing::AssertionFailure() << out;
    FILE* kf = std::fopen((dir + "/token.key").c_str(), "r");
    FILE* cf = std::fopen((dir + "/token.crt").c_str(), "r");
    key_ = kf ? PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr) : nullptr;
    X509* cert = cf ? PEM_read_X509(cf, nullptr, nullptr, nullptr) : nullptr;
    if (kf) std::fclose(kf);
    if (cf) std::fclose(cf);
    if (key_ == nullptr || cert == nullptr) return ::testing::AssertionFailure() << "read key";
    unsigned char* der = nullptr;
    int n = i2d_X509(cert, &der);
    cert_der_.assign(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
    X509_free(cert);
    bool listening = false;
    InNetns(netns_path, [&] {
      listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      int one = 1;
      ::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(5001);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      listening = ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::listen(listen_.get(), 16) == 0;
    });
    if (!listening)
      return ::testing::AssertionFailure() << "token server listen: " << std::strerror(errno);
    thread_ = std::thread([this] { Serve(); });
    return ::testing::AssertionSuccess();
  }
  ~TokenServer() { Stop(); }
  void Stop() {
    if (thread_.joinable()) {
      ::shutdown(listen_.get(), SHUT_RDWR);
      thread_.join();
    }
    if (key_ != nullptr) EVP_PKEY_free(key_);
    key_ = nullptr;
  }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  static std::string B64Url(std::string_view s) {
    std::string b = Base64Encode(s);
    while (!b.empty() && b.back() == '=') b.pop_back();
    for (char& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return b;
  }
  static std::string Unescape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += s[i] == '+' ? ' ' : s[i];
      }
    }
    return out;
  }
  std::string Sign(std::string_view input) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_);
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string der(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    // JWS wants R and S as two 32-byte numbers, not OpenSSL's DER.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
    unsigned char raw[64] = {};
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
    ECDSA_SIG_free(sig);
    return std::string(reinterpret_cast<char*>(raw), 64);
  }
  std::string Token(const std::string& subject, const std::vector<std::string>& scopes,
                    bool may_push) {
    std::string access;
    for (const auto& scope : scopes) {
      // repository:<name>:<actions>
      size_t a = scope.find(':'), b = scope.rfind(':');
      if (a == std::string::npos || b == a) continue;
      std::string actions = "\"pull\"";
      if (may_push && scope.substr(b + 1).find("push") != std::string::npos) actions += ",\"push\"";
      absl::StrAppend(&access, access.empty() ? "" : ",", "{\"type\":\"repository\",\"name\":\"",
                      scope.substr(a + 1, b - a - 1), "\",\"actions\":[", actions, "]}");
    }
    long now = static_cast<long>(::time(nullptr));
    std::string header = absl::StrCat("{\"typ\":\"JWT\",\"alg\":\"ES256\",\"x5c\":[\"",
                                      Base64Encode(cert_der_), "\"]}");
    std::string claims = absl::StrCat("{\"iss\":\"bt-issuer\",\"sub\":\"", subject,
                                      "\",\"aud\":\"bt-registry\",\"exp\":", now + 300,
                                      ",\"nbf\":", now - 10, ",\"iat\":", now - 10, ",\"jti\":\"",
                                      now, "-", ++serial_, "\",\"access\":[", access, "]}");
    std::string input = B64Url(header) + "." + B64Url(claims);
    return input + "." + B64Url(Sign(input));
  }
  void Serve() {
    for (;;) {
      UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c.valid()) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c.get(), buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      std::string line = req.substr(0, req.find("\r\n"));
      {
        std::lock_guard<std::mutex> l(mu_);
        requests_.push_back(line);
      }
      std::vector<std::string> scopes;
      std::string target = line.substr(line.find(' ') + 1);
      target = target.substr(0, target.find(' '));
      size_t q = target.find('?');
      std::string query = q == std::string::npos ? "" : target.substr(q + 1);
      for (size_t i = 0; i <= query.size();) {
        size_t amp = query.find('&', i);
        if (amp == std::string::npos) amp = query.size();
        std::string kv = query.substr(i, amp - i);
        if (kv.starts_with("scope=")) scopes.push_back(Unescape(kv.substr(6)));
        i = amp + 1;
      }
      std::string user, status = "200 OK", body;
      size_t auth = req.find("Authorization: Basic ");
      if (auth != std::string::npos) {
        std::string b64 = req.substr(auth + 21, req.find("\r\n", auth) - auth - 21), creds;
        Base64Decode(b64, &creds);
        if (creds == "alice:s3cret") {
          body =
              absl::StrCat("{\"token\":\"", Token("alice", scopes, true), "\",\"expires_in\":300}");
        } else {
          status = "401 Unauthorized";
          body = "{\"details\":\"incorrect username or password\"}";
        }
      } else {
        body = absl::StrCat("{\"access_token\":\"", Token("", scopes, false),
                            "\",\"expires_in\":300}");
      }
      std::string resp =
          absl::StrCat("HTTP/1.1 ", status,
                       "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                       "\r\nConnection: close\r\n\r\n", body);
      (void)::write(c.get(), resp.data(), resp.size());
    }
  }

  EVP_PKEY* key_ = nullptr;
  std::string cert_der_;
  UniqueFd listen_;
  std::thread thread_;
  int serial_ = 0;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

TEST_F(RegistryClientTest, BearerTokens) {
  const std::string dir = server_.dir();
  TokenServer tokens;
  ASSERT_TRUE(tokens.Start(dir, server_.netns_path()));
  RegistryServer::Options o;
  o.token_realm = "http://127.0.0.1:5001/token";
  o.token_root = dir + "/token.crt";
  ASSERT_TRUE(server_.Start(o));
  const std::string layer = RandomBytes(300 * 1024, 6);

  InNetns(server_.netns_path(), [&] {
    Registries regs(RegistryOptions{});
    AuthConfig alice;
    alice.username = "alice";
    alice.password = "s3cret";
    alice.server_address = "127.0.0.1:5000";
    auto login = regs.Login(alice);
    ASSERT_TRUE(login.ok()) << login.status();

    AuthConfig wrong = alice;
    wrong.password = "nope";
    auto refused = regs.Login(wrong);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(refused.status().message(),
              "Get \"http://127.0.0.1:5000/v2/\": unauthorized: incorrect username or password");

    // Push with a pull,push token; the token is reused for the following requests.
    auto repo = regs.Open(Ref("127.0.0.1:5000/bt/tok"), alice, Access::kPush);
    ASSERT_TRUE(repo.ok());
    UniqueFd in = FileWith(dir, "layer", layer);
    Status pushed =
        (*repo)->PushBlob(DigestOf(layer), in.get(), static_cast<int64_t>(layer.size()), nullptr);
    ASSERT_TRUE(pushed.ok()) << pushed;
    auto exists = (*repo)->BlobExists(DigestOf(layer));
    ASSERT_TRUE(exists.ok()) << exists.status();
    EXPECT_TRUE(*exists);

    // A mount asks for pull on the source repository in the same token.
    auto other = regs.Open(Ref("127.0.0.1:5000/bt/tok2"), alice, Access::kPush, {"bt/tok"});
    ASSERT_TRUE(other.ok());
    auto mounted = (*other)->MountBlob(DigestOf(layer), "bt/tok");
    ASSERT_TRUE(mounted.ok()) << mounted.status();
    EXPECT_TRUE(*mounted);

    // Anonymous: a pull token works for reading, and pushing is refused by the registry.
    auto anon = regs.Open(Ref("127.0.0.1:5000/bt/tok"), {}, Access::kPush);
    ASSERT_TRUE(anon.ok());
    UniqueFd out = NewFile(dir, "fetched");
    Status fetched = (*anon)->FetchBlob(Blob(DigestOf(layer), static_cast<int64_t>(layer.size())),
                                        out.get(), nullptr);
    ASSERT_TRUE(fetched.ok()) << fetched;
    EXPECT_EQ(ReadFile(dir + "/fetched"), layer);
    UniqueFd in2 = FileWith(dir, "layer2", "x");
    Status anon_push = (*anon)->PushBlob(DigestOf("x"), in2.get(), 1, nullptr);
    EXPECT_EQ(anon_push.code(), absl::StatusCode::kUnauthenticated) << anon_push;
    EXPECT_THAT(std::string(anon_push.message()),
                HasSubstr("unauthorized: authentication required"));
  });
  tokens.Stop();
  auto reqs = tokens.requests();
  auto has = [&](const std::string& s) {
    return std::any_of(reqs.begin(), reqs.end(),
                       [&](const std::string& r) { return r.find(s) != std::string::npos; });
  };
  EXPECT_TRUE(has("scope=repository%3Abt%2Ftok%3Apull%2Cpush")) << ::testing::PrintToString(reqs);
  EXPECT_TRUE(has("scope=repository%3Abt%2Ftok2%3Apull%2Cpush&scope=repository%3Abt%2Ftok%3Apull"))
      << ::testing::PrintToString(reqs);
  EXPECT_TRUE(has("service=bt-registry"));
  EXPECT_TRUE(has("offline_token=true&client_id=docker"));
  // One token per repository and set of scopes, not one per request.
  EXPECT_LE(reqs.size(), 8u) << ::testing::PrintToString(reqs);
}

}  // namespace
}  // namespace berth::registry
