#include "engine/volumes.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ids.h"
#include "engine/host_options.h"
#include "engine/volume_records.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"
#include "sys/mount_ops.h"
#include "sys/mounts.h"

namespace berth::engine {
namespace {

Status OpError(const char* op, const std::string& name, const Status& st) {
  return Status(st.code(), absl::StrCat(op, " ", name, ": ", st.message()));
}

Status UnknownDriver(const std::string& name, const std::string& driver) {
  return absl::NotFoundError(absl::StrCat("create ", name, ": error looking up volume plugin ",
                                          driver, ": plugin \"", driver, "\" not found"));
}

// The local driver's options (moby volume/local validateOpts, 20.10).
Status CheckLocalOptions(const std::string& name, const std::optional<spec::StringMap>& opts) {
  for (const auto& [k, v] : spec::OrEmpty(opts))
    if (k != "type" && k != "device" && k != "o")
      return absl::InvalidArgumentError(
          absl::StrCat("create ", name, ": invalid option key: \"", k, "\""));
  return absl::OkStatus();
}

std::string Opt(const Volume& v, const char* key) {
  if (!v.options) return "";
  auto it = v.options->find(key);
  return it == v.options->end() ? "" : it->second;
}

// Docker's directory.Size: the sizes of the files below dir (a hard link once), not blocks.
int64_t ContentSize(const std::string& dir, std::set<std::pair<dev_t, ino_t>>* seen) {
  int64_t total = 0;
  auto names = sys::ListDir(dir);
  if (!names.ok()) return 0;
  for (const std::string& n : *names) {
    std::string p = dir + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) total += ContentSize(p, seen);
    else if (st.st_nlink == 1 || seen->insert({st.st_dev, st.st_ino}).second) total += st.st_size;
  }
  return total;
}

}  // namespace

bool NeedsMount(const Volume& v) { return !Opt(v, "type").empty() || !Opt(v, "device").empty(); }

VolumeStore::VolumeStore(Store& store, const Clock& clock, std::string root)
    : store_(store), clock_(clock), root_(std::move(root)) {}

Status VolumeStore::Recover() {
  RETURN_IF_ERROR(sys::MkdirAll(root_, 0701));
  std::map<std::string, Volume> vols;
  for (auto& o : store_.List("volume")) {
    auto v = VolumeFromDoc(o.doc);
    if (!v.ok()) {
      spdlog::error("volume {}: unreadable record, left alone", o.id);
      continue;
    }
    v->mountpoint = DataDir(v->name);
    vols[v->name] = std::move(*v);
  }
  std::map<std::string, std::vector<ContainerMount>> mounts;
  for (auto& o : store_.List("mounts")) mounts[o.id] = MountsFromDoc(o.doc);
  StateLock l(mu_);
  volumes_ = std::move(vols);
  mounts_ = std::move(mounts);
  return absl::OkStatus();
}

void VolumeStore::Reconcile(const std::set<std::string>& containers,
                            const std::set<std::string>& running) {
  absl::MutexLock op(&op_mu_);
  std::vector<std::string> gone;
  std::map<std::string, std::set<std::string>> active;
  std::vector<Volume> vols;
  {
    StateLock l(mu_);
    for (auto& [id, ms] : mounts_) {
      if (!containers.count(id)) {
        gone.push_back(id);
        continue;
      }
      if (!running.count(id)) continue;
      for (const ContainerMount& m : ms)
        if (m.point.type == "volume") active[m.point.name].insert(id);
    }
    for (const std::string& id : gone) mounts_.erase(id);
    active_ = active;
    for (auto& [name, v] : volumes_) vols.push_back(v);
  }
  for (const std::string& id : gone) (void)store_.Delete("mounts", id);
  for (const Volume& v : vols) {
    if (!NeedsMount(v)) continue;
    if (active.count(v.name)) {
      Status st = MountVolume(v);
      if (!st.ok()) spdlog::warn("volume {}: mount: {}", v.name, st.ToString());
    } else if (sys::MountedAt(v.mountpoint)) {
      (void)sys::Unmount(v.mountpoint);
    }
  }
}

