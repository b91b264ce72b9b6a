// berth diff, cp and commit, with docker's syntax, rules and words (docker/cli's
// container/{diff,cp,commit}.go and moby's pkg/archive copy rules).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/cli.h"
#include "cli/stream.h"
#include "common/fd.h"
#include "sys/tar.h"

namespace berth::cli {
namespace {

using client::QueryEscape;
using nlohmann::json;

constexpr uint32_t kGoModeDir = 1u << 31, kGoModeSymlink = 1u << 27;

std::string Esc(const std::string& s) { return QueryEscape(s); }

// --- Go's path/filepath, as docker's copy rules use it -------------------------------------

std::string Clean(const std::string& p) {
  bool abs = absl::StartsWith(p, "/");
  std::vector<std::string> out;
  for (absl::string_view c : absl::StrSplit(p, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!out.empty() && out.back() != "..") {
        out.pop_back();
        continue;
      }
      if (abs) continue;
    }
    out.emplace_back(c);
  }
  std::string s = absl::StrJoin(out, "/");
  if (abs) return "/" + s;
  return s.empty() ? "." : s;
}
std::string Base(const std::string& p) {
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  if (s == "/") return "/";
  if (s.empty()) return ".";
  return s.substr(s.rfind('/') + 1);
}
std::string Dir(const std::string& p) {
  size_t slash = p.rfind('/');
  std::string d = slash == std::string::npos ? "." : p.substr(0, slash + 1);
  return Clean(d);
}
std::string Join(const std::string& a, const std::string& b) { return Clean(a + "/" + b); }
bool SpecifiesCurrentDir(const std::string& p) { return Base(p) == "."; }
bool TrailingSep(const std::string& p) { return !p.empty() && p.back() == '/'; }

std::string PreserveTrailingDotOrSeparator(std::string cleaned, const std::string& original) {
  if (!SpecifiesCurrentDir(cleaned) && SpecifiesCurrentDir(original)) {
    if (!TrailingSep(cleaned)) cleaned += "/";
    cleaned += ".";
  }
  if (!TrailingSep(cleaned) && TrailingSep(original)) cleaned += "/";
  return cleaned;
}
std::pair<std::string, std::string> SplitPathDirEntry(const std::string& path) {
  std::string cleaned = Clean(path);
  if (SpecifiesCurrentDir(path)) cleaned += "/.";
  return {Dir(cleaned), Base(cleaned)};
}
// filepath.Abs with the trailing "/" or "/." kept.
std::string ResolveLocalPath(const std::string& p) {
  std::string abs = p;
  if (!absl::StartsWith(p, "/")) {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) != nullptr) abs = std::string(cwd) + "/" + p;
  }
  return PreserveTrailingDotOrSeparator(Clean(abs), p);
}
std::pair<std::string, std::string> GetRebaseName(const std::string& path, std::string resolved) {
  if (SpecifiesCurrentDir(path) && !SpecifiesCurrentDir(resolved)) resolved += "/.";
  if (TrailingSep(path) && !TrailingSep(resolved)) resolved += "/";
  std::string rebase = Base(path) != Base(resolved) ? Base(path) : "";
  return {resolved, rebase};
}

// docker/cli's splitCpArg.
std::pair<std::string, std::string> SplitCpArg(const std::string& arg) {
  if (absl::StartsWith(arg, "/")) return {"", arg};
  size_t colon = arg.find(':');
  if (colon == std::string::npos || absl::StartsWith(arg, ".")) return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

struct CopyInfo {
  std::string path;
  bool exists = false, is_dir = false;
  std::string rebase_name;
};

// An unnamed temporary file for a tar being read back.
StatusOr<UniqueFd> TempFile() {
  int fd = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "create temporary file");
  return UniqueFd(fd);
}

// moby's RebaseArchiveEntries: the first occurrence of old_base in each name (and hardlink
// target) becomes new_base. Reads in_fd from its start; the result is rewound.
StatusOr<UniqueFd> Rebase(int in_fd, std::string old_base, const std::string& new_base) {
  if (old_base == "/") old_base = "";
  ::lseek(in_fd, 0, SEEK_SET);
  ASSIGN_OR_RETURN(UniqueFd out, TempFile());
  tar::Reader r(in_fd);
  tar::Writer w(out.get());
  tar::Entry e;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, r.Next(&e));
    if (!more) break;
    auto swap = [&](std::string s) {
      size_t at = s.find(old_base);
      if (at != std::string::npos) s.replace(at, old_base.size(), new_base);
      return s;
    };
    // The reader cleaned the names; keep the original spelling ("./x") for the replace.
    e.name = swap(e.raw_name.empty() ? e.name : e.raw_name);
    if (e.type == '1') e.linkname = swap(e.linkname);
    std::string data;
    if (e.type == '0') RETURN_IF_ERROR(r.ReadAll(&data, int64_t{1} << 40));
    RETURN_IF_ERROR(w.AddEntry(e, data));
  }
  RETURN_IF_ERROR(w.Finish());
  ::lseek(out.get(), 0, SEEK_SET);
  return out;
}

