#include "registry/client/repository.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/ids.h"
#include "registry/client/auth.h"
#include "registry/client/errors.h"

namespace berth::registry {
namespace {

constexpr size_t kPiece = 256 * 1024;             // one read of a blob
constexpr size_t kMaxManifest = 4 * 1024 * 1024;  // as Docker's maxManifestBodySize
constexpr int kMaxRedirects = 10;

std::string ContentType(const http::Response& r) {
  std::string ct = r.Header("Content-Type");
  if (size_t semi = ct.find(';'); semi != std::string::npos) ct.resize(semi);
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  return ct;
}

// The Accept list of a manifest request: the distribution helper's when it has landed.
std::string ManifestAccept() {
  std::string accept = media::AcceptHeader();
  if (!accept.empty()) return accept;
  return absl::StrCat(Av(media::kOciIndex), ", ", Av(media::kDockerManifestList), ", ",
                      Av(media::kOciManifest), ", ", Av(media::kDockerManifest));
}

std::string VerificationFailed(std::string_view digest) {
  return absl::StrCat("filesystem layer verification failed for digest ", Av(digest));
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(const char* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string Digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned i = 0; i < len; ++i) {
      out += kHex[md[i] >> 4];
      out += kHex[md[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

Status WriteAllFd(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return ErrnoStatus(errno, "write the blob");
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

class EndpointRepository : public Repository {
 public:
  EndpointRepository(Endpoint ep, Reference ref, AuthConfig auth, std::vector<std::string> scopes,
                     http::HttpOptions http_opts, http::TlsFor tls_for)
      : ep_(std::move(ep)),
        ref_(std::move(ref)),
        client_(std::move(http_opts), std::move(tls_for)),
        auth_(&client_, HostPortFor(ep_), std::move(auth), std::move(scopes)) {}

  StatusOr<Manifest> GetManifest(std::string_view tag_or_digest) override;
  StatusOr<Descriptor> HeadManifest(std::string_view tag_or_digest) override;
  Status FetchBlob(const Descriptor& blob, int out_fd, const ProgressFn& progress,
                   const std::atomic<bool>* cancel) override;
  StatusOr<std::vector<std::string>> Tags() override;
  StatusOr<bool> BlobExists(std::string_view digest) override;
  StatusOr<bool> MountBlob(std::string_view digest, std::string_view from_path) override;
  Status PushBlob(std::string_view digest, int in_fd, int64_t size,
                  const ProgressFn& progress) override;
  StatusOr<std::string> PutManifest(std::string_view tag_or_digest, std::string_view media_type,
                                    std::string_view body) override;

  StatusOr<std::string> Login();

 private:
  static std::string HostPortFor(const Endpoint& ep) {
    http::Url u{"https", ep.host, ep.port == 0 ? 443 : ep.port, "/"};
    return u.HostPort();
  }
  // The endpoint's URL for a path under /v2/ (an insecure registry's scheme found on first use).
  StatusOr<http::Url> V2Url(std::string_view rest);
  // Sends with credentials, answering one 401 challenge and following redirects.
  StatusOr<std::unique_ptr<http::Response>> Do(http::Request req,
                                               const std::atomic<bool>* cancel = nullptr);
  // The error for an answer that was not the expected one (its body read for the message).
  Status Fail(http::Response& resp);
  // "manifest for localhost:5000/x:nope not found: manifest unknown: manifest unknown".
  Status ManifestError(http::Response& resp, std::string_view tag_or_digest);
  std::string FamiliarRef(std::string_view tag_or_digest) const;
  std::string BlobsPath() const { return "/" + ref_.path + "/blobs/"; }

  const Endpoint ep_;
  const Reference ref_;
  http::HttpClient client_;
  Authorizer auth_;
  absl::Mutex mu_;
  std::string scheme_ ABSL_GUARDED_BY(mu_);  // "" until the first call decides
};

StatusOr<http::Url> EndpointRepository::V2Url(std::string_view rest) {
  std::string scheme;
  {
    absl::MutexLock lock(&mu_);
    scheme = scheme_;
  }
  if (scheme.empty()) {
    http::Url https{"https", ep_.host, ep_.port == 0 ? 443 : ep_.port, "/v2/"};
    // An insecure registry may speak plain HTTP: HTTPS first (without checking the
    // certificate), as Docker; whatever fails then fails over HTTP, with its URL.
    scheme = !ep_.insecure || !ep_.insecure() || client_.Probe(https).ok() ? "https" : "http";
    absl::MutexLock lock(&mu_);
    scheme_ = scheme;
  }
  http::Url u{scheme, ep_.host, ep_.port == 0 ? (scheme == "https" ? 443 : 80) : ep_.port, ""};
  u.target = ep_.mirror_path + "/v2" + std::string(rest);
  return u;
}

std::string EndpointRepository::FamiliarRef(std::string_view tag_or_digest) const {
  Reference r = ref_;
  r.tag.clear();
  r.digest.clear();
  if (ValidDigest(tag_or_digest) || tag_or_digest.find(':') != std::string_view::npos)
    r.digest = std::string(tag_or_digest);
  else
    r.tag = std::string(tag_or_digest);
  return r.FamiliarString();
}

StatusOr<std::unique_ptr<http::Response>> EndpointRepository::Do(http::Request req,
                                                                 const std::atomic<bool>* cancel) {
  off_t body_start = req.body_fd >= 0 ? ::lseek(req.body_fd, 0, SEEK_CUR) : -1;
  bool answered_challenge = false;
  for (int redirects = 0;;) {
    const std::string prefix = http::HttpClient::ErrorPrefix(req.method, req.url);
    auto header = auth_.HeaderFor(req.url);
    if (!header.ok())
      return Status(header.status().code(), prefix + std::string(header.status().message()));
    std::erase_if(req.headers, [](const auto& h) { return h.first == "Authorization"; });
    if (!header->empty()) req.headers.emplace_back("Authorization", *header);
    ASSIGN_OR_RETURN(auto resp, client_.Send(req, cancel));
    if (resp->status() == 401 && !answered_challenge) {
      auto retry = auth_.OnChallenge(resp->Headers("WWW-Authenticate"));
      if (!retry.ok()) {
        resp->Discard();
        return Status(retry.status().code(), prefix + std::string(retry.status().message()));
      }
      if (*retry) {
        answered_challenge = true;
        resp->Discard();
        if (req.body_fd >= 0) {
          if (body_start < 0) return absl::UnavailableError(prefix + "cannot resend the body");
          ::lseek(req.body_fd, body_start, SEEK_SET);
        }
        continue;
      }
    }
    if (IsRedirect(resp->status()) && redirects < kMaxRedirects) {
      std::string location = resp->Header("Location");
      if (location.empty()) return resp;
      ASSIGN_OR_RETURN(req.url, http::ResolveUrl(req.url, location));
      resp->Discard();
      ++redirects;
      if (resp->status() == 303 ||
          ((resp->status() == 301 || resp->status() == 302) && req.method == "POST")) {
        req.method = "GET";
        req.body.clear();
        req.body_fd = -1;
        req.body_size = 0;
      }
      continue;
    }
    return resp;
  }
}

Status EndpointRepository::Fail(http::Response& resp) {
  std::string body;
  if (auto b = resp.ReadAll(64 * 1024); b.ok()) body = std::move(*b);
  return RegistryError(resp.status(), resp.reason(), resp.Headers("WWW-Authenticate"), body);
}

Status EndpointRepository::ManifestError(http::Response& resp, std::string_view tag_or_digest) {
  std::string body;
  if (auto b = resp.ReadAll(64 * 1024); b.ok()) body = std::move(*b);
  if (resp.status() == 404 && body.empty()) {
    // A HEAD's 404 has no body; the registry's GET would have said this.
    return absl::NotFoundError(absl::StrCat("manifest for ", FamiliarRef(tag_or_digest),
                                            " not found: manifest unknown: manifest unknown"));
  }
  std::string text =
      RenderRegistryError(resp.status(), resp.reason(), resp.Headers("WWW-Authenticate"), body);
  absl::StatusCode code = CodeForHttpStatus(resp.status());
  // moby's notFoundError: how a pull words the two "not there" answers.
  if (text.starts_with("manifest unknown:"))
    return absl::NotFoundError(
        absl::StrCat("manifest for ", FamiliarRef(tag_or_digest), " not found: ", text));
  if (text.starts_with("name unknown:"))
    return absl::NotFoundError(
        absl::StrCat("repository ", ref_.FamiliarName(), " not found: ", text));
  return Status(code, text);
}

StatusOr<Repository::Manifest> EndpointRepository::GetManifest(std::string_view tag_or_digest) {
  http::Request req;
  ASSIGN_OR_RETURN(req.url, V2Url("/" + ref_.path + "/manifests/" + std::string(tag_or_digest)));
  req.headers.emplace_back("Accept", ManifestAccept());
  ASSIGN_OR_RETURN(auto resp, Do(std::move(req)));
  if (resp->status() != 200) return ManifestError(*resp, tag_or_digest);
  Manifest m;
  ASSIGN_OR_RETURN(m.body, resp->ReadAll(kMaxManifest));
  m.digest = "sha256:" + Sha256Hex(m.body);
  bool by_digest = tag_or_digest.find(':') != std::string_view::npos;
  if (by_digest && m.digest != tag_or_digest) {
    return absl::DataLossError(
        absl::StrCat("manifest verification failed for digest ", Av(tag_or_digest)));
  }
  std::string announced = resp->Header("Docker-Content-Digest");
  if (!by_digest && !announced.empty() && announced != m.digest) {
    return absl::DataLossError(absl::StrCat("manifest verification failed for digest ", announced));
  }
  m.media_type = ContentType(*resp);
  if (m.media_type.empty() || m.media_type == "application/json" || m.media_type == "text/plain") {
    auto j = nlohmann::json::parse(m.body, nullptr, false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string())
      m.media_type = j["mediaType"].get<std::string>();
  }
  return m;
}

StatusOr<Descriptor> EndpointRepository::HeadManifest(std::string_view tag_or_digest) {
  http::Request req;
  req.method = "HEAD";
  ASSIGN_OR_RETURN(req.url, V2Url("/" + ref_.path + "/manifests/" + std::string(tag_or_digest)));
  req.headers.emplace_back("Accept", ManifestAccept());
  ASSIGN_OR_RETURN(auto resp, Do(std::move(req)));
  if (resp->status() != 200) return ManifestError(*resp, tag_or_digest);
  Descriptor d;
  d.media_type = ContentType(*resp);
  d.digest = resp->Header("Docker-Content-Digest");
  d.size = resp->content_length();
  if (d.digest.empty() || d.size < 0 || d.media_type.empty()) {
    // Not every registry says all of it on a HEAD: the GET does.
    ASSIGN_OR_RETURN(Manifest m, GetManifest(tag_or_digest));
    d.media_type = m.media_type;
    d.digest = m.digest;
    d.size = static_cast<int64_t>(m.body.size());
  }
  return d;
}

Status EndpointRepository::FetchBlob(const Descriptor& blob, int out_fd, const ProgressFn& progress,
                                     const std::atomic<bool>* cancel) {
  http::Request req;
  ASSIGN_OR_RETURN(req.url, V2Url(BlobsPath() + blob.digest));
  ASSIGN_OR_RETURN(auto resp, Do(std::move(req), cancel));
  if (resp->status() != 200) return Fail(*resp);
  const int64_t want = blob.size > 0 ? blob.size : -1;
  const int64_t total = want >= 0 ? want : resp->content_length();
  if (want >= 0 && resp->content_length() >= 0 && resp->content_length() != want) {
    resp->Discard();
    return absl::DataLossError(VerificationFailed(blob.digest));
  }
  Sha256 sha;
  std::string buf(kPiece, '\0');
  int64_t done = 0;
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, resp->Read(buf.data(), buf.size(), cancel));
    if (n == 0) break;
    done += static_cast<int64_t>(n);
    if (want >= 0 && done > want) {
      resp->Discard();
      return absl::DataLossError(VerificationFailed(blob.digest));
    }
    sha.Update(buf.data(), n);
    RETURN_IF_ERROR(WriteAllFd(out_fd, buf.data(), n));
    if (progress) progress(done, total);
  }
  if ((want >= 0 && done != want) || sha.Digest() != blob.digest)
    return absl::DataLossError(VerificationFailed(blob.digest));
  return absl::OkStatus();
}

StatusOr<std::vector<std::string>> EndpointRepository::Tags() {
  std::vector<std::string> tags;
  http::Request req;
  ASSIGN_OR_RETURN(req.url, V2Url("/" + ref_.path + "/tags/list"));
  for (int pages = 0; pages < 10000; ++pages) {
    ASSIGN_OR_RETURN(auto resp, Do(req));
    if (resp->status() != 200) return Fail(*resp);
    std::string link = resp->Header("Link");
    ASSIGN_OR_RETURN(std::string body, resp->ReadAll(16 << 20));
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object()) {
      return absl::UnavailableError(absl::StrCat(http::HttpClient::ErrorPrefix("GET", req.url),
                                                 "invalid tag list: not a JSON object"));
    }
    if (auto it = j.find("tags"); it != j.end() && it->is_array())
      for (const auto& t : *it)
        if (t.is_string()) tags.push_back(t.get<std::string>());
    // Link: </v2/x/tags/list?last=b&n=100>; rel="next"
    size_t open = link.find('<'), close = link.find('>');
    if (link.find("rel=\"next\"") == std::string::npos || open == std::string::npos ||
        close == std::string::npos || close < open)
      return tags;
    ASSIGN_OR_RETURN(req.url, http::ResolveUrl(req.url, link.substr(open + 1, close - open - 1)));
  }
  return tags;
}

StatusOr<bool> EndpointRepository::BlobExists(std::string_view digest) {
  http::Request req;
  req.method = "HEAD";
  ASSIGN_OR_RETURN(req.url, V2Url(BlobsPath() + std::string(digest)));
  ASSIGN_OR_RETURN(auto resp, Do(std::move(req)));
  if (resp->status() == 200) return true;
  if (resp->status() == 404) return false;
  return Fail(*resp);
}

StatusOr<bool> EndpointRepository::MountBlob(std::string_view digest, std::string_view from_path) {
  http::Request req;
  req.method = "POST";
  ASSIGN_OR_RETURN(req.url, V2Url(BlobsPath() + "uploads/?mount=" + http::QueryEscape(digest) +
                                  "&from=" + http::QueryEscape(from_path)));
  ASSIGN_OR_RETURN(auto resp, Do(std::move(req)));
  if (resp->status() == 201) {
    resp->Discard();
    return true;
  }
  if (resp->status() != 202) return Fail(*resp);
  // Not mounted: the registry opened an upload instead, which is not wanted.
  std::string location = resp->Header("Location");
  http::Url here = resp->url();
  resp->Discard();
  if (!location.empty()) {
    if (auto u = http::ResolveUrl(here, location); u.ok()) {
      http::Request del;
      del.method = "DELETE";
      del.url = *u;
      if (auto r = Do(std::move(del)); r.ok()) (*r)->Discard();
    }
  }
  return false;
}

Status EndpointRepository::PushBlob(std::string_view digest, int in_fd, int64_t size,
                                    const ProgressFn& progress) {
  const off_t start = ::lseek(in_fd, 0, SEEK_CUR);
  auto open_upload = [&]() -> StatusOr<http::Url> {
    http::Request post;
    post.method = "POST";
    ASSIGN_OR_RETURN(post.url, V2Url(BlobsPath() + "uploads/"));
    ASSIGN_OR_RETURN(auto resp, Do(std::move(post)));
    if (resp->status() != 202) return Fail(*resp);
    std::string location = resp->Header("Location");
    http::Url here = resp->url();
    resp->Discard();
    if (location.empty())
      return absl::UnavailableError(http::HttpClient::ErrorPrefix("POST", here) +
                                    "the registry gave no upload location");
    return http::ResolveUrl(here, location);
  };
  auto with_digest = [&](http::Url u) {
    u.target += (u.target.find('?') == std::string::npos ? "?" : "&");
    u.target += "digest=" + http::QueryEscape(digest);
    return u;
  };
  ASSIGN_OR_RETURN(http::Url upload, open_upload());

  // One monolithic PUT of the whole blob.
  http::Request put;
  put.method = "PUT";
  put.url = with_digest(upload);
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  put.body_fd = in_fd;
  put.body_size = size;
  put.upload_progress = progress;
  ASSIGN_OR_RETURN(auto resp, Do(put));
  if (resp->status() == 201 || resp->status() == 204) {
    resp->Discard();
    return absl::OkStatus();
  }
  // A registry that refuses a monolithic upload gets the chunked one: PATCH the bytes, then
  // the closing PUT without a body.
  const int st = resp->status();
  if ((st != 400 && st != 405 && st != 416) || start < 0) return Fail(*resp);
  std::string body;
  if (auto b = resp->ReadAll(64 * 1024); b.ok()) body = *b;
  if (body.find("DIGEST_INVALID") != std::string::npos ||
      body.find("SIZE_INVALID") != std::string::npos)
    return RegistryError(st, resp->reason(), resp->Headers("WWW-Authenticate"), body);
  ::lseek(in_fd, start, SEEK_SET);
  ASSIGN_OR_RETURN(upload, open_upload());
  http::Request patch;
  patch.method = "PATCH";
  patch.url = upload;
  patch.headers.emplace_back("Content-Type", "application/octet-stream");
  if (size > 0) patch.headers.emplace_back("Content-Range", absl::StrCat("0-", size - 1));
  patch.body_fd = in_fd;
  patch.body_size = size;
  patch.upload_progress = progress;
  ASSIGN_OR_RETURN(auto presp, Do(std::move(patch)));
  if (presp->status() != 202) return Fail(*presp);
  std::string location = presp->Header("Location");
  http::Url here = presp->url();
  presp->Discard();
  if (!location.empty()) {
    ASSIGN_OR_RETURN(upload, http::ResolveUrl(here, location));
  }
  http::Request close;
  close.method = "PUT";
  close.url = with_digest(upload);
  ASSIGN_OR_RETURN(auto cresp, Do(std::move(close)));
  if (cresp->status() != 201 && cresp->status() != 204) return Fail(*cresp);
  cresp->Discard();
  return absl::OkStatus();
}

StatusOr<std::string> EndpointRepository::PutManifest(std::string_view tag_or_digest,
                                                      std::string_view media_type,
                                                      std::string_view body) {
  http::Request req;
  req.method = "PUT";
  ASSIGN_OR_RETURN(req.url, V2Url("/" + ref_.path + "/manifests/" + std::string(tag_or_digest)));
  req.headers.emplace_back("Content-Type", std::string(media_type));
  req.body = std::string(body);
  ASSIGN_OR_RETURN(auto resp, Do(std::move(req)));
  if (resp->status() != 201 && resp->status() != 200 && resp->status() != 202) return Fail(*resp);
  std::string digest = resp->Header("Docker-Content-Digest");
  resp->Discard();
  if (digest.empty()) digest = "sha256:" + Sha256Hex(body);
  return digest;
}

StatusOr<std::string> EndpointRepository::Login() {
  http::Request req;
  ASSIGN_OR_RETURN(req.url, V2Url("/"));
  auto resp = Do(req);
  if (!resp.ok()) {
    // A token server's "unauthorized: ..." is a login failure, as Docker's translateV2AuthError.
    if (resp.status().message().find(": unauthorized: ") != std::string_view::npos)
      return absl::UnauthenticatedError(resp.status().message());
    return resp.status();
  }
  int status = (*resp)->status();
  std::string reason = (*resp)->reason();
  (*resp)->Discard();
  if (status == 200) return auth_.refresh_token();
  std::string text = reason.empty() ? std::string() : " " + reason;
  if (status == 401 && reason.empty()) text = " Unauthorized";
  std::string msg =
      absl::StrCat("login attempt to ", req.url.String(), " failed with status: ", status, text);
  return Status(status == 401 ? absl::StatusCode::kUnauthenticated : CodeForHttpStatus(status),
                msg);
}

class FallbackRepository : public Repository {
 public:
  explicit FallbackRepository(std::vector<std::unique_ptr<Repository>> repos)
      : repos_(std::move(repos)) {}

  StatusOr<Manifest> GetManifest(std::string_view r) override {
    return Try<Manifest>([&](Repository& x) { return x.GetManifest(r); });
  }
  StatusOr<Descriptor> HeadManifest(std::string_view r) override {
    return Try<Descriptor>([&](Repository& x) { return x.HeadManifest(r); });
  }
  Status FetchBlob(const Descriptor& blob, int out_fd, const ProgressFn& progress,
                   const std::atomic<bool>* cancel) override {
    off_t start = ::lseek(out_fd, 0, SEEK_CUR);
    auto r = Try<bool>([&](Repository& x) -> StatusOr<bool> {
      // A mirror that failed half way must not leave its bytes in front of the next one's.
      if (start >= 0) {
        ::lseek(out_fd, start, SEEK_SET);
        if (::ftruncate(out_fd, start) != 0 && errno != EINVAL) {
          return ErrnoStatus(errno, "truncate the blob file");
        }
      }
      RETURN_IF_ERROR(x.FetchBlob(blob, out_fd, progress, cancel));
      return true;
    });
    return r.status();
  }
  StatusOr<std::vector<std::string>> Tags() override {
    return Try<std::vector<std::string>>([&](Repository& x) { return x.Tags(); });
  }
  StatusOr<bool> BlobExists(std::string_view d) override { return Last().BlobExists(d); }
  StatusOr<bool> MountBlob(std::string_view d, std::string_view from) override {
    return Last().MountBlob(d, from);
  }
  Status PushBlob(std::string_view d, int fd, int64_t size, const ProgressFn& p) override {
    return Last().PushBlob(d, fd, size, p);
  }
  StatusOr<std::string> PutManifest(std::string_view r, std::string_view mt,
                                    std::string_view body) override {
    return Last().PutManifest(r, mt, body);
  }

 private:
  Repository& Last() { return *repos_.back(); }
  template <typename T, typename Fn>
  StatusOr<T> Try(Fn fn) {
    size_t first = current_.load();
    StatusOr<T> r = absl::UnavailableError("no registry endpoint");
    for (size_t i = first; i < repos_.size(); ++i) {
      r = fn(*repos_[i]);
      if (r.ok() || r.status().code() == absl::StatusCode::kDataLoss ||
          r.status().code() == absl::StatusCode::kCancelled || i + 1 == repos_.size())
        return r;
      // This one failed: the next calls start with the next endpoint.
      size_t expected = i;
      current_.compare_exchange_strong(expected, i + 1);
    }
    return r;
  }

  std::vector<std::unique_ptr<Repository>> repos_;
  std::atomic<size_t> current_{0};
};

}  // namespace

std::unique_ptr<Repository> NewEndpointRepository(Endpoint ep, const Reference& ref,
                                                  const AuthConfig& auth,
                                                  std::vector<std::string> scopes,
                                                  http::HttpOptions http_opts,
                                                  http::TlsFor tls_for) {
  return std::make_unique<EndpointRepository>(std::move(ep), ref, auth, std::move(scopes),
                                              std::move(http_opts), std::move(tls_for));
}

StatusOr<std::string> LoginEndpoint(Endpoint ep, const AuthConfig& auth,
                                    http::HttpOptions http_opts, http::TlsFor tls_for) {
  EndpointRepository repo(std::move(ep), Reference{}, auth, {}, std::move(http_opts),
                          std::move(tls_for));
  return repo.Login();
}

std::unique_ptr<Repository> NewFallbackRepository(std::vector<std::unique_ptr<Repository>> repos) {
  if (repos.size() == 1) return std::move(repos.front());
  return std::make_unique<FallbackRepository>(std::move(repos));
}

}  // namespace berth::registry
