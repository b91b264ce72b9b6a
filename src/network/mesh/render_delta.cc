// Model -> Model as a small transaction: what a task starting or stopping changes (one service's
// map and, when its backend count changed, its chains), instead of the whole table. Built from the
// same Plan and rule text as Render (plan.h), so what it writes is Render's own text.

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "network/mesh/mesh.h"
#include "network/mesh/plan.h"

namespace berth::network::mesh {
namespace {

// `delete element` for what leaves a set, `add element` for what comes: a linear walk of the two
// sorted address lists.
void DiffSet(const std::string& set, const std::vector<uint32_t>& from, const std::vector<uint32_t>& to,
             std::string* deletes, std::string* adds) {
  std::vector<uint32_t> gone, come;
  std::set_difference(from.begin(), from.end(), to.begin(), to.end(), std::back_inserter(gone));
  std::set_difference(to.begin(), to.end(), from.begin(), from.end(), std::back_inserter(come));
  if (!gone.empty())
    absl::StrAppend(deletes, "delete element ip ", kTableName, " ", set, " { ", internal::AddressElements(gone), " }\n");
  if (!come.empty())
    absl::StrAppend(adds, "add element ip ", kTableName, " ", set, " { ", internal::AddressElements(come), " }\n");
}

}  // namespace

std::optional<std::string> RenderDelta(const Model& from, const Model& to) {
  return internal::RenderPlanDelta(internal::MakePlan(from), internal::MakePlan(to));
}

namespace internal {

std::optional<std::string> RenderPlanDelta(const Plan& a, const Plan& b) {
  if (a.ingress != b.ingress || a.snat_address != b.snat_address || a.hairpin_subnets != b.hairpin_subnets ||
      a.services.size() != b.services.size())
    return std::nullopt;
  for (size_t i = 0; i < a.services.size(); ++i)
    if (!a.services[i].SameShape(b.services[i])) return std::nullopt;

  std::string out;
  // A service's map is refilled whole (a flush and one add: numbers shift when a backend in the
  // middle leaves), and when the count changed, its chains are written again with the new
  // `mod N`. The sets' stale elements go before the new ones come (an address may move from
  // remote to local).
  for (size_t i = 0; i < a.services.size(); ++i) {
    const internal::PlannedService &x = a.services[i], &y = b.services[i];
    if (x.backends == y.backends) continue;
    std::string map = internal::BackendMap(y.id);
    absl::StrAppend(&out, "flush map ip ", kTableName, " ", map, "\n");
    if (!y.backends.empty())
      absl::StrAppend(&out, "add element ip ", kTableName, " ", map, " { ", internal::BackendElements(y.backends),
                      " }\n");
    if (x.backends.size() == y.backends.size()) continue;
    auto rewrite = [&out](const std::string& chain, const std::vector<std::string>& rules) {
      absl::StrAppend(&out, "flush chain ip ", kTableName, " ", chain, "\n");
      for (const std::string& r : rules) absl::StrAppend(&out, "add rule ip ", kTableName, " ", chain, " ", r, "\n");
    };
    if (!y.vip.empty()) rewrite(internal::VipChain(y.id), internal::VipRules(y));
    for (const internal::PlannedPort& p : y.ports) rewrite(internal::PortChain(y.id, p), internal::PortRules(y, p));
  }
  if (b.ingress) {
    std::string deletes, adds;
    DiffSet("backends", a.backends, b.backends, &deletes, &adds);
    DiffSet("remote_backends", a.remote_backends, b.remote_backends, &deletes, &adds);
    out += deletes + adds;
  }
  return out;
}

}  // namespace internal
}  // namespace berth::network::mesh
