#include "engine/distribution/distribution_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "common/ids.h"

namespace berth::engine::internal {

namespace {
// An image config is a few KiB; this bounds what a hostile registry can make berthd hold.
constexpr int64_t kMaxConfigSize = 8 << 20;
}  // namespace

std::string FamiliarString(const registry::Reference& ref) {
  std::string s = ref.FamiliarName();
  if (!ref.tag.empty()) absl::StrAppend(&s, ":", ref.tag);
  if (!ref.digest.empty()) absl::StrAppend(&s, "@", ref.digest);
  return s;
}

std::string FullString(const registry::Reference& ref) {
  std::string s = ref.Name();
  if (!ref.tag.empty()) absl::StrAppend(&s, ":", ref.tag);
  if (!ref.digest.empty()) absl::StrAppend(&s, "@", ref.digest);
  return s;
}

std::string TagOrDigest(const registry::Reference& ref) {
  return ref.digest.empty() ? ref.tag : ref.digest;
}

std::string ShortDigest(const std::string& digest) {
  auto colon = digest.find(':');
  std::string hex = colon == std::string::npos ? digest : digest.substr(colon + 1);
  return hex.substr(0, 12);
}

Status ManifestError(const Status& st, const registry::Reference& ref) {
  if (st.ok()) return st;
  const auto code = st.code();
  const bool manifest_unknown = absl::StrContains(st.message(), "manifest unknown");
  if (ref.domain == registry::kDefaultDomain &&
      (code == absl::StatusCode::kUnauthenticated || code == absl::StatusCode::kPermissionDenied ||
       (code == absl::StatusCode::kNotFound && !manifest_unknown))) {
    return absl::NotFoundError(absl::StrCat(
        "pull access denied for ", ref.FamiliarName(),
        ", repository does not exist or may require 'docker login': denied: requested access to "
        "the resource is denied"));
  }
  if (code == absl::StatusCode::kNotFound && !absl::StartsWith(st.message(), "manifest for ")) {
    return absl::NotFoundError(absl::StrCat("manifest for ", FamiliarString(ref),
                                            " not found: manifest unknown: manifest unknown"));
  }
  return st;
}

Status WithReference(const Status& st, const registry::Reference& ref) {
  constexpr std::string_view kRemoved =
      "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been "
      "removed.";
  if (st.ok() || !absl::StartsWith(st.message(), Av(kRemoved))) return st;
  return absl::InvalidArgumentError(absl::StrCat(
      Av(kRemoved), " Suggest the author of ", FullString(ref),
      " to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More "
      "information at https://docs.docker.com/go/deprecated-image-specs/"));
}

StatusOr<int> TempFileWith(const std::string& dir, std::string_view data) {
  std::string path = dir + "/blob-XXXXXX";
  UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "create a temporary file in " + dir);
  ::unlink(path.c_str());
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "write a temporary file");
    off += static_cast<size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) < 0) return ErrnoStatus(errno, "seek a temporary file");
  return fd.release();
}

StatusOr<std::string> FetchSmallBlob(registry::Repository& repo, const registry::Descriptor& d,
                                     const std::string& tmp_dir, const std::atomic<bool>* cancel) {
  if (d.size > kMaxConfigSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("image configuration ", d.digest, " is too large (", d.size, " bytes)"));
  }
  ASSIGN_OR_RETURN(int raw, TempFileWith(tmp_dir, ""));
  UniqueFd fd(raw);
  RETURN_IF_ERROR(repo.FetchBlob(
      d, fd.get(), [](int64_t, int64_t) {}, cancel));
  if (::lseek(fd.get(), 0, SEEK_SET) < 0) return ErrnoStatus(errno, "seek a temporary file");
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read a temporary file");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (static_cast<int64_t>(out.size()) > kMaxConfigSize) {
      return absl::DataLossError(
          absl::StrCat("image config verification failed for digest ", d.digest));
    }
  }
  // The client verifies as the bytes arrive; this is what Docker checks once more.
  if (absl::StrCat("sha256:", Sha256Hex(out)) != d.digest) {
    return absl::DataLossError(
        absl::StrCat("image config verification failed for digest ", d.digest));
  }
  return out;
}

}  // namespace berth::engine::internal
