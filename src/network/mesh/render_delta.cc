// Model -> Model as element changes: what a task starting or stopping changes, in one small
// transaction instead of the whole table. Built from the same Plan as Render (plan.h), so the
// elements are Render's own text.

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "network/mesh/mesh.h"
#include "network/mesh/plan.h"

namespace berth::network::mesh {
namespace {

// `delete element` for what leaves a set, `add element` for what comes, in the Plan's (numeric)
// order: it does not matter to nft, only to the golden tests.
void DiffSet(const std::string& set, const std::vector<std::string>& from, const std::vector<std::string>& to,
             std::string* deletes, std::string* adds) {
  std::set<std::string> in_from(from.begin(), from.end()), in_to(to.begin(), to.end());
  std::vector<std::string> gone, come;
  for (const std::string& e : from)
    if (!in_to.count(e)) gone.push_back(e);
  for (const std::string& e : to)
    if (!in_from.count(e)) come.push_back(e);
  if (!gone.empty())
    absl::StrAppend(deletes, "delete element ip ", kTableName, " ", set, " { ", absl::StrJoin(gone, ", "), " }\n");
  if (!come.empty())
    absl::StrAppend(adds, "add element ip ", kTableName, " ", set, " { ", absl::StrJoin(come, ", "), " }\n");
}

}  // namespace

std::optional<std::string> RenderDelta(const Model& from, const Model& to) {
  internal::Plan a = internal::MakePlan(from), b = internal::MakePlan(to);
  if (a.ingress != b.ingress || a.snat_address != b.snat_address || a.hairpin_subnets != b.hairpin_subnets ||
      a.services.size() != b.services.size())
    return std::nullopt;
  for (size_t i = 0; i < a.services.size(); ++i)
    if (!a.services[i].SameShape(b.services[i])) return std::nullopt;

  std::string out;
  // Every range of a service's map moves when its backend count changes, so the map is refilled
  // whole: a flush and one add, a few dozen bytes per backend. The sets' stale elements go before
  // the new ones come (an address may move from remote to local).
  for (size_t i = 0; i < a.services.size(); ++i) {
    const internal::PlannedService &x = a.services[i], &y = b.services[i];
    if (x.backends == y.backends) continue;
    std::string map = internal::BackendMap(y.id);
    absl::StrAppend(&out, "flush map ip ", kTableName, " ", map, "\n");
    if (!y.backends.empty())
      absl::StrAppend(&out, "add element ip ", kTableName, " ", map, " { ", internal::BackendElements(y.backends),
                      " }\n");
  }
  if (b.ingress) {
    std::string deletes, adds;
    DiffSet("backends", a.backends, b.backends, &deletes, &adds);
    DiffSet("remote_backends", a.remote_backends, b.remote_backends, &deletes, &adds);
    out += deletes + adds;
  }
  return out;
}

}  // namespace berth::network::mesh