// moby's CopyInfoDestinationPath on the local side.
StatusOr<CopyInfo> DestinationInfo(std::string path) {
  struct stat st;
  int rc = ::lstat(path.c_str(), &st);
  for (int n = 0; rc == 0 && S_ISLNK(st.st_mode); ++n) {
    if (n > 10) return absl::InvalidArgumentError("too many symlinks in " + path);
    char buf[PATH_MAX];
    ssize_t len = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (len < 0) return ErrnoStatus(errno, "readlink " + path);
    std::string target(buf, static_cast<size_t>(len));
    if (!absl::StartsWith(target, "/")) target = Join(SplitPathDirEntry(path).first, target);
    path = target;
    rc = ::lstat(path.c_str(), &st);
  }
  if (rc == 0) return CopyInfo{path, true, S_ISDIR(st.st_mode), ""};
  if (errno != ENOENT) return ErrnoStatus(errno, "lstat " + path);
  std::string parent = SplitPathDirEntry(path).first;
  if (::stat(parent.c_str(), &st) != 0) return ErrnoStatus(errno, "stat " + parent);
  if (!S_ISDIR(st.st_mode)) return absl::InvalidArgumentError("not a directory");
  return CopyInfo{path, false, false, ""};
}

// moby's PrepareArchiveCopy: the directory to extract into, and the (rebased) archive.
StatusOr<std::pair<std::string, UniqueFd>> PrepareArchiveCopy(UniqueFd content, CopyInfo src,
                                                             const CopyInfo& dst) {
  auto [dst_dir, dst_base] = SplitPathDirEntry(dst.path);
  std::string src_base = SplitPathDirEntry(src.path).second;
  if (!src.rebase_name.empty()) src_base = src.rebase_name;
  if (dst.exists && dst.is_dir) {
    ::lseek(content.get(), 0, SEEK_SET);
    return std::make_pair(dst.path, std::move(content));
  }
  if (dst.exists && src.is_dir) return absl::InvalidArgumentError("cannot copy directory");
  if (!dst.exists && !src.is_dir && (TrailingSep(dst.path) || SpecifiesCurrentDir(dst.path)))
    return absl::NotFoundError("no such directory");
  ASSIGN_OR_RETURN(UniqueFd rebased, Rebase(content.get(), src_base, dst_base));
  return std::make_pair(dst_dir, std::move(rebased));
}

std::string HumanSize(int64_t n) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return absl::StrFormat("%.3g%s", v, units[u]);
}

StatusOr<json> StatPath(const client::Client& api, const std::string& ctr, const std::string& path) {
  ASSIGN_OR_RETURN(client::Response r,
                   api.Call("HEAD", "/containers/" + Esc(ctr) + "/archive?path=" + Esc(path)));
  std::string raw;
  if (!absl::Base64Unescape(r.Header("x-docker-container-path-stat"), &raw))
    return absl::InternalError("unable to decode container path stat header");
  json j = json::parse(raw, nullptr, false);
  if (!j.is_object()) return absl::InternalError("unable to decode container path stat header");
  return j;
}

struct CpOptions {
  bool follow_link = false, copy_uid_gid = false, quiet = false;
};

