#include "sys/tar.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace berth::tar {
namespace {

constexpr size_t kBlock = 512;
constexpr int64_t kRecord = 10240;  // GNU tar's default blocking factor 20
// Bounds on metadata entries held in memory (GNU long names, PAX records): far above any real
// path, low enough that a hostile archive cannot make us allocate gigabytes.
constexpr int64_t kMaxMetaSize = 1 << 20;
constexpr char kWhiteoutPrefix[] = ".wh.";
constexpr char kWhiteoutMetaPrefix[] = ".wh..wh.";
constexpr char kWhiteoutOpaque[] = ".wh..wh..opq";
constexpr char kOpaqueXattr[] = "trusted.overlay.opaque";
constexpr char kOverlayXattrPrefix[] = "trusted.overlay.";

// ustar header field offsets and widths.
struct Field {
  size_t off, len;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12},
    kMtime{136, 12}, kChksum{148, 8}, kLinkname{157, 100}, kMagic{257, 6}, kVersion{263, 2},
    kDevmajor{329, 8}, kDevminor{337, 8}, kPrefix{345, 155};
constexpr size_t kTypeOff = 156;

absl::Status UnexpectedEof() { return absl::InvalidArgumentError("archive/tar: unexpected EOF"); }
absl::Status BadHeader(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("archive/tar: invalid tar header: ", why));
}

absl::string_view CString(const char* b, Field f) {
  absl::string_view s(b + f.off, f.len);
  size_t nul = s.find('\0');
  return nul == absl::string_view::npos ? s : s.substr(0, nul);
}

// Octal (NUL/space terminated, leading spaces allowed) or GNU base-256 (high bit of the first byte
// set; 0xff starts a negative two's-complement number).
absl::StatusOr<int64_t> ParseNumeric(const char* b, Field f) {
  const auto* u = reinterpret_cast<const unsigned char*>(b + f.off);
  if (u[0] & 0x80) {
    // Big-endian two's complement in the field minus its marker bit.
    unsigned char inv = (u[0] & 0x40) ? 0xff : 0;
    uint64_t x = 0;
    for (size_t i = 0; i < f.len; ++i) {
      unsigned char c = u[i] ^ inv;
      if (i == 0) c &= 0x7f;
      if (x >> 56) return BadHeader("base-256 number overflows");
      x = (x << 8) | c;
    }
    if (x >> 63) return BadHeader("base-256 number overflows");
    return inv ? ~static_cast<int64_t>(x) : static_cast<int64_t>(x);
  }
  size_t i = 0;
  while (i < f.len && (u[i] == ' ' || u[i] == '\0')) ++i;
  uint64_t v = 0;
  for (; i < f.len && u[i] != ' ' && u[i] != '\0'; ++i) {
    if (u[i] < '0' || u[i] > '7') return BadHeader("bad octal number");
    if (v >> 60) return BadHeader("octal number overflows");
    v = v * 8 + (u[i] - '0');
  }
  return static_cast<int64_t>(v);
}

// Folds "." and empty components and resolvable ".."; drops a leading "/". See Entry::name.
std::string CleanName(absl::string_view raw) {
  std::vector<absl::string_view> out;
  for (absl::string_view c : absl::StrSplit(raw, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == ".." && !out.empty() && out.back() != "..") {
      out.pop_back();
      continue;
    }
    out.push_back(c);
  }
  return absl::StrJoin(out, "/");
}

bool AllZero(const char* b, size_t n) {
  return std::all_of(b, b + n, [](char c) { return c == 0; });
}

int64_t PaddingFor(int64_t size) { return (kBlock - size % kBlock) % kBlock; }

// PAX extended header records: "<len> <key>=<value>\n", len counting the whole record.
absl::Status ParsePax(absl::string_view data, std::map<std::string, std::string>* out) {
  while (!data.empty()) {
    size_t sp = data.find(' ');
    if (sp == absl::string_view::npos || sp == 0) return BadHeader("bad PAX record");
    int64_t len;
    if (!absl::SimpleAtoi(data.substr(0, sp), &len) || len <= static_cast<int64_t>(sp) + 1 ||
        len > static_cast<int64_t>(data.size())) {
      return BadHeader("bad PAX record length");
    }
    absl::string_view rec = data.substr(sp + 1, len - sp - 1);
    data.remove_prefix(len);
    if (rec.back() != '\n') return BadHeader("PAX record without newline");
    rec.remove_suffix(1);
    size_t eq = rec.find('=');
    if (eq == absl::string_view::npos || eq == 0) return BadHeader("PAX record without key");
    absl::string_view key = rec.substr(0, eq), value = rec.substr(eq + 1);
    // As Go's validPAXRecord: no NUL in a key, nor in a path. A path with a NUL would name one
    // file to the policy checks and another to the kernel ("..\0" is not "..", its c_str() is).
    if (absl::StrContains(key, '\0') ||
        ((key == "path" || key == "linkpath") && absl::StrContains(value, '\0'))) {
      return BadHeader("PAX record with a NUL byte");
    }
    (*out)[std::string(key)] = std::string(value);
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write");
    }
    c += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reader

Reader::Reader(int fd) : fd_(fd), in_(64 * 1024), sha_(EVP_MD_CTX_new()) {
  BERTH_CHECK(sha_ != nullptr && EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr) == 1);
}

Reader::~Reader() {
  if (zs_) inflateEnd(zs_.get());
  if (zstd_ds_ != nullptr) ZSTD_freeDStream(zstd_ds_);
  EVP_MD_CTX_free(sha_);
}

absl::Status Reader::FillInput() {
  if (in_pos_ < in_len_ || in_eof_) return absl::OkStatus();
  for (;;) {
    ssize_t r = ::read(fd_, in_.data(), in_.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read tar stream");
    }
    in_pos_ = 0;
    in_len_ = static_cast<size_t>(r);
    if (r == 0) in_eof_ = true;
    raw_read_ += r;
    if (on_input_ && r > 0) on_input_(raw_read_);
    return absl::OkStatus();
  }
}

