#include "common/status.h"

#include <cerrno>
#include <cstring>

namespace berth {

Status ErrnoStatus(int err, std::string_view what) {
  std::string msg = absl::StrCat(Av(what), ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ESRCH:
    case ENODEV:
      return absl::NotFoundError(msg);
    case EEXIST:
    case EADDRINUSE:
    case EBUSY:
      return absl::AlreadyExistsError(msg);
    case EINVAL:
    case ERANGE:
      return absl::InvalidArgumentError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    case EOPNOTSUPP:
      return absl::UnimplementedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace berth
