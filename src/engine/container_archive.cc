// ContainerManager's filesystem endpoints: docker diff (Changes), docker cp (StatPath,
// ArchivePath, ExtractToDir) and docker commit (Commit).
//
// How cp reaches the container's files (WithRoot):
// - A running container: through /proc/<pid>/root of its init, opened as a directory fd. That
//   fd is the root of the container's own mount namespace, so what cp sees is what the
//   container's processes see: its rootfs, and the bind mounts and volumes mounted over it
//   (path walks from the fd cross the container's mount points). The pid is checked to still be
//   the container's after the open, so a recycled pid cannot hand us another process's root.
// - A stopped container: its overlay is mounted on its rootfs mount point (as start does) with
//   the container's operation lock held, so no start or rm runs meanwhile; its bind mounts
//   (absolute -v sources and --mount type=bind) are bound over their targets there, and the
//   whole tree is detached afterwards (a lazy unmount takes the submounts with it).
// Every path inside is then resolved against that root fd only: Docker's
// FollowSymlinkInScope (ResolveInScope) for the names Docker reports, and openat2 with
// RESOLVE_IN_ROOT for every open, so neither ".." nor a symlink (even one swapped in by a
// running container between the two) leads outside the container's root; the tar walk opens
// each child relative to its parent's fd with O_NOFOLLOW.

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "engine/container_state.h"
#include "engine/containers.h"
#include "engine/runtime.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"
#include "sys/tar.h"

namespace berth::engine {

struct ContainerManager::RootView {
  int root_fd = -1;
  std::string id, name;
  spec::HostConfig host_config;
  spec::ContainerConfig config;
};

namespace {

// What runc (Docker: the init layer) makes in the upper dir as mount points: not the
// container's changes, so diff and commit leave them out.
bool InitLayerPath(const std::string& rel) {
  static const char* const kPaths[] = {"dev",         "proc",           "sys",
                                       ".dockerenv",  "etc/resolv.conf", "etc/hosts",
                                       "etc/hostname", "etc/mtab"};
  for (const char* p : kPaths) {
    if (rel == p || (absl::StartsWith(rel, p) && rel.size() > strlen(p) && rel[strlen(p)] == '/'))
      return true;
  }
  return false;
}

struct BindSpec {
  std::string source, target;
  bool read_only = false;
};

// What cp mounts on a stopped container's rootfs: binds with a host path as source, and the
// container's volumes (their data directories, from the volume store's resolved mounts).
std::vector<BindSpec> Binds(const spec::HostConfig& hc,
                            const std::vector<spec::MountPoint>& volumes) {
  std::vector<BindSpec> out;
  for (const std::string& b : spec::OrEmpty(hc.binds)) {
    std::vector<std::string> parts = absl::StrSplit(b, ':');
    if (parts.size() < 2 || !absl::StartsWith(parts[0], "/")) continue;
    BindSpec s{parts[0], parts[1], false};
    if (parts.size() > 2)
      for (absl::string_view o : absl::StrSplit(parts[2], ',')) s.read_only |= o == "ro";
    out.push_back(std::move(s));
  }
  for (const auto& m : hc.mounts) {
    if (m.type == "bind" && absl::StartsWith(m.source, "/"))
      out.push_back({m.source, m.target, m.read_only});
  }
  for (const auto& m : volumes)
    if (m.type == "volume") out.push_back({m.source, m.destination, !m.rw});
  return out;
}

bool Within(const std::string& path, const std::string& dir) {
  std::string d = dir.size() > 1 && absl::EndsWith(dir, "/") ? dir.substr(0, dir.size() - 1) : dir;
  return path == d || d == "/" || absl::StartsWith(path, d + "/");
}

Status FileNotFound(const std::string& path, const std::string& name) {
  return absl::NotFoundError(
      absl::StrCat("Could not find the file ", path, " in container ", name));
}

// The directory of a parsed path, resolved in scope, and the stat of its last component
// (not followed).
struct Located {
  UniqueFd dir;
  std::string base;  // "" or ".": the directory itself
  struct stat st;
};

StatusOr<Located> Locate(int root, const CpPath& a) {
  Located l;
  std::string dir;
  ASSIGN_OR_RETURN(dir, ResolveInScope(a.dir, RootReadlink(root)));
  ASSIGN_OR_RETURN(l.dir, OpenInRoot(root, dir, O_PATH | O_DIRECTORY));
  l.base = a.base;
  const char* b = (a.base.empty() || a.base == ".") ? "" : a.base.c_str();
  if (::fstatat(l.dir.get(), b, &l.st, AT_SYMLINK_NOFOLLOW | (*b ? 0 : AT_EMPTY_PATH)) != 0)
    return ErrnoStatus(errno, "lstat " + a.abs);
  return l;
}

StatusOr<PathStat> StatOf(int root, const CpPath& a, const Located& l) {
  PathStat s;
  s.name = a.name;
  s.size = l.st.st_size;
  s.mode = GoFileMode(l.st.st_mode);
  s.mtime_nanos = int64_t{l.st.st_mtim.tv_sec} * 1000000000 + l.st.st_mtim.tv_nsec;
  if (S_ISLNK(l.st.st_mode)) {
    ASSIGN_OR_RETURN(s.link_target, ResolveInScope(a.abs, RootReadlink(root)));
  }
  return s;
}

// The container's files the caller may read to resolve its user (copyUIDGID): /etc/passwd and
// /etc/group, read through the root fd into a private directory, so a symlink there cannot make
// us read the host's.
StatusOr<std::string> CopyUserDb(int root, const std::string& dir) {
  RETURN_IF_ERROR(sys::MkdirAll(dir + "/etc", 0700));
  for (const char* f : {"/etc/passwd", "/etc/group"}) {
    auto fd = OpenInRoot(root, f, O_RDONLY);
    if (!fd.ok()) continue;
    std::string data;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd->get(), buf, sizeof buf)) > 0 && data.size() < (4 << 20))
      data.append(buf, static_cast<size_t>(n));
    RETURN_IF_ERROR(sys::WriteFile(dir + f, data, 0600));
  }
  return dir;
}

}  // namespace