absl::StatusOr<size_t> Reader::ReadSome(char* dst, size_t n) {
  if (!detected_) {
    // Peek at the first four bytes (a pipe may hand them over one at a time).
    while (in_len_ - in_pos_ < 4 && !in_eof_) {
      if (in_pos_ > 0) {
        std::memmove(in_.data(), in_.data() + in_pos_, in_len_ - in_pos_);
        in_len_ -= in_pos_;
        in_pos_ = 0;
      }
      ssize_t r = ::read(fd_, in_.data() + in_len_, in_.size() - in_len_);
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "read tar stream");
      }
      if (r == 0) in_eof_ = true;
      in_len_ += static_cast<size_t>(r);
      raw_read_ += r;
      if (on_input_ && r > 0) on_input_(raw_read_);
    }
    detected_ = true;
    gzip_ = in_len_ - in_pos_ >= 2 && in_[in_pos_] == 0x1f && in_[in_pos_ + 1] == 0x8b;
    if (gzip_) {
      zs_ = std::make_unique<z_stream>();
      std::memset(zs_.get(), 0, sizeof(z_stream));
      // 16 + MAX_WBITS: expect a gzip wrapper.
      BERTH_CHECK(inflateInit2(zs_.get(), 16 + MAX_WBITS) == Z_OK);
    }
    static constexpr unsigned char kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    zstd_ = in_len_ - in_pos_ >= 4 && std::memcmp(in_.data() + in_pos_, kZstdMagic, 4) == 0;
    if (zstd_) {
      zstd_ds_ = ZSTD_createDStream();
      BERTH_CHECK(zstd_ds_ != nullptr && !ZSTD_isError(ZSTD_initDStream(zstd_ds_)));
    }
  }
  size_t got = 0;
  if (zstd_) {
    ASSIGN_OR_RETURN(got, ReadZstd(dst, n));
  } else if (!gzip_) {
    RETURN_IF_ERROR(FillInput());
    got = std::min(n, in_len_ - in_pos_);
    std::memcpy(dst, in_.data() + in_pos_, got);
    in_pos_ += got;
  } else {
    while (got == 0 && !gz_done_) {
      RETURN_IF_ERROR(FillInput());
      if (in_pos_ == in_len_) return UnexpectedEof();  // compressed stream cut short
      zs_->next_in = in_.data() + in_pos_;
      zs_->avail_in = static_cast<uInt>(in_len_ - in_pos_);
      zs_->next_out = reinterpret_cast<Bytef*>(dst);
      zs_->avail_out = static_cast<uInt>(std::min<size_t>(n, std::numeric_limits<uInt>::max()));
      int rc = inflate(zs_.get(), Z_NO_FLUSH);
      in_pos_ = in_len_ - zs_->avail_in;
      got = n - zs_->avail_out;
      if (rc == Z_STREAM_END) {
        // gzip allows several members back to back (e.g. `cat a.gz b.gz`); anything else after
        // the end, such as zero padding from a tape-minded tool, is ignored.
        RETURN_IF_ERROR(FillInput());
        if (in_len_ - in_pos_ >= 1 && in_[in_pos_] == 0x1f) {
          inflateReset(zs_.get());
        } else {
          gz_done_ = true;
        }
      } else if (rc == Z_BUF_ERROR && got == 0 && zs_->avail_in > 0) {
        return absl::InvalidArgumentError("gzip: inflate made no progress");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return absl::InvalidArgumentError(
            absl::StrCat("gzip: ", zs_->msg != nullptr ? zs_->msg : "invalid compressed data"));
      }
    }
  }
  if (got > 0) {
    EVP_DigestUpdate(sha_, dst, got);
    bytes_read_ += static_cast<int64_t>(got);
  }
  return got;
}

absl::StatusOr<size_t> Reader::ReadZstd(char* dst, size_t n) {
  size_t got = 0;
  while (got == 0 && !gz_done_) {
    RETURN_IF_ERROR(FillInput());
    if (in_pos_ == in_len_) return UnexpectedEof();  // compressed stream cut short
    ZSTD_inBuffer in{in_.data() + in_pos_, in_len_ - in_pos_, 0};
    ZSTD_outBuffer out{dst, n, 0};
    size_t rc = ZSTD_decompressStream(zstd_ds_, &out, &in);
    if (ZSTD_isError(rc)) return absl::InvalidArgumentError(absl::StrCat("zstd: ", ZSTD_getErrorName(rc)));
    in_pos_ += in.pos;
    got = out.pos;
    if (rc == 0) {
      // A frame ended; another may follow (zstd allows concatenated frames).
      RETURN_IF_ERROR(FillInput());
      if (in_pos_ == in_len_) gz_done_ = true;
    }
  }
  return got;
}

absl::Status Reader::ReadFull(char* dst, size_t n) {
  while (n > 0) {
    ASSIGN_OR_RETURN(size_t got, ReadSome(dst, n));
    if (got == 0) return UnexpectedEof();
    dst += got;
    n -= got;
  }
  return absl::OkStatus();
}

