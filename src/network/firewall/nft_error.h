#pragma once
// nft's error text as a status, shared by the Firewall implementations of this directory.

#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace berth::network::firewall {

// "<who>: <nft's text>"; PermissionDenied when the kernel refused for want of privileges.
inline Status NftError(std::string_view who, const std::string& err) {
  std::string msg = absl::StrCat(Av(who), ": ", err);
  if (absl::StrContains(err, "Operation not permitted"))
    return absl::PermissionDeniedError(msg + " (berthd needs CAP_NET_ADMIN)");
  return absl::InternalError(msg);
}

}  // namespace berth::network::firewall