std::vector<std::string> VolumeStore::UsersLocked(const std::string& name) {
  std::vector<std::string> out;
  for (auto& [id, ms] : mounts_)
    for (const ContainerMount& m : ms)
      if (m.point.type == "volume" && m.point.name == name) {
        out.push_back(id);
        break;
      }
  return out;
}

std::vector<std::string> VolumeStore::Users(const std::string& name) {
  StateLock l(mu_);
  return UsersLocked(name);
}

StatusOr<Volume> VolumeStore::CreateLocked(const VolumeCreateRequest& req) {
  std::string name = req.name.empty() ? NewId() : req.name;
  std::string driver = req.driver.empty() ? "local" : req.driver;
  if (driver != "local") return UnknownDriver(name, driver);
  if (Status st = ValidVolumeName(name); !st.ok()) return OpError("create", name, st);
  RETURN_IF_ERROR(CheckLocalOptions(name, req.driver_opts));
  {
    StateLock l(mu_);
    // An existing volume of the same driver is the answer (Docker's create is idempotent).
    if (auto it = volumes_.find(name); it != volumes_.end()) return it->second;
  }
  Volume v;
  v.name = name;
  v.driver = driver;
  v.labels = req.labels;
  v.options = req.driver_opts;
  v.created = UnixNanos(clock_.Now());
  v.mountpoint = DataDir(name);
  // The directory first, the record last: a crash in between leaves a directory without a
  // record, which nothing lists.
  RETURN_IF_ERROR(OpError("create", name, sys::MkdirAll(v.mountpoint, 0755)));
  if (Status st = store_.Put("volume", name, name, VolumeDoc(v)); !st.ok()) {
    (void)sys::RemoveAll(root_ + "/" + name);
    return OpError("create", name, st);
  }
  StateLock l(mu_);
  volumes_[name] = v;
  return v;
}

StatusOr<Volume> VolumeStore::Create(const VolumeCreateRequest& req) {
  absl::MutexLock op(&op_mu_);
  return CreateLocked(req);
}

StatusOr<Volume> VolumeStore::Get(const std::string& name) {
  StateLock l(mu_);
  auto it = volumes_.find(name);
  if (it == volumes_.end()) return absl::NotFoundError("get " + name + ": no such volume");
  return it->second;
}

StatusOr<std::vector<Volume>> VolumeStore::List(const spec::Filters& f) {
  RETURN_IF_ERROR(f.Validate({"dangling", "driver", "label", "name"}));
  std::optional<bool> dangling;
  for (const std::string& d : f.Get("dangling")) {
    if (d == "true" || d == "1") dangling = true;
    else if (d == "false" || d == "0") dangling = false;
    else return spec::InvalidFilter("dangling", d);
  }
  StateLock l(mu_);
  std::vector<Volume> out;
  for (auto& [name, v] : volumes_) {
    if (dangling && UsersLocked(name).empty() != *dangling) continue;
    if (f.Contains("driver") && !f.Match("driver", v.driver)) continue;
    if (f.Contains("name") && !f.Match("name", v.name)) continue;
    if (!f.MatchKVList("label", v.labels)) continue;
    out.push_back(v);
  }
  return out;
}