absl::Status Reader::Skip(int64_t n) {
  char buf[16 * 1024];
  while (n > 0) {
    size_t want = static_cast<size_t>(std::min<int64_t>(n, sizeof(buf)));
    RETURN_IF_ERROR(ReadFull(buf, want));
    n -= static_cast<int64_t>(want);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Reader::Next(Entry* e) {
  if (end_) return false;
  RETURN_IF_ERROR(Skip(remaining_ + padding_));
  remaining_ = padding_ = 0;

  std::string long_name, long_link;
  bool have_long_name = false, have_long_link = false;
  std::map<std::string, std::string> pax;
  char b[kBlock];
  for (;;) {
    RETURN_IF_ERROR(ReadFull(b, kBlock));
    if (AllZero(b, kBlock)) {
      RETURN_IF_ERROR(ReadFull(b, kBlock));
      if (!AllZero(b, kBlock)) return BadHeader("a lone zero block inside the archive");
      end_ = true;
      return false;
    }
    // The checksum is the sum of the header bytes with the checksum field taken as spaces; some
    // historic tars summed signed chars, so accept either.
    ASSIGN_OR_RETURN(int64_t want, ParseNumeric(b, kChksum));
    int64_t usum = 0, ssum = 0;
    for (size_t i = 0; i < kBlock; ++i) {
      bool in_field = i >= kChksum.off && i < kChksum.off + kChksum.len;
      usum += in_field ? ' ' : static_cast<unsigned char>(b[i]);
      ssum += in_field ? ' ' : static_cast<signed char>(b[i]);
    }
    if (want != usum && want != ssum) return BadHeader("checksum mismatch");

    absl::string_view magic(b + kMagic.off, kMagic.len), version(b + kVersion.off, kVersion.len);
    bool ustar = magic == absl::string_view("ustar\0", 6) && version == "00";
    // GNU's "ustar  \0" uses the prefix area for atime/ctime; only true ustar/PAX has a prefix.
    std::string raw_name(CString(b, kName));
    if (ustar) {
      absl::string_view prefix = CString(b, kPrefix);
      if (!prefix.empty()) raw_name = absl::StrCat(prefix, "/", raw_name);
    }
    char type = b[kTypeOff];
    ASSIGN_OR_RETURN(int64_t size, ParseNumeric(b, kSize));
    if (size < 0) return BadHeader("negative size");

    if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
      if (size > kMaxMetaSize) return BadHeader("metadata entry too large");
      std::string data(static_cast<size_t>(size), '\0');
      RETURN_IF_ERROR(ReadFull(data.data(), data.size()));
      RETURN_IF_ERROR(Skip(PaddingFor(size)));
      if (type == 'L' || type == 'K') {
        data.resize(std::strlen(data.c_str()));  // NUL-terminated inside the data
        (type == 'L' ? long_name : long_link) = std::move(data);
        (type == 'L' ? have_long_name : have_long_link) = true;
      } else {
        RETURN_IF_ERROR(ParsePax(data, type == 'x' ? &pax : &global_pax_));
      }
      continue;
    }

    Entry out;
    out.type = type;
    ASSIGN_OR_RETURN(int64_t mode, ParseNumeric(b, kMode));
    ASSIGN_OR_RETURN(int64_t uid, ParseNumeric(b, kUid));
    ASSIGN_OR_RETURN(int64_t gid, ParseNumeric(b, kGid));
    ASSIGN_OR_RETURN(out.mtime, ParseNumeric(b, kMtime));
    ASSIGN_OR_RETURN(int64_t dmaj, ParseNumeric(b, kDevmajor));
    ASSIGN_OR_RETURN(int64_t dmin, ParseNumeric(b, kDevminor));
    out.mode = static_cast<uint32_t>(mode & 07777);  // old tars also stored the S_IF* type bits
    out.uid = static_cast<uint32_t>(uid);
    out.gid = static_cast<uint32_t>(gid);
    out.devmajor = static_cast<uint32_t>(dmaj);
    out.devminor = static_cast<uint32_t>(dmin);
    out.size = size;
    out.raw_name = std::move(raw_name);
    out.raw_linkname = std::string(CString(b, kLinkname));

    // Global records first, local ones override; an empty local value unsets a global one.
    std::map<std::string, std::string> recs = global_pax_;
    for (auto& [k, v] : pax) recs[k] = v;
    for (const auto& kv : recs) {
      // Not a structured binding: clang 14 cannot capture those in the lambda below.
      const std::string& k = kv.first;
      const std::string& v = kv.second;
      if (v.empty()) continue;
      int64_t n = 0;
      auto num = [&](absl::string_view s) {
        if (!absl::SimpleAtoi(s, &n) || n < 0) return BadHeader(absl::StrCat("bad PAX ", k));
        return absl::OkStatus();
      };
      if (k == "path") {
        out.raw_name = v;
      } else if (k == "linkpath") {
        out.raw_linkname = v;
      } else if (k == "size") {
        RETURN_IF_ERROR(num(v));
        out.size = n;
      } else if (k == "uid") {
        RETURN_IF_ERROR(num(v));
        out.uid = static_cast<uint32_t>(n);
      } else if (k == "gid") {
        RETURN_IF_ERROR(num(v));
        out.gid = static_cast<uint32_t>(n);
      } else if (k == "mtime") {
        // Seconds with an optional fraction, which we drop.
        absl::string_view s = v;
        s = s.substr(0, s.find('.'));
        if (!absl::SimpleAtoi(s, &out.mtime)) return BadHeader("bad PAX mtime");
      } else if (k == "SCHILY.devmajor") {
        RETURN_IF_ERROR(num(v));
        out.devmajor = static_cast<uint32_t>(n);
      } else if (k == "SCHILY.devminor") {
        RETURN_IF_ERROR(num(v));
        out.devminor = static_cast<uint32_t>(n);
      } else if (absl::StartsWith(k, "SCHILY.xattr.")) {
        out.xattrs[k.substr(13)] = v;
      } else if (absl::StartsWith(k, "GNU.sparse.")) {
        return absl::UnimplementedError("archive/tar: sparse files are not supported");
      }
    }
    // An xattr whose value is empty is still an xattr (it is only the other keys that an empty
    // value unsets).
    for (const auto& [k, v] : recs) {
      if (v.empty() && absl::StartsWith(k, "SCHILY.xattr.")) out.xattrs[k.substr(13)] = "";
    }
    if (have_long_name) out.raw_name = long_name;
    if (have_long_link) out.raw_linkname = long_link;

    switch (out.type) {
      case '\0':  // pre-POSIX regular file; a trailing slash meant a directory
        out.type = absl::EndsWith(out.raw_name, "/") ? '5' : '0';
        break;
      case '7':  // contiguous file: a regular file everywhere that matters
        out.type = '0';
        break;
      case 'S':
        return absl::UnimplementedError("archive/tar: sparse files are not supported");
      default:
        break;
    }
    out.name = CleanName(out.raw_name);
    out.linkname = out.type == '1' ? CleanName(out.raw_linkname) : out.raw_linkname;
    // Only regular files (and unknown types, which keep their data) have data; a size on a
    // hardlink, symlink, device or directory header is meaningless and is not in the stream.
    if (out.type == '1' || out.type == '2' || out.type == '3' || out.type == '4' ||
        out.type == '5' || out.type == '6') {
      out.size = 0;
    }
    remaining_ = out.size;
    padding_ = PaddingFor(out.size);
    *e = std::move(out);
    return true;
  }
}

absl::Status Reader::ReadAll(std::string* out, int64_t max_size) {
  if (remaining_ > max_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("tar entry of ", remaining_, " bytes is larger than the limit of ", max_size));
  }
  out->resize(static_cast<size_t>(remaining_));
  RETURN_IF_ERROR(ReadFull(out->data(), out->size()));
  remaining_ = 0;
  return absl::OkStatus();
}

