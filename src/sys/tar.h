#pragma once
// Tar archives for images: reading (docker load / import, layer extraction) and writing (docker
// save / export). Formats: ustar, GNU (longname/longlink 'L'/'K', base-256 numbers) and PAX ('x'
// and 'g' records). Sparse files are not supported (image layers never carry them).
//
// Threading: a Reader or Writer is used by one thread at a time; neither owns its fd.

#include <openssl/evp.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fd.h"

typedef struct z_stream_s z_stream;
typedef struct ZSTD_DCtx_s ZSTD_DStream;

namespace berth::tar {

struct Entry {
  // Cleaned path: no leading "./" or "/", no "." or empty components, "a/../b" folded to "b"; a
  // ".." that cannot be folded stays ("../x"). The archive's root ("./") becomes "". Resolved from
  // GNU longname and PAX path.
  std::string name;
  char type = '0';    // '0' file, '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0, gid = 0;
  int64_t size = 0;   // data bytes (0 unless type '0')
  int64_t mtime = 0;  // seconds since the epoch
  // Symlink target, verbatim; for hardlinks the target entry's name, cleaned like `name`.
  std::string linkname;
  uint32_t devmajor = 0, devminor = 0;
  std::map<std::string, std::string> xattrs;  // PAX SCHILY.xattr.*
  // name and linkname as stored (after longname/PAX resolution, before cleaning), so that callers
  // who police paths can see an absolute or ".."-laden original. Ignored by Writer.
  std::string raw_name, raw_linkname;
};

// Reads a tar stream from an fd, plain, gzip-compressed (detected by the 1f 8b magic) or
// zstd-compressed (28 b5 2f fd: OCI's tar+zstd layers). Header
// checksums are verified; a stream that ends before the two zero blocks, or mid-entry, is an
// InvalidArgument "unexpected EOF". Keeps a SHA-256 and byte count of the uncompressed stream.
class Reader {
 public:
  explicit Reader(int fd);  // does not own fd
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The next entry; false at the end of the archive. Skips unread data of the previous entry.
  absl::StatusOr<bool> Next(Entry* e);
  // The current entry's (remaining) data; InvalidArgument if it is larger than max_size.
  absl::Status ReadAll(std::string* out, int64_t max_size);
  // Called with the raw bytes read from fd so far, after each read.
  void set_on_input(std::function<void(int64_t)> f) { on_input_ = std::move(f); }
  // The current entry's (remaining) data to an fd.
  absl::Status CopyTo(int out_fd);
  // Reads the rest of the stream up to the real EOF (e.g. GNU tar's record padding) so that
  // Digest() covers it all. Call after Next() returned false.
  absl::Status Drain();
  // "sha256:<hex>" of the uncompressed bytes read so far; after Drain() that is the whole stream,
  // equal to sha256sum of the uncompressed file (a layer's diff_id).
  std::string Digest() const;
  int64_t BytesRead() const { return bytes_read_; }

 private:
  // Up to n uncompressed bytes; 0 at EOF.
  absl::StatusOr<size_t> ReadSome(char* dst, size_t n);
  // Exactly n bytes, else "unexpected EOF".
  absl::Status ReadFull(char* dst, size_t n);
  absl::Status Skip(int64_t n);
  absl::Status FillInput();  // more compressed input into in_; sets in_eof_

  int fd_;
  absl::StatusOr<size_t> ReadZstd(char* dst, size_t n);