int CopyFromContainer(Cli& cli, const client::Client& api, const std::string& ctr,
                      std::string src, std::string dst, const CpOptions& o) {
  if (dst != "-") dst = ResolveLocalPath(dst);
  std::string rebase_name;
  if (o.follow_link) {
    auto st = StatPath(api, ctr, src);
    if (st.ok() && (st->value("mode", 0u) & kGoModeSymlink)) {
      std::string target = st->value("linkTarget", "");
      if (!absl::StartsWith(target, "/")) target = Join(SplitPathDirEntry(src).first, target);
      std::tie(src, rebase_name) = GetRebaseName(src, target);
    }
  }
  std::string path = "/containers/" + Esc(ctr) + "/archive?path=" + Esc(src);
  if (dst == "-") {
    bool write_failed = false;
    auto r = api.Stream("GET", path, "", [&](std::string_view d) {
      write_failed = !WriteAll(cli.out_fd(), d);
      return !write_failed;
    });
    if (!r.ok()) return PrintError(cli, r.status());
    if (write_failed) return PrintError(cli, ErrnoStatus(errno, "write"));
    return 0;
  }
  auto tmp = TempFile();
  if (!tmp.ok()) return PrintError(cli, tmp.status());
  int64_t size = 0;
  bool write_failed = false;
  auto r = api.Stream("GET", path, "", [&](std::string_view d) {
    size += static_cast<int64_t>(d.size());
    write_failed = !WriteAll(tmp->get(), d);
    return !write_failed;
  });
  if (!r.ok()) return PrintError(cli, r.status());
  if (write_failed) return PrintError(cli, ErrnoStatus(errno, "write temporary file"));
  std::string raw;
  json stat = json::object();
  if (absl::Base64Unescape(r->Header("x-docker-container-path-stat"), &raw))
    stat = json::parse(raw, nullptr, false);
  CopyInfo src_info{src, true, stat.is_object() && (stat.value("mode", 0u) & kGoModeDir), rebase_name};
  UniqueFd content = std::move(*tmp);
  if (!rebase_name.empty()) {
    auto rebased = Rebase(content.get(), SplitPathDirEntry(src).second, rebase_name);
    if (!rebased.ok()) return PrintError(cli, rebased.status());
    content = std::move(*rebased);
  }
  auto dst_info = DestinationInfo(dst);
  if (!dst_info.ok()) return PrintError(cli, dst_info.status());
  auto prepared = PrepareArchiveCopy(std::move(content), src_info, *dst_info);
  if (!prepared.ok()) return PrintError(cli, prepared.status());
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  tar::ExtractOptions opts;
  opts.no_overwrite_dir_non_dir = true;
  opts.chown = true;  // docker's NoLchown: the files are the caller's
  opts.uid = ::getuid();
  opts.gid = ::getgid();
  auto res = tar::ExtractInRoot(prepared->second.get(), root.get(), prepared->first, opts);
  if (!res.ok()) return PrintError(cli, res.status());
  if (!o.quiet) cli.err() << "Successfully copied " << HumanSize(size) << " to " << dst << "\n";
  return 0;
}

int CopyToContainer(Cli& cli, const client::Client& api, const std::string& ctr,
                    std::string src, const std::string& dst, const CpOptions& o) {
  if (src != "-") src = ResolveLocalPath(src);
  CopyInfo dst_info{dst, false, false, ""};
  auto st = StatPath(api, ctr, dst);
  if (st.ok() && (st->value("mode", 0u) & kGoModeSymlink)) {
    std::string target = st->value("linkTarget", "");
    if (!absl::StartsWith(target, "/")) target = Join(SplitPathDirEntry(dst).first, target);
    dst_info.path = target;
    st = StatPath(api, ctr, target);
  }
  if (st.ok()) {
    uint32_t mode = st->value("mode", 0u);
    // docker's ValidateOutputPathFileMode.
    const char* bad = (mode & (1u << 26)) ? "got a device"
                      : (mode & (1u << 19)) ? "got an irregular file"
                                            : nullptr;
    if (bad != nullptr) {
      cli.err() << "destination \"" << ctr << ":" << dst
                << "\" must be a directory or a regular file: " << bad << "\n";
      return 1;
    }
    dst_info.exists = true;
    dst_info.is_dir = mode & kGoModeDir;
  }
  std::string body, resolved_dst;
  if (src == "-") {
    if (!dst_info.is_dir) {
      cli.err() << "destination \"" << ctr << ":" << dst << "\" must be a directory\n";
      return 1;
    }
    char buf[65536];
    ssize_t n;
    while ((n = ::read(0, buf, sizeof buf)) > 0) body.append(buf, static_cast<size_t>(n));
    resolved_dst = dst_info.path;
  } else {
    // CopyInfoSourcePath: the parent resolved, the last component as it is unless -L.
    std::string resolved, rebase_name;
    if (o.follow_link) {
      char real[PATH_MAX];
      if (::realpath(src.c_str(), real) == nullptr)
        return PrintError(cli, ErrnoStatus(errno, "lstat " + src));
      std::tie(resolved, rebase_name) = GetRebaseName(src, real);
    } else {
      std::string dir = src.substr(0, src.rfind('/') + 1), base = src.substr(src.rfind('/') + 1);
      char real[PATH_MAX];
      if (::realpath(dir.empty() ? "." : dir.c_str(), real) == nullptr)
        return PrintError(cli, ErrnoStatus(errno, "lstat " + src));
      resolved = std::string(real) + "/" + base;
      if (TrailingSep(src) && Base(src) != Base(resolved)) rebase_name = Base(src);
    }
    struct stat sst;
    if (::lstat(resolved.c_str(), &sst) != 0) return PrintError(cli, ErrnoStatus(errno, "lstat " + resolved));
    CopyInfo src_info{resolved, true, S_ISDIR(sst.st_mode), rebase_name};
    // TarResource: the source's base, renamed to rebase_name when set.
    auto [sdir, sbase] = SplitPathDirEntry(resolved);
    auto tmp = TempFile();
    if (!tmp.ok()) return PrintError(cli, tmp.status());
    {
      UniqueFd dfd(::open(sdir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!dfd.valid()) return PrintError(cli, ErrnoStatus(errno, "open " + sdir));
      tar::Writer w(tmp->get());
      Status ws = w.AddPathAt(dfd.get(), sbase, rebase_name.empty() ? sbase : rebase_name);
      if (ws.ok()) ws = w.Finish();
      if (!ws.ok()) return PrintError(cli, ws);
    }
    auto prepared = PrepareArchiveCopy(std::move(*tmp), src_info, dst_info);
    if (!prepared.ok()) return PrintError(cli, prepared.status());
    resolved_dst = prepared->first;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(prepared->second.get(), buf, sizeof buf)) > 0)
      body.append(buf, static_cast<size_t>(n));
  }
  std::string q = "/containers/" + Esc(ctr) + "/archive?noOverwriteDirNonDir=true&path=" +
                  Esc(resolved_dst);
  if (o.copy_uid_gid) q += "&copyUIDGID=true";
  client::RequestOptions ro;
  ro.content_type = "application/x-tar";
  auto r = api.Call("PUT", q, body, ro);
  if (!r.ok()) return PrintError(cli, r.status());
  if (!o.quiet)
    cli.err() << "Successfully copied " << HumanSize(static_cast<int64_t>(body.size())) << " to "
              << ctr << ":" << dst_info.path << "\n";
  return 0;
}

}  // namespace