Status VolumeStore::RemoveLocked(const std::string& name) {
  Volume v;
  {
    StateLock l(mu_);
    auto it = volumes_.find(name);
    if (it == volumes_.end()) return absl::NotFoundError("get " + name + ": no such volume");
    std::vector<std::string> users = UsersLocked(name);
    if (!users.empty())
      return absl::FailedPreconditionError(absl::StrCat("remove ", name, ": volume is in use - [",
                                                        absl::StrJoin(users, " "), "]"));
    v = it->second;
  }
  if (NeedsMount(v) && sys::MountedAt(v.mountpoint))
    RETURN_IF_ERROR(OpError("remove", name, sys::Unmount(v.mountpoint)));
  RETURN_IF_ERROR(OpError("remove", name, store_.Delete("volume", name)));
  {
    StateLock l(mu_);
    volumes_.erase(name);
    active_.erase(name);
  }
  // A bind-style volume's data is the host's: only its mount point goes (it is unmounted).
  if (Status st = sys::RemoveAll(root_ + "/" + name); !st.ok())
    spdlog::warn("volume {}: remove data: {}", name, st.ToString());
  return absl::OkStatus();
}

Status VolumeStore::Remove(const std::string& name, bool force) {
  absl::MutexLock op(&op_mu_);
  Status st = RemoveLocked(name);
  if (force && absl::IsNotFound(st)) return absl::OkStatus();
  return st;
}

StatusOr<VolumePruneReport> VolumeStore::Prune(const spec::Filters& f) {
  RETURN_IF_ERROR(f.Validate({"label", "label!"}));
  absl::MutexLock op(&op_mu_);
  std::vector<Volume> candidates;
  {
    StateLock l(mu_);
    for (auto& [name, v] : volumes_) {
      if (!UsersLocked(name).empty()) continue;
      if (!f.MatchKVList("label", v.labels)) continue;
      if (f.Contains("label!")) {
        // label!: pruned only when it carries none of the given labels.
        bool carries = false;
        for (const std::string& want : f.Get("label!")) {
          spec::Filters one;
          one.Add("label", want);
          carries |= one.MatchKVList("label", v.labels);
        }
        if (carries) continue;
      }
      candidates.push_back(v);
    }
  }
  VolumePruneReport report;
  for (const Volume& v : candidates) {
    std::set<std::pair<dev_t, ino_t>> seen;
    int64_t size = NeedsMount(v) ? 0 : ContentSize(v.mountpoint, &seen);
    if (!RemoveLocked(v.name).ok()) continue;
    report.deleted.push_back(v.name);
    if (size > 0) report.space_reclaimed += static_cast<uint64_t>(size);
  }
  return report;
}

StatusOr<std::vector<ContainerMount>> VolumeStore::Attach(const std::string& id,
                                                          const spec::ContainerConfig& config,
                                                          const spec::HostConfig& hc) {
  if (!spec::OrEmpty(hc.volumes_from).empty())
    return absl::InvalidArgumentError("--volumes-from is not supported by Berth yet");
  ASSIGN_OR_RETURN(std::vector<MountRequest> reqs, CollectMounts(config, hc));
  // Every check before anything is made.
  for (const MountRequest& r : reqs) {
    if (r.type != "volume") continue;
    std::string shown = r.source.empty() ? "<anonymous>" : r.source;
    // 400, not Docker's 404: a 404 from create makes the docker CLI pull the image and retry.
    if (!r.driver.empty() && r.driver != "local")
      return absl::InvalidArgumentError(UnknownDriver(shown, r.driver).message());
    if (!r.source.empty())
      if (Status st = ValidVolumeName(r.source); !st.ok()) return OpError("create", r.source, st);
    if (!r.driver_opts.empty()) RETURN_IF_ERROR(CheckLocalOptions(shown, r.driver_opts));
  }
  if (!hc.volume_driver.empty() && hc.volume_driver != "local")
    return absl::InvalidArgumentError(UnknownDriver("<anonymous>", hc.volume_driver).message());
  absl::MutexLock op(&op_mu_);
  std::vector<ContainerMount> out;
  std::vector<std::string> made;
  auto undo = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (const std::string& n : made) (void)RemoveLocked(n);
  };
  for (const MountRequest& r : reqs) {
    ContainerMount m;
    m.point.type = r.type;
    m.point.destination = r.destination;
    m.point.mode = r.mode;
    m.point.rw = r.rw;
    m.point.propagation = r.propagation;
    m.create_source = r.create_source;
    m.tmpfs_options = r.tmpfs_options;
    if (r.type == "bind") m.point.source = r.source;
    if (r.type == "volume") {
      bool existed = false;
      if (!r.source.empty()) {
        StateLock l(mu_);
        existed = volumes_.count(r.source) > 0;
      }
      VolumeCreateRequest vr;
      vr.name = r.source;
      if (!r.labels.empty()) vr.labels = r.labels;
      if (!r.driver_opts.empty()) vr.driver_opts = r.driver_opts;
      auto v = CreateLocked(vr);
      if (!v.ok()) {
        undo();
        return v.status();
      }
      if (!existed) made.push_back(v->name);
      m.point.name = v->name;
      m.point.source = v->mountpoint;
      m.point.driver = v->driver;
      m.copy_data = r.copy_data;
      m.anonymous = r.source.empty();
    }
    out.push_back(std::move(m));
  }
  if (!out.empty()) {
    if (Status st = store_.Put("mounts", id, "", MountsDoc(out)); !st.ok()) {
      undo();
      return Annotate(st, "record mounts");
    }
  }
  StateLock l(mu_);
  if (!out.empty()) mounts_[id] = out;
  return out;
}