Status ContainerManager::WithRoot(const std::string& name,
                                  const std::function<Status(const RootView&)>& fn) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  RootView v;
  auto through_proc = [&](int pid) -> StatusOr<bool> {
    std::string p = absl::StrCat("/proc/", pid, "/root");
    int fd = ::open(p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;  // exited meanwhile
    UniqueFd root(fd);
    {
      StateLock l(mu_);
      if (c->status != "running" || c->pid != pid) return false;
    }
    v.root_fd = root.get();
    RETURN_IF_ERROR(fn(v));
    return true;
  };
  int pid = 0;
  {
    StateLock l(mu_);
    if (c->removed) return absl::NotFoundError("No such container: " + name);
    v.id = c->id;
    v.name = c->name;
    v.host_config = c->host_config;
    v.config = c->config;
    if (c->status == "running") pid = c->pid;
  }
  if (pid > 0) {
    ASSIGN_OR_RETURN(bool done, through_proc(pid));
    if (done) return absl::OkStatus();
  }

  absl::MutexLock op(&c->op_mu);
  std::string image_id;
  {
    StateLock l(mu_);
    if (c->removed) return absl::NotFoundError("No such container: " + name);
    pid = c->status == "running" ? c->pid : 0;
    image_id = c->image_id;
  }
  if (pid > 0) {  // started meanwhile; its start is done (we hold its operation lock)
    ASSIGN_OR_RETURN(bool done, through_proc(pid));
    if (done) return absl::OkStatus();
  }
  std::string rootfs = StateDir(v.id) + "/rootfs";
  std::string dir = ContainerDir(v.id);
  bool mounted_here = false;
  if (!mounter_.Mounted(rootfs)) {
    ASSIGN_OR_RETURN(Image image, images_.Get(image_id));
    RETURN_IF_ERROR(sys::MkdirAll(rootfs, 0755));
    RETURN_IF_ERROR(
        mounter_.Mount(images_.LowerDirs(image), dir + "/fs/upper", dir + "/fs/work", rootfs));
    mounted_here = true;
  }
  Status st = [&]() -> Status {
    int fd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open " + rootfs);
    UniqueFd root(fd);
    if (mounted_here) {
      for (const BindSpec& b : Binds(v.host_config, volumes_->MountPoints(v.id))) {
        auto target = ResolveInScope(b.target, RootReadlink(root.get()));
        if (!target.ok()) continue;
        auto tfd = OpenInRoot(root.get(), *target, O_PATH);
        if (!tfd.ok()) continue;  // made at the next start, as runc does; nothing to show yet
        // Through the fd's magic link: the very target resolved inside the root.
        std::string at = absl::StrCat("/proc/self/fd/", tfd->get());
        if (::mount(b.source.c_str(), at.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
          spdlog::warn("container {}: cp: bind {} on {}: {}", v.id, b.source, *target,
                       strerror(errno));
          continue;
        }
        if (b.read_only) {
          std::string mp = rootfs + *target;
          (void)::mount(nullptr, mp.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
        }
      }
      // The binds are under rootfs now: reopen it to walk across them.
      fd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) return ErrnoStatus(errno, "open " + rootfs);
      root = UniqueFd(fd);
    }
    v.root_fd = root.get();
    return fn(v);
  }();
  if (mounted_here) {
    // Lazy: the bind mounts beneath go with it.
    Status ust = mounter_.Unmount(rootfs);
    if (!ust.ok()) spdlog::warn("container {}: cp: unmount rootfs: {}", v.id, ust.ToString());
  }
  return st;
}

StatusOr<std::vector<FsChange>> ContainerManager::Changes(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::string id, image_id;
  {
    StateLock l(mu_);
    id = c->id;
    image_id = c->image_id;
  }
  ASSIGN_OR_RETURN(Image image, images_.Get(image_id));
  return OverlayChanges(ContainerDir(id) + "/fs/upper", images_.LowerDirs(image), InitLayerPath);
}

StatusOr<PathStat> ContainerManager::StatPath(const std::string& name, const std::string& path) {
  PathStat out;
  Status st = WithRoot(name, [&](const RootView& v) -> Status {
    CpPath a = ParseArchivePath(path);
    auto l = Locate(v.root_fd, a);
    if (!l.ok()) return l.status();
    ASSIGN_OR_RETURN(out, StatOf(v.root_fd, a, *l));
    return absl::OkStatus();
  });
  if (absl::IsNotFound(st) && !absl::StartsWith(st.message(), "No such container"))
    return FileNotFound(path, name);
  RETURN_IF_ERROR(st);
  return out;
}

Status ContainerManager::ArchivePath(const std::string& name, const std::string& path,
                                     const std::function<void(const PathStat&)>& on_stat,
                                     int out_fd) {
  std::string id;
  Status st = WithRoot(name, [&](const RootView& v) -> Status {
    id = v.id;
    CpPath a = ParseArchivePath(path);
    Located l;
    ASSIGN_OR_RETURN(l, Locate(v.root_fd, a));
    PathStat s;
    ASSIGN_OR_RETURN(s, StatOf(v.root_fd, a, l));
    on_stat(s);
    // Docker's TarResourceRebaseOpts: a directory's entries are rebased onto the requested
    // name ("etc/", "etc/passwd"; "./..." for "/etc/."; "/", "/bin" for "/"), anything else
    // is one entry named as requested.
    std::string rebase = a.name == "/" ? "" : a.name;
    tar::Writer w(out_fd);
    RETURN_IF_ERROR(w.AddPathAt(l.dir.get(), l.base == "." ? "" : l.base, rebase));
    return w.Finish();
  });
  if (absl::IsNotFound(st) && !absl::StartsWith(st.message(), "No such container"))
    return FileNotFound(path, name);
  RETURN_IF_ERROR(st);
  {
    auto c = Find(id);
    if (c.ok()) {
      ContainerEvent ev;
      {
        StateLock l(mu_);
        ev = EventLocked(**c, "archive-path");
      }
      Emit(std::move(ev));
    }
  }
  return absl::OkStatus();
}

Status ContainerManager::ExtractToDir(const std::string& name, const std::string& path,
                                      int tar_fd, bool no_overwrite_dir_non_dir,
                                      bool copy_uid_gid) {
  std::string id;
  Status st = WithRoot(name, [&](const RootView& v) -> Status {
    id = v.id;
    CpPath a = ParseArchivePath(path);
    std::string resolved;
    ASSIGN_OR_RETURN(resolved, ResolveInScope(a.abs, RootReadlink(v.root_fd)));
    UniqueFd dest;
    ASSIGN_OR_RETURN(dest, OpenInRoot(v.root_fd, resolved, O_PATH));
    struct stat st;
    if (::fstat(dest.get(), &st) != 0) return ErrnoStatus(errno, "stat " + resolved);
    if (!S_ISDIR(st.st_mode)) return absl::InvalidArgumentError("extraction point is not a directory");
    // Docker's checkWritablePath: a bind mount's own mode decides inside it, the rootfs's
    // elsewhere.
    bool in_volume = false;
    for (const BindSpec& b : Binds(v.host_config, volumes_->MountPoints(v.id))) {
      if (!Within(resolved, b.target)) continue;
      if (b.read_only) return absl::InvalidArgumentError("mounted volume is marked read-only");
      in_volume = true;
    }
    if (!in_volume && v.host_config.readonly_rootfs)
      return absl::InvalidArgumentError("container rootfs is marked read-only");
    tar::ExtractOptions opts;
    opts.no_overwrite_dir_non_dir = no_overwrite_dir_non_dir;
    if (copy_uid_gid) {
      std::string tmp = ContainerDir(v.id) + "/cp-user-" + NewId().substr(0, 12);
      auto db = CopyUserDb(v.root_fd, tmp);
      std::vector<uint32_t> groups;
      Status ust = db.ok() ? ResolveUser(*db, v.config.user, &opts.uid, &opts.gid, &groups)
                           : db.status();
      (void)sys::RemoveAll(tmp);
      RETURN_IF_ERROR(ust);
      opts.chown = true;
    }
    auto res = tar::ExtractInRoot(tar_fd, v.root_fd, resolved, opts);
    return res.status();
  });
  if (absl::IsNotFound(st) && !absl::StartsWith(st.message(), "No such container"))
    return FileNotFound(path, name);
  RETURN_IF_ERROR(st);
  auto c = Find(id);
  if (c.ok()) {
    ContainerEvent ev;
    {
      StateLock l(mu_);
      ev = EventLocked(**c, "extract-to-dir");
    }
    Emit(std::move(ev));
  }
  return absl::OkStatus();
}

StatusOr<std::string> ContainerManager::Commit(const std::string& name, const CommitRequest& req) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::string id, image_id, status;
  spec::ContainerConfig config;
  bool paused = false;
  {
    StateLock l(mu_);
    id = c->id;
    image_id = c->image_id;
    status = c->status;
    config = c->config;
    paused = c->paused;
  }
  if (status == "dead")
    return absl::FailedPreconditionError("You cannot commit container " + id + " which is Dead");
  if (status == "removing")
    return absl::FailedPreconditionError("You cannot commit container " + id +
                                         " which is being removed");
  // Docker's default (pause=true): the layer is read from a frozen container, then thawed; one
  // the user paused stays paused.
  bool pause_here = req.pause && status == "running" && !paused;
  if (pause_here) RETURN_IF_ERROR(Pause(id));
  struct Thaw {
    ContainerManager* m;
    const std::string* id;
    bool on;
    ~Thaw() {
      if (on) (void)m->Unpause(*id);
    }
  } thaw{this, &id, pause_here};
  std::string upper = ContainerDir(id) + "/fs/upper";
  std::string tar_path = ContainerDir(id) + "/commit-" + NewId().substr(0, 12) + ".tar";
  bool empty = true;
  {
    UniqueFd fd(::open(tar_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoStatus(errno, "create " + tar_path);
    tar::Writer w(fd.get());
    w.SetSkip([&empty](const std::string& rel) {
      if (InitLayerPath(rel)) return true;
      empty = false;
      return false;
    });
    Status st = w.AddTree(upper);
    if (st.ok()) st = w.Finish();
    if (!st.ok()) {
      ::unlink(tar_path.c_str());
      return Annotate(st, "commit: archive the container's changes");
    }
  }
  ImageStore::CommitRequest ir;
  ir.parent = image_id;
  ir.layer_tar = empty ? "" : tar_path;
  ir.config = config;
  ir.container_id = id;
  ir.created_by = absl::StrJoin(spec::OrEmpty(config.cmd), " ");
  ir.comment = req.comment;
  ir.author = req.author;
  ir.changes = req.changes;
  if (!req.repo.empty()) ir.ref = req.repo + ":" + (req.tag.empty() ? "latest" : req.tag);
  auto image = images_.CommitContainer(ir);
  ::unlink(tar_path.c_str());
  RETURN_IF_ERROR(image.status());
  ContainerEvent ev;
  {
    StateLock l(mu_);
    ev = EventLocked(*c, "commit", {{"comment", req.comment}, {"imageID", *image},
                                    {"imageRef", ir.ref}});
  }
  Emit(std::move(ev));
  return *image;
}

}  // namespace berth::engine