  bool detected_ = false, gzip_ = false, zstd_ = false, in_eof_ = false, gz_done_ = false;
  std::vector<unsigned char> in_;  // raw input, [in_pos_, in_len_) unconsumed
  size_t in_pos_ = 0, in_len_ = 0;
  std::unique_ptr<z_stream> zs_;
  ZSTD_DStream* zstd_ds_ = nullptr;
  EVP_MD_CTX* sha_ = nullptr;
  int64_t bytes_read_ = 0;
  int64_t raw_read_ = 0;
  std::function<void(int64_t)> on_input_;
  int64_t remaining_ = 0;  // unread data bytes of the current entry
  int64_t padding_ = 0;    // zero padding after them
  bool end_ = false;       // the two zero blocks were read
  std::map<std::string, std::string> global_pax_;
};

struct ExtractResult {
  std::string diff_id;   // "sha256:<hex>" of the uncompressed stream
  int64_t size = 0;      // bytes of regular-file data extracted (as moby's UnpackLayer counts)
  int64_t tar_size = 0;  // bytes of the uncompressed stream
};

// Extracts an image layer into `dir` (which exists): files, dirs, symlinks, hardlinks (within dir),
// char/block devices, fifos, with ownership, modes (incl. setuid/sticky), mtimes (dirs fixed after
// their contents) and xattrs. Docker/OCI whiteouts become overlayfs ones: ".wh.NAME" -> a char
// device 0:0 named NAME; "D/.wh..wh..opq" -> xattr trusted.overlay.opaque="y" on D. Any entry whose
// path or hardlink target is absolute, climbs with "..", or would be reached through a symlink
// leading out of dir is refused with InvalidArgument; nothing outside dir is touched (parents are
// resolved with openat2 RESOLVE_BENEATH). Needs root for ownership, devices and trusted.* xattrs.
// On error, dir may hold part of the layer: the caller removes it.
absl::StatusOr<ExtractResult> ExtractLayer(int fd, const std::string& dir);

struct ExtractOptions {
  bool whiteouts = true;  // ExtractLayer's whiteout conversion (ExtractInRoot: off)
  // docker cp's noOverwriteDirNonDir: an existing directory is not replaced by a non-directory
  // entry, nor a non-directory by a directory (InvalidArgument, in Docker's words).
  bool no_overwrite_dir_non_dir = false;
  bool chown = false;  // every entry owned by uid:gid instead of the archive's owners
  uint32_t uid = 0, gid = 0;
  // Called as the (possibly compressed) input is consumed, with the bytes read from fd so far
  // (docker pull's "Extracting" progress).
  std::function<void(int64_t)> on_input;
};
// ExtractLayer with progress (opts.on_input); whiteouts are always converted.
absl::StatusOr<ExtractResult> ExtractLayer(int fd, const std::string& dir,
                                           const ExtractOptions& opts);
// Extracts a plain archive (docker cp's PUT /archive) into `dest`, a directory given relative to
// root_fd (leading "/" allowed). Paths resolve with RESOLVE_IN_ROOT: root_fd acts as "/", so
// symlinks in the tree (absolute or with "..") are followed but never lead outside root_fd, as
// docker's chrooted untar. Entries named absolutely or climbing out of dest with ".." are
// refused. ".wh." names are ordinary files here.
absl::StatusOr<ExtractResult> ExtractInRoot(int fd, int root_fd, const std::string& dest,
                                            const ExtractOptions& opts);

// Writes ustar archives, with PAX records where a name, link target, number or xattr does not fit
// ustar (what Go's archive/tar and so docker write). Names are written as given (directories get a
// trailing "/").
class Writer {
 public:
  explicit Writer(int fd);  // does not own fd

  absl::Status AddFile(const std::string& name, std::string_view data, uint32_t mode = 0644,
                       int64_t mtime = 0);
  // A regular file copied from disk, with its mode and mtime, owned by 0:0.
  absl::Status AddFileFromPath(const std::string& name, const std::string& path);
  absl::Status AddDir(const std::string& name, uint32_t mode = 0755, int64_t mtime = 0);
  absl::Status AddSymlink(const std::string& name, const std::string& target);
  // Any entry: e.name, type, mode, uid, gid, mtime, linkname, dev numbers and xattrs are written;
  // for type '0', data is the content and e.size is ignored.
  absl::Status AddEntry(const Entry& e, std::string_view data = {});
  // Walks a directory tree (lstat, never following symlinks) and writes all of it with names
  // relative to root (root itself excluded), each directory's children sorted by name, keeping
  // modes, uid/gid, mtimes, devices, fifos, hardlinks (by inode) and security.capability; overlayfs
  // whiteouts (char 0:0, trusted.overlay.opaque=y) go back to ".wh." files. Sockets are skipped.
  absl::Status AddTree(const std::string& root);
  // AddTree leaves out the paths (relative to its root, "etc/hosts") for which skip is true.
  void SetSkip(std::function<bool(const std::string& rel)> skip) { skip_ = std::move(skip); }
  // Archives what lies at dir_fd/base (base "" or ".": the directory itself), never following a
  // symlink, under `name`: a directory with everything beneath it ("name/child", each
  // directory's children sorted), anything else as one entry; hardlinks by inode, file
  // capabilities kept, sockets skipped, no whiteout conversion. Every child is opened relative to
  // its directory's fd with O_NOFOLLOW, so a tree that changes meanwhile (docker cp from a
  // running container) cannot lead the walk outside dir_fd (tar_walk.cc).
  absl::Status AddPathAt(int dir_fd, const std::string& base, const std::string& name);
  // Two zero blocks, then zero padding to a 10240-byte record as GNU tar does.
  absl::Status Finish();

  int64_t BytesWritten() const { return written_; }

 private:
  absl::Status WriteHeader(const Entry& e, int64_t size);
  absl::Status Write(const void* p, size_t n);
  absl::Status Pad(int64_t size);
  absl::Status CopyFromFd(int fd, int64_t size, const std::string& what);
  absl::Status WalkDir(const std::string& abs, const std::string& rel);

  int fd_;
  int64_t written_ = 0;
  bool finished_ = false;
  // First name written for each (dev, ino) with more than one link, for AddTree's hardlinks.
  absl::flat_hash_map<std::pair<dev_t, ino_t>, std::string> inodes_;
  std::function<bool(const std::string&)> skip_;
};

}  // namespace berth::tar