void VolumeStore::Detach(const std::string& id, bool remove_anonymous) {
  absl::MutexLock op(&op_mu_);
  UnmountLocked(id);
  std::vector<ContainerMount> ms;
  {
    StateLock l(mu_);
    auto it = mounts_.find(id);
    if (it == mounts_.end()) return;
    ms = it->second;
  }
  if (Status st = store_.Delete("mounts", id); !st.ok()) {
    spdlog::warn("container {}: forget mounts: {}", id, st.ToString());
    return;
  }
  {
    StateLock l(mu_);
    mounts_.erase(id);
  }
  if (!remove_anonymous) return;
  for (const ContainerMount& m : ms)
    if (m.point.type == "volume" && m.anonymous) {
      // In use by another container (--volumes-from): an implementation detail, not an error.
      Status st = RemoveLocked(m.point.name);
      if (!st.ok() && !absl::IsFailedPrecondition(st) && !absl::IsNotFound(st))
        spdlog::warn("container {}: remove volume {}: {}", id, m.point.name, st.ToString());
    }
}

std::vector<spec::MountPoint> VolumeStore::MountPoints(const std::string& id) {
  StateLock l(mu_);
  std::vector<spec::MountPoint> out;
  auto it = mounts_.find(id);
  if (it == mounts_.end()) return out;
  for (const ContainerMount& m : it->second) out.push_back(m.point);
  return out;
}

Status VolumeStore::MountVolume(const Volume& v) {
  if (!NeedsMount(v) || sys::MountedAt(v.mountpoint)) return absl::OkStatus();
  RETURN_IF_ERROR(sys::MkdirAll(v.mountpoint, 0755));
  std::string type = Opt(v, "type"), device = Opt(v, "device"), o = Opt(v, "o");
  Status st = sys::MountWithOptions(device, v.mountpoint, type, o);
  if (!st.ok())
    return absl::InternalError(absl::StrCat("error while mounting volume '", v.mountpoint,
                                            "': failed to mount local volume: ", st.message()));
  return absl::OkStatus();
}

