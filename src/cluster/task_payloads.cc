#include "cluster/task_payloads.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd.h"
#include "sys/fs.h"
#include "sys/mount_ops.h"
#include "sys/mounts.h"

namespace berth::cluster {
namespace {

class TmpfsPayloadStore : public PayloadStore {
 public:
  Status Mount(const std::string& dir) override {
    RETURN_IF_ERROR(sys::MkdirAll(dir, 0700));
    if (sys::MountedAt(dir)) return absl::OkStatus();
    return Annotate(sys::MountWithOptions("tmpfs", dir, "tmpfs", "nodev,nosuid,noexec,mode=0700"),
                    "mount the task's secrets tmpfs");
  }

  Status Write(const PayloadFile& f) override {
    std::string parent = f.path.substr(0, f.path.rfind('/'));
    RETURN_IF_ERROR(sys::MkdirAll(parent, 0700));
    UniqueFd fd(::open(f.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoStatus(errno, "create " + f.path);
    size_t done = 0;
    while (done < f.data.size()) {
      ssize_t n = ::write(fd.get(), f.data.data() + done, f.data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus(errno, "write " + f.path);
      done += static_cast<size_t>(n);
    }
    // Owner first: fchown clears the set-id bits a mode may carry.
    if (::fchown(fd.get(), f.uid, f.gid) != 0) return ErrnoStatus(errno, "chown " + f.path);
    if (::fchmod(fd.get(), f.mode & 07777) != 0) return ErrnoStatus(errno, "chmod " + f.path);
    return absl::OkStatus();
  }

  Status Remove(const std::string& dir) override {
    if (!sys::Exists(dir)) return absl::OkStatus();
    RETURN_IF_ERROR(sys::Unmount(dir));
    return sys::RemoveAll(dir);
  }
};

}  // namespace

std::unique_ptr<PayloadStore> NewTmpfsPayloadStore() { return std::make_unique<TmpfsPayloadStore>(); }

}  // namespace berth::cluster