int CmdDiff(Cli& cli, const Invocation& inv) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->Call("GET", "/containers/" + Esc(pos[0]) + "/changes");
  if (!r.ok()) return PrintError(cli, r.status());
  auto j = r->Json();
  if (!j.ok()) return PrintError(cli, j.status());
  if (!j->is_array()) return 0;
  for (const auto& c : *j) {
    int kind = c.value("Kind", 0);
    const char* k = kind == 1 ? "A" : kind == 2 ? "D" : "C";
    cli.out() << k << " " << c.value("Path", "") << "\n";
  }
  return 0;
}

int CmdCommit(Cli& cli, const Invocation& inv) {
  std::string author, message;
  std::vector<std::string> changes;
  bool pause = true;
  FlagSet f;
  f.String("author", 'a', &author);
  f.StringList("change", 'c', &changes);
  f.String("message", 'm', &message);
  f.Bool("pause", 'p', &pause);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 2, &rc)) return rc;
  std::string q = "/commit?container=" + Esc(pos[0]);
  if (pos.size() == 2) {
    std::string ref = pos[1], tag;
    size_t colon = ref.rfind(':');
    if (colon != std::string::npos && ref.find('/', colon) == std::string::npos) {
      tag = ref.substr(colon + 1);
      ref.resize(colon);
    }
    q += "&repo=" + Esc(ref);
    if (!tag.empty()) q += "&tag=" + Esc(tag);
  }
  if (!message.empty()) q += "&comment=" + Esc(message);
  if (!author.empty()) q += "&author=" + Esc(author);
  for (const auto& c : changes) q += "&changes=" + Esc(c);
  q += pause ? "&pause=1" : "&pause=0";
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->Call("POST", SortedQuery(q));
  if (!r.ok()) return PrintError(cli, r.status());
  auto j = r->Json();
  if (!j.ok()) return PrintError(cli, j.status());
  cli.out() << j->value("Id", "") << "\n";
  return 0;
}

int CmdCp(Cli& cli, const Invocation& inv) {
  CpOptions o;
  bool quiet_set = false;
  FlagSet f;
  f.Bool("archive", 'a', &o.copy_uid_gid);
  f.Bool("follow-link", 'L', &o.follow_link);
  f.Bool("quiet", 'q', &quiet_set);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 2, 2, &rc)) return rc;
  if (pos[0].empty()) {
    cli.err() << "source can not be empty\n";
    return 1;
  }
  if (pos[1].empty()) {
    cli.err() << "destination can not be empty\n";
    return 1;
  }
  // As docker: progress only when a terminal is there to see it.
  o.quiet = quiet_set || !IsTerminal(cli.out_fd());
  auto [src_ctr, src] = SplitCpArg(pos[0]);
  auto [dst_ctr, dst] = SplitCpArg(pos[1]);
  if (!src_ctr.empty() && !dst_ctr.empty()) {
    cli.err() << "copying between containers is not supported\n";
    return 1;
  }
  if (src_ctr.empty() && dst_ctr.empty()) {
    cli.err() << "must specify at least one container source\n";
    return 1;
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  if (!src_ctr.empty()) return CopyFromContainer(cli, **api, src_ctr, src, dst, o);
  return CopyToContainer(cli, **api, dst_ctr, src, dst, o);
}

}  // namespace berth::cli