StatusOr<StartMounts> VolumeStore::Mount(const std::string& id, const std::string& rootfs) {
  // A container's mounts are set at its create, which its own op lock orders before its starts:
  // one without any never waits for the store's op lock (another start's copy-up).
  {
    StateLock l(mu_);
    auto it = mounts_.find(id);
    if (it == mounts_.end() || it->second.empty()) return StartMounts{};
  }
  absl::MutexLock op(&op_mu_);
  std::vector<ContainerMount> ms;
  {
    StateLock l(mu_);
    auto it = mounts_.find(id);
    if (it != mounts_.end()) ms = it->second;
  }
  StartMounts out;
  auto fail = [&](Status st) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    UnmountLocked(id);
    return st;
  };
  for (const ContainerMount& m : ms) {
    const spec::MountPoint& p = m.point;
    if (p.type == "tmpfs") {
      auto opts = TmpfsOptions(m.tmpfs_options);
      if (!opts.ok()) return fail(opts.status());
      out.mounts.push_back({p.destination, "tmpfs", "tmpfs", *opts});
      continue;
    }
    std::string propagation = p.propagation.empty() ? "rprivate" : p.propagation;
    if (p.type == "bind") {
      if (!sys::Exists(p.source)) {
        if (!m.create_source)
          return fail(absl::InvalidArgumentError(
              "invalid mount config for type \"bind\": bind source path does not exist: " + p.source));
        if (Status st = sys::MkdirAll(p.source, 0755); !st.ok()) return fail(st);
      }
      // Docker: a shared (slave) mount needs a shared (shared or slave) source, and makes the
      // container's root shared (slave) so the mount's events reach it.
      bool shared = propagation == "shared" || propagation == "rshared";
      bool slave = propagation == "slave" || propagation == "rslave";
      if (shared || slave) {
        auto have = sys::PropagationOf(p.source);
        std::string point = sys::MountPointOf(p.source);
        if (shared && (!have.ok() || *have != "shared"))
          return fail(absl::InvalidArgumentError("path " + p.source + " is mounted on " + point +
                                                 " but it is not a shared mount."));
        if (slave && (!have.ok() || *have == "private"))
          return fail(absl::InvalidArgumentError("path " + p.source + " is mounted on " + point +
                                                 " but it is not a shared or slave mount."));
        if (shared) out.rootfs_propagation = "rshared";
        else if (out.rootfs_propagation.empty()) out.rootfs_propagation = "rslave";
      }
    } else {  // volume
      Volume v;
      {
        StateLock l(mu_);
        auto it = volumes_.find(p.name);
        if (it == volumes_.end())
          return fail(absl::NotFoundError("get " + p.name + ": no such volume"));
        v = it->second;
      }
      if (Status st = MountVolume(v); !st.ok()) return fail(st);
      {
        StateLock l(mu_);
        active_[v.name].insert(id);
      }
      // Copy-up: an empty volume over a directory of the image gets its content.
      std::string from = rootfs + p.destination;
      struct stat st;
      if (m.copy_data && ::stat(from.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
          sys::DirEmpty(v.mountpoint) && !sys::DirEmpty(from)) {
        Status cs = sys::CopyTree(from, v.mountpoint);
        if (cs.ok() && (::chown(v.mountpoint.c_str(), st.st_uid, st.st_gid) != 0 ||
                        ::chmod(v.mountpoint.c_str(), st.st_mode & 07777) != 0))
          cs = ErrnoStatus(errno, "copy ownership to " + v.mountpoint);
        if (!cs.ok()) return fail(Annotate(cs, "copy image content into volume " + v.name));
      }
    }
    out.mounts.push_back({p.destination, "bind", p.source,
                          {"rbind", p.rw ? "rw" : "ro", propagation}});
  }
  return out;
}

void VolumeStore::UnmountLocked(const std::string& id) {
  std::vector<Volume> idle;
  {
    StateLock l(mu_);
    for (auto it = active_.begin(); it != active_.end();) {
      if (it->second.erase(id) && it->second.empty()) {
        if (auto v = volumes_.find(it->first); v != volumes_.end()) idle.push_back(v->second);
        it = active_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const Volume& v : idle)
    if (NeedsMount(v)) {
      Status st = sys::Unmount(v.mountpoint);
      if (!st.ok()) spdlog::warn("volume {}: unmount: {}", v.name, st.ToString());
    }
}

void VolumeStore::Unmount(const std::string& id) {
  absl::MutexLock op(&op_mu_);
  UnmountLocked(id);
}

}  // namespace berth::engine