absl::Status Reader::CopyTo(int out_fd) {
  char buf[64 * 1024];
  while (remaining_ > 0) {
    size_t want = static_cast<size_t>(std::min<int64_t>(remaining_, sizeof(buf)));
    RETURN_IF_ERROR(ReadFull(buf, want));
    remaining_ -= static_cast<int64_t>(want);
    RETURN_IF_ERROR(WriteAll(out_fd, buf, want));
  }
  return absl::OkStatus();
}

absl::Status Reader::Drain() {
  char buf[16 * 1024];
  for (;;) {
    ASSIGN_OR_RETURN(size_t got, ReadSome(buf, sizeof(buf)));
    if (got == 0) return absl::OkStatus();
  }
}

std::string Reader::Digest() const {
  // Finalize a copy so the running hash can go on (and Digest() stays const).
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  BERTH_CHECK(copy != nullptr && EVP_MD_CTX_copy_ex(copy, sha_) == 1);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  BERTH_CHECK(EVP_DigestFinal_ex(copy, md, &len) == 1);
  EVP_MD_CTX_free(copy);
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) absl::StrAppendFormat(&out, "%02x", md[i]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// ExtractLayer

namespace {

// Opens `rel` (relative to root; "" is root itself) without ever leaving root: RESOLVE_BENEATH
// makes the kernel refuse ".." above root, absolute paths and symlinks pointing outside, with
// EXDEV. Symlinks that stay inside are followed.
// With in_root, RESOLVE_IN_ROOT instead: root acts as "/" (a container's root for docker cp), so
// ".." and absolute symlinks stay inside it rather than being refused.
absl::StatusOr<UniqueFd> OpenBeneath(int root, const std::string& rel, uint64_t flags,
                                     bool in_root = false) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC;
  how.resolve = (in_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) | RESOLVE_NO_MAGICLINKS;
  const char* p = rel.empty() ? "." : rel.c_str();
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, p, &how, sizeof(how));
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno == EINTR || errno == EAGAIN) continue;
    if (errno == EXDEV) {
      return absl::InvalidArgumentError(
          absl::StrCat("path ", rel, " escapes the extraction directory"));
    }
    if (errno == ELOOP) {  // a symlink cycle in the layer: bad input, not a server fault
      return absl::InvalidArgumentError(absl::StrCat("open ", rel, ": too many symlinks"));
    }
    return ErrnoStatus(errno, absl::StrCat("open ", rel));
  }
}

std::pair<std::string, std::string> SplitParent(const std::string& name) {
  size_t slash = name.rfind('/');
  if (slash == std::string::npos) return {"", name};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

// The directory `rel`, created (0755, root-owned, as docker does) with any missing ancestors.
absl::StatusOr<UniqueFd> OpenOrMakeDir(int root, const std::string& rel, bool in_root) {
  auto fd = OpenBeneath(root, rel, O_PATH | O_DIRECTORY, in_root);
  if (fd.ok() || !absl::IsNotFound(fd.status())) return fd;
  UniqueFd cur;
  ASSIGN_OR_RETURN(cur, OpenBeneath(root, "", O_PATH | O_DIRECTORY, in_root));
  std::string prefix;
  for (absl::string_view c : absl::StrSplit(rel, '/')) {
    prefix = prefix.empty() ? std::string(c) : absl::StrCat(prefix, "/", c);
    auto next = OpenBeneath(root, prefix, O_PATH | O_DIRECTORY, in_root);
    if (!next.ok() && absl::IsNotFound(next.status())) {
      std::string comp(c);
      if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, absl::StrCat("mkdir ", prefix));
      }
      next = OpenBeneath(root, prefix, O_PATH | O_DIRECTORY, in_root);
    }
    if (!next.ok()) return next.status();
    cur = std::move(*next);
  }
  return cur;
}

// rm -rf of parent/name, never following symlinks. name is one component: "." and ".." would
// reach the parent itself or above it.
absl::Status RemoveAllAt(int parent, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || absl::StrContains(name, '/')) {
    return absl::InternalError(absl::StrCat("refusing to remove \"", name, "\""));
  }
  if (::unlinkat(parent, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR) return ErrnoStatus(errno, absl::StrCat("unlink ", name));
  int dfd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return ErrnoStatus(errno, absl::StrCat("open ", name));
  DIR* d = ::fdopendir(dfd);
  if (d == nullptr) {
    ::close(dfd);
    return ErrnoStatus(errno, absl::StrCat("opendir ", name));
  }
  std::vector<std::string> children;
  while (dirent* de = ::readdir(d)) {
    absl::string_view n = de->d_name;
    if (n != "." && n != "..") children.emplace_back(n);
  }
  absl::Status st;
  for (const auto& c : children) {
    st = RemoveAllAt(::dirfd(d), c);
    if (!st.ok()) break;
  }
  ::closedir(d);
  RETURN_IF_ERROR(st);
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("rmdir ", name));
  }
  return absl::OkStatus();
}

// xattrs on parent/name without following a final symlink. An O_PATH fd cannot carry xattrs, so
// go through its /proc/self/fd link: the kernel resolves that to the very directory we hold.
absl::Status SetXattrs(int parent, const std::string& name, const Entry& e) {
  for (const auto& [k, v] : e.xattrs) {
    // overlayfs reads its own trusted.overlay.* xattrs (redirect, metacopy, opaque) from the layer
    // directories; a layer must not be able to forge them. Opaque dirs come from .wh..wh..opq.
    if (absl::StartsWith(k, kOverlayXattrPrefix)) continue;
    std::string path = absl::StrCat("/proc/self/fd/", parent, "/", name);
    if (::lsetxattr(path.c_str(), k.c_str(), v.data(), v.size(), 0) != 0) {
      // As docker: file systems without xattr support (or a namespace we may not write) lose
      // the xattr rather than fail the pull.
      if (errno == ENOTSUP || errno == EPERM) continue;
      return ErrnoStatus(errno, absl::StrCat("setxattr ", k, " on ", e.name));
    }
  }
  return absl::OkStatus();
}

absl::Status SetTimes(int parent, const std::string& name, int64_t mtime) {
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = mtime;  // atime = mtime, as docker does without PAX atime
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  if (::utimensat(parent, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, absl::StrCat("utimensat ", name));
  }
  return absl::OkStatus();
}

// Rejects names that are absolute or climb out with ".." (raw: as stored; clean: as folded).
absl::Status CheckInside(absl::string_view raw, const std::string& clean, absl::string_view what) {
  // A NUL (which the reader refuses) would make the kernel see another name than this check.
  if (absl::StartsWith(raw, "/") || clean == ".." || absl::StartsWith(clean, "../") ||
      absl::StrContains(raw, '\0') || absl::StrContains(clean, '\0')) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", raw, " escapes the extraction directory"));
  }
  return absl::OkStatus();
}

struct DirTime {
  std::string name;
  int64_t mtime;
};

// Where and how entries land: under `prefix` (a directory relative to root, "" for root itself).
struct Target {
  int root = -1;
  std::string prefix;
  bool in_root = false;
  ExtractOptions opts;
  std::string Path(const std::string& name) const {
    return prefix.empty() ? name : name.empty() ? prefix : absl::StrCat(prefix, "/", name);
  }
};

absl::Status ExtractEntry(Reader& r, const Entry& e, const Target& t,
                          std::vector<DirTime>* dir_times, int64_t* size) {
  RETURN_IF_ERROR(CheckInside(e.raw_name, e.name, "path"));
  if (e.name.empty()) return absl::OkStatus();  // the root itself ("./"), kept as it is, as docker
  const int root = t.root;
  const bool in_root = t.in_root;
  auto [parent_name, base] = SplitParent(t.Path(e.name));
  const bool whiteouts = t.opts.whiteouts;
  // ".wh..." would white out "..", the directory above (RemoveAllAt opens it as a directory and
  // empties it), ".wh.." the directory itself: refused before anything is made.
  if (whiteouts && absl::StartsWith(base, kWhiteoutPrefix) &&
      !absl::StartsWith(base, kWhiteoutMetaPrefix)) {
    absl::string_view target = absl::string_view(base).substr(sizeof(kWhiteoutPrefix) - 1);
    if (target.empty() || target == "." || target == "..") {
      return absl::InvalidArgumentError(absl::StrCat("invalid whiteout ", e.name));
    }
  }
  UniqueFd parent;
  ASSIGN_OR_RETURN(parent, OpenOrMakeDir(root, parent_name, in_root));

  // Whiteouts (OCI image-spec layer.md) -> overlayfs form.
  if (whiteouts && base == kWhiteoutOpaque) {
    UniqueFd d;
    ASSIGN_OR_RETURN(d, OpenBeneath(root, parent_name, O_RDONLY | O_DIRECTORY));
    if (::fsetxattr(d.get(), kOpaqueXattr, "y", 1, 0) != 0) {
      return ErrnoStatus(errno, absl::StrCat("set opaque xattr on ", parent_name));
    }
    return absl::OkStatus();
  }
  if (whiteouts && absl::StartsWith(base, kWhiteoutMetaPrefix)) return absl::OkStatus();  // aufs
  if (whiteouts && absl::StartsWith(base, kWhiteoutPrefix)) {
    std::string target = base.substr(sizeof(kWhiteoutPrefix) - 1);
    RETURN_IF_ERROR(RemoveAllAt(parent.get(), target));
    if (::mknodat(parent.get(), target.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
      return ErrnoStatus(errno, absl::StrCat("mknod whiteout ", e.name));
    }
    if (::fchownat(parent.get(), target.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(errno, absl::StrCat("chown whiteout ", e.name));
    }
    return absl::OkStatus();
  }

  // Whatever is in the way goes, except a directory that stays a directory.
  struct stat st;
  if (::fstatat(parent.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (t.opts.no_overwrite_dir_non_dir && S_ISDIR(st.st_mode) != (e.type == '5')) {
      // docker cp's noOverwriteDirNonDir, in Docker's words.
      std::string where = "/" + t.Path(e.name);
      return absl::InvalidArgumentError(
          S_ISDIR(st.st_mode)
              ? absl::StrCat("cannot overwrite directory \"", where, "\" with non-directory \"",
                             e.name, "\"")
              : absl::StrCat("cannot overwrite non-directory \"", where, "\" with directory \"",
                             e.name, "\""));
    }
    if (!(S_ISDIR(st.st_mode) && e.type == '5')) RETURN_IF_ERROR(RemoveAllAt(parent.get(), base));
  } else if (errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("lstat ", e.name));
  }

  const uint32_t uid = t.opts.chown ? t.opts.uid : e.uid;
  const uint32_t gid = t.opts.chown ? t.opts.gid : e.gid;
  const char* b = base.c_str();
  switch (e.type) {
    case '0': {
      int fd =
          ::openat(parent.get(), b, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) return ErrnoStatus(errno, absl::StrCat("create ", e.name));
      UniqueFd f(fd);
      RETURN_IF_ERROR(r.CopyTo(f.get()));
      *size += e.size;
      // chown before chmod: chown clears setuid/setgid.
      if (::fchown(f.get(), uid, gid) != 0) return ErrnoStatus(errno, "chown " + e.name);
      if (::fchmod(f.get(), e.mode) != 0) return ErrnoStatus(errno, "chmod " + e.name);
      break;
    }
    case '5':
      if (::mkdirat(parent.get(), b, 0700) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, absl::StrCat("mkdir ", e.name));
      }
      break;
    case '2':
      if (::symlinkat(e.linkname.c_str(), parent.get(), b) != 0) {
        return ErrnoStatus(errno, absl::StrCat("symlink ", e.name));
      }
      break;
    case '1': {
      RETURN_IF_ERROR(CheckInside(e.raw_linkname, e.linkname, "hardlink target"));
      if (e.linkname.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("hardlink ", e.name, " has no target"));
      }
      auto [tparent_name, tbase] = SplitParent(t.Path(e.linkname));
      UniqueFd tparent;
      ASSIGN_OR_RETURN(tparent, OpenBeneath(root, tparent_name, O_PATH | O_DIRECTORY, in_root));
      // No AT_SYMLINK_FOLLOW: a hardlink to a symlink links the symlink itself.
      if (::linkat(tparent.get(), tbase.c_str(), parent.get(), b, 0) != 0) {
        return ErrnoStatus(errno, absl::StrCat("link ", e.name, " to ", e.linkname));
      }
      return absl::OkStatus();  // the inode's metadata came with its first name
    }
    case '3':
    case '4':
    case '6': {
      mode_t fmt = e.type == '3' ? S_IFCHR : e.type == '4' ? S_IFBLK : S_IFIFO;
      if (::mknodat(parent.get(), b, fmt | 0600, makedev(e.devmajor, e.devminor)) != 0) {
        return ErrnoStatus(errno, absl::StrCat("mknod ", e.name));
      }
      break;
    }
    default:
      return absl::InvalidArgumentError(absl::StrFormat("unsupported tar entry type %#x for %s",
                                                        static_cast<int>(e.type), e.name));
  }

  if (e.type != '0') {
    if (::fchownat(parent.get(), b, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(errno, absl::StrCat("chown ", e.name));
    }
    // Symlinks have no mode of their own on Linux. For the rest the node was just made by us (or
    // is a directory we kept), so following is safe.
    if (e.type != '2' && ::fchmodat(parent.get(), b, e.mode, 0) != 0) {
      return ErrnoStatus(errno, absl::StrCat("chmod ", e.name));
    }
  }
  RETURN_IF_ERROR(SetXattrs(parent.get(), base, e));
  if (e.type == '5') {
    // Creating the contents would bump the directory's mtime again; set it at the end.
    dir_times->push_back({t.Path(e.name), e.mtime});
  } else {
    RETURN_IF_ERROR(SetTimes(parent.get(), base, e.mtime));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

absl::StatusOr<ExtractResult> Extract(int fd, const Target& t) {
  Reader r(fd);
  if (t.opts.on_input) r.set_on_input(t.opts.on_input);
  std::vector<DirTime> dir_times;
  ExtractResult res;
  Entry e;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, r.Next(&e));
    if (!more) break;
    absl::Status st = ExtractEntry(r, e, t, &dir_times, &res.size);
    if (!st.ok()) {
      if (t.opts.whiteouts) return Annotate(st, absl::StrCat("extract layer: entry ", e.raw_name));
      return st;
    }
  }
  // Children come after their parents in the archive: walking backwards sets each directory's
  // time after everything inside it is done.
  for (auto it = dir_times.rbegin(); it != dir_times.rend(); ++it) {
    auto [p, base] = SplitParent(it->name);
    UniqueFd parent;
    ASSIGN_OR_RETURN(parent, OpenBeneath(t.root, p, O_PATH | O_DIRECTORY, t.in_root));
    RETURN_IF_ERROR(SetTimes(parent.get(), base, it->mtime));
  }
  RETURN_IF_ERROR(r.Drain());
  res.diff_id = r.Digest();
  res.tar_size = r.BytesRead();
  return res;
}

}  // namespace

absl::StatusOr<ExtractResult> ExtractLayer(int fd, const std::string& dir) {
  int rfd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return ErrnoStatus(errno, absl::StrCat("open ", dir));
  UniqueFd root(rfd);
  Target t;
  t.root = root.get();
  return Extract(fd, t);
}

absl::StatusOr<ExtractResult> ExtractLayer(int fd, const std::string& dir,
                                           const ExtractOptions& opts) {
  int rfd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return ErrnoStatus(errno, absl::StrCat("open ", dir));
  UniqueFd root(rfd);
  Target t;
  t.root = root.get();
  t.opts = opts;
  t.opts.whiteouts = true;
  return Extract(fd, t);
}

absl::StatusOr<ExtractResult> ExtractInRoot(int fd, int root_fd, const std::string& dest,
                                            const ExtractOptions& opts) {
  Target t;
  t.root = root_fd;
  t.in_root = true;
  t.prefix = std::string(absl::StripSuffix(absl::StripPrefix(dest, "/"), "/"));
  t.opts = opts;
  t.opts.whiteouts = false;
  return Extract(fd, t);
}

// ---------------------------------------------------------------------------------------------
// Writer

namespace {

// PAX record with its self-inclusive length prefix.
void AppendPax(std::string* out, absl::string_view key, absl::string_view value) {
  size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
  size_t len = body + std::to_string(body).size();
  if (std::to_string(len).size() != std::to_string(body).size()) ++len;
  absl::StrAppend(out, len, " ", key, "=", value, "\n");
}

bool FitsOctal(int64_t v, size_t width) {
  // width-1 digits and a NUL.
  return v >= 0 && (width - 1 >= 21 || v < (int64_t{1} << (3 * (width - 1))));
}

void PutOctal(char* b, Field f, int64_t v) {
  std::string s = absl::StrFormat("%0*o", static_cast<int>(f.len - 1), static_cast<uint64_t>(v));
  std::memcpy(b + f.off, s.data(), f.len - 1);
  b[f.off + f.len - 1] = '\0';
}

// Octal where it fits, else GNU base-256 (what ParseNumeric reads back; Go's writer does the same
// for GNU headers). v >= 0.
void PutNumeric(char* b, Field f, int64_t v) {
  if (FitsOctal(v, f.len)) return PutOctal(b, f, v);
  auto* u = reinterpret_cast<unsigned char*>(b + f.off);
  uint64_t x = static_cast<uint64_t>(v);
  for (size_t i = f.len; i-- > 0;) {
    u[i] = static_cast<unsigned char>(x & 0xff);
    x >>= 8;
  }
  u[0] |= 0x80;
}

void PutString(char* b, Field f, absl::string_view s) {
  if (s.empty()) return;  // an empty view's data() may be null, which memcpy must not see
  std::memcpy(b + f.off, s.data(), std::min(s.size(), f.len));
}

// Splits a long name into ustar prefix (<= 155) and name (<= 100) at a slash, if possible.
bool SplitUstar(absl::string_view name, absl::string_view* prefix, absl::string_view* rest) {
  if (name.size() <= kName.len) {
    *prefix = {};
    *rest = name;
    return true;
  }
  if (name.size() > kPrefix.len + 1 + kName.len) return false;
  // The leftmost slash that leaves a name of at most 100 bytes keeps the prefix short.
  for (size_t i = name.size() - kName.len - 1; i < name.size() && i <= kPrefix.len; ++i) {
    if (name[i] == '/' && i > 0 && i + 1 < name.size()) {
      *prefix = name.substr(0, i);
      *rest = name.substr(i + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

Writer::Writer(int fd) : fd_(fd) {}

absl::Status Writer::Write(const void* p, size_t n) {
  RETURN_IF_ERROR(WriteAll(fd_, p, n));
  written_ += static_cast<int64_t>(n);
  return absl::OkStatus();
}

absl::Status Writer::Pad(int64_t size) {
  static const char kZeros[kBlock] = {};
  return Write(kZeros, static_cast<size_t>(PaddingFor(size)));
}

absl::Status Writer::WriteHeader(const Entry& e, int64_t size) {
  if (finished_) return absl::FailedPreconditionError("tar writer already finished");
  std::string name = e.name;
  if (e.type == '5' && !absl::EndsWith(name, "/")) name += "/";

  std::string pax;
  absl::string_view prefix, short_name;
  if (!SplitUstar(name, &prefix, &short_name)) {
    AppendPax(&pax, "path", name);
    short_name = absl::string_view(name).substr(0, kName.len);
    prefix = {};
  }
  if (e.linkname.size() > kLinkname.len) AppendPax(&pax, "linkpath", e.linkname);
  if (!FitsOctal(size, kSize.len)) AppendPax(&pax, "size", std::to_string(size));
  if (!FitsOctal(e.uid, kUid.len)) AppendPax(&pax, "uid", std::to_string(e.uid));
  if (!FitsOctal(e.gid, kGid.len)) AppendPax(&pax, "gid", std::to_string(e.gid));
  if (!FitsOctal(e.mtime, kMtime.len)) AppendPax(&pax, "mtime", std::to_string(e.mtime));
  // Device numbers are written for devices only (below; base-256 past octal's 7 digits, as a
  // reader may have found them); another entry's are not its concern.

  for (const auto& [k, v] : e.xattrs) AppendPax(&pax, absl::StrCat("SCHILY.xattr.", k), v);

  auto put = [&](absl::string_view hname, char type, int64_t hsize, const Entry& h,
                 absl::string_view hprefix, absl::string_view link) -> absl::Status {
    char b[kBlock] = {};
    PutString(b, kName, hname);
    PutOctal(b, kMode, h.mode & 07777);
    PutOctal(b, kUid, FitsOctal(h.uid, kUid.len) ? h.uid : 0);
    PutOctal(b, kGid, FitsOctal(h.gid, kGid.len) ? h.gid : 0);
    PutOctal(b, kSize, FitsOctal(hsize, kSize.len) ? hsize : 0);
    PutOctal(b, kMtime, FitsOctal(h.mtime, kMtime.len) ? h.mtime : 0);
    b[kTypeOff] = type;
    PutString(b, kLinkname, link.substr(0, std::min(link.size(), kLinkname.len)));
    std::memcpy(b + kMagic.off, "ustar\0", 6);
    std::memcpy(b + kVersion.off, "00", 2);
    if (type == '3' || type == '4') {
      PutNumeric(b, kDevmajor, h.devmajor);
      PutNumeric(b, kDevminor, h.devminor);
    }
    PutString(b, kPrefix, hprefix);
    std::memset(b + kChksum.off, ' ', kChksum.len);
    int64_t sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum += static_cast<unsigned char>(b[i]);
    // Checksum as GNU writes it: six octal digits, NUL, space.
    std::string cs = absl::StrFormat("%06o", sum);
    std::memcpy(b + kChksum.off, cs.data(), 6);
    b[kChksum.off + 6] = '\0';
    return Write(b, kBlock);
  };

  if (!pax.empty()) {
    // Named like Go's archive/tar does: "<dir>/PaxHeaders.0/<base>", cut to fit.
    auto [dir, base] = SplitParent(std::string(absl::StripSuffix(name, "/")));
    std::string pname = dir.empty() ? absl::StrCat("PaxHeaders.0/", base)
                                    : absl::StrCat(dir, "/PaxHeaders.0/", base);
    if (pname.size() > kName.len) pname.resize(kName.len);
    Entry ph;
    ph.mode = 0644;
    ph.mtime = FitsOctal(e.mtime, kMtime.len) ? e.mtime : 0;
    RETURN_IF_ERROR(put(pname, 'x', static_cast<int64_t>(pax.size()), ph, {}, {}));
    RETURN_IF_ERROR(Write(pax.data(), pax.size()));
    RETURN_IF_ERROR(Pad(static_cast<int64_t>(pax.size())));
  }
  return put(short_name, e.type, size, e, prefix, e.linkname);
}

absl::Status Writer::AddEntry(const Entry& e, std::string_view data) {
  int64_t size = e.type == '0' ? static_cast<int64_t>(data.size()) : 0;
  RETURN_IF_ERROR(WriteHeader(e, size));
  if (size == 0) return absl::OkStatus();
  RETURN_IF_ERROR(Write(data.data(), data.size()));
  return Pad(size);
}

absl::Status Writer::AddFile(const std::string& name, std::string_view data, uint32_t mode,
                             int64_t mtime) {
  Entry e;
  e.name = name;
  e.type = '0';
  e.mode = mode;
  e.mtime = mtime;
  return AddEntry(e, data);
}

absl::Status Writer::AddDir(const std::string& name, uint32_t mode, int64_t mtime) {
  Entry e;
  e.name = name;
  e.type = '5';
  e.mode = mode;
  e.mtime = mtime;
  return AddEntry(e);
}

absl::Status Writer::AddSymlink(const std::string& name, const std::string& target) {
  Entry e;
  e.name = name;
  e.type = '2';
  e.mode = 0777;
  e.linkname = target;
  return AddEntry(e);
}

absl::Status Writer::CopyFromFd(int fd, int64_t size, const std::string& what) {
  char buf[64 * 1024];
  int64_t left = size;
  while (left > 0) {
    ssize_t r = ::read(fd, buf, static_cast<size_t>(std::min<int64_t>(left, sizeof(buf))));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("read ", what));
    }
    if (r == 0) {
      // The header already promised `size` bytes; a shorter archive would be corrupt.
      return absl::DataLossError(absl::StrCat(what, " shrank while being archived"));
    }
    RETURN_IF_ERROR(Write(buf, static_cast<size_t>(r)));
    left -= r;
  }
  return Pad(size);
}

absl::Status Writer::AddFileFromPath(const std::string& name, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  UniqueFd f(fd);
  struct stat st;
  if (::fstat(f.get(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("stat ", path));
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  Entry e;
  e.name = name;
  e.type = '0';
  e.mode = st.st_mode & 07777;
  e.mtime = st.st_mtim.tv_sec;
  RETURN_IF_ERROR(WriteHeader(e, st.st_size));
  return CopyFromFd(f.get(), st.st_size, path);
}

absl::Status Writer::AddTree(const std::string& root) {
  struct stat st;
  if (::lstat(root.c_str(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("lstat ", root));
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(root, " is not a directory"));
  }
  return WalkDir(root, "");
}

namespace {

// The xattr's value into *out; false when it is absent (or unreadable).
bool GetXattr(const std::string& path, const char* name, std::string* out) {
  char buf[4096];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof(buf));
  if (n < 0) return false;
  out->assign(buf, static_cast<size_t>(n));
  return true;
}

}  // namespace

absl::Status Writer::WalkDir(const std::string& abs, const std::string& rel) {
  DIR* d = ::opendir(abs.c_str());
  if (d == nullptr) return ErrnoStatus(errno, absl::StrCat("opendir ", abs));
  std::vector<std::string> names;
  errno = 0;
  while (dirent* de = ::readdir(d)) {
    absl::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return ErrnoStatus(err, absl::StrCat("readdir ", abs));
  std::sort(names.begin(), names.end());

  for (const std::string& n : names) {
    std::string path = absl::StrCat(abs, "/", n);
    std::string name = rel.empty() ? n : absl::StrCat(rel, "/", n);
    if (skip_ && skip_(name)) continue;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("lstat ", path));
    Entry e;
    e.name = name;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime = st.st_mtim.tv_sec;
    // Only file capabilities travel, as with docker: other xattrs (selinux labels, overlay's
    // own) belong to the host, not the image.
    std::string cap;
    if (GetXattr(path, "security.capability", &cap)) e.xattrs["security.capability"] = cap;

    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      // overlayfs whiteout -> the ".wh." file of the image format (mode as docker writes it).
      e.name = rel.empty() ? absl::StrCat(kWhiteoutPrefix, n)
                           : absl::StrCat(rel, "/", kWhiteoutPrefix, n);
      e.type = '0';
      e.mode = 0600;
      e.xattrs.clear();
      RETURN_IF_ERROR(AddEntry(e));
      continue;
    }
    if (S_ISSOCK(st.st_mode)) continue;  // tar cannot hold sockets; they are runtime state anyway

    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, inserted] = inodes_.try_emplace({st.st_dev, st.st_ino}, name);
      if (!inserted) {
        e.type = '1';
        e.linkname = it->second;
        e.xattrs.clear();
        RETURN_IF_ERROR(AddEntry(e));
        continue;
      }
    }

    if (S_ISREG(st.st_mode)) {
      int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
      UniqueFd f(fd);
      e.type = '0';
      RETURN_IF_ERROR(WriteHeader(e, st.st_size));
      RETURN_IF_ERROR(CopyFromFd(f.get(), st.st_size, path));
    } else if (S_ISDIR(st.st_mode)) {
      e.type = '5';
      RETURN_IF_ERROR(AddEntry(e));
      std::string opaque;
      if (GetXattr(path, kOpaqueXattr, &opaque) && opaque == "y") {
        // Right after the directory, like docker's overlay converter, so a reader sees the
        // directory before its opaque marker.
        Entry wo;
        wo.name = absl::StrCat(name, "/", kWhiteoutOpaque);
        wo.type = '0';
        wo.mode = e.mode & 0777;
        wo.uid = e.uid;
        wo.gid = e.gid;
        wo.mtime = e.mtime;
        RETURN_IF_ERROR(AddEntry(wo));
      }
      RETURN_IF_ERROR(WalkDir(path, name));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
      ssize_t len = ::readlink(path.c_str(), target.data(), target.size());
      if (len < 0) return ErrnoStatus(errno, absl::StrCat("readlink ", path));
      if (static_cast<size_t>(len) >= target.size()) {
        return absl::InternalError(absl::StrCat("symlink ", path, " changed while archived"));
      }
      target.resize(static_cast<size_t>(len));
      e.type = '2';
      e.linkname = std::move(target);
      RETURN_IF_ERROR(AddEntry(e));
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      e.type = S_ISCHR(st.st_mode) ? '3' : '4';
      e.devmajor = major(st.st_rdev);
      e.devminor = minor(st.st_rdev);
      RETURN_IF_ERROR(AddEntry(e));
    } else if (S_ISFIFO(st.st_mode)) {
      e.type = '6';
      RETURN_IF_ERROR(AddEntry(e));
    }
  }
  return absl::OkStatus();
}

absl::Status Writer::Finish() {
  if (finished_) return absl::FailedPreconditionError("tar writer already finished");
  std::string zeros(2 * kBlock, '\0');
  RETURN_IF_ERROR(Write(zeros.data(), zeros.size()));
  int64_t pad = (kRecord - written_ % kRecord) % kRecord;
  zeros.assign(static_cast<size_t>(pad), '\0');
  RETURN_IF_ERROR(Write(zeros.data(), zeros.size()));
  finished_ = true;
  return absl::OkStatus();
}

}  // namespace berth::tar
