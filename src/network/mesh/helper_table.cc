// Table over berth-nft (NftChannel) in one namespace: deltas while only backends change, the
// whole table otherwise.
//
// Locks: mu_ is the table's operation lock (common/sync.h), held for a whole Apply: a delta is
// computed against what the previous call left in the kernel, so calls must not overlap. Nothing
// else takes it, and it is never taken with a state lock held (CheckNoStateLock). The channel's
// own mutex is the resource lock under it.

#include <fcntl.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/fd.h"
#include "common/sync.h"
#include "network/mesh/mesh.h"
#include "network/mesh/nft_channel.h"
#include "network/mesh/plan.h"
#include "spdlog/spdlog.h"

namespace berth::network::mesh {
namespace {

// What Check dry-runs: every kind of rule Render writes (a VIP, a published port, both SNATs and
// the reject), so a kernel without numgen, interval maps, fib or reject in NAT chains says so.
Model CheckModel() {
  Model m;
  Service s;
  s.id = "check";
  s.vip = "10.255.255.2";
  s.ports.push_back({"tcp", 65535, 80, "ingress"});
  s.ports.push_back({"udp", 65535, 53, "ingress"});
  s.backends = {{"10.255.255.3", true}, {"10.255.255.4", false}};
  m.services.push_back(s);
  m.ingress = Ingress{"10.255.255.1", {"10.255.254.0/24"}};
  return m;
}

class HelperTable final : public Table {
 public:
  HelperTable(std::string helper, UniqueFd netns, bool keep_helper)
      : channel_(std::move(helper), std::move(netns)), keep_helper_(keep_helper) {}

  Status Apply(const Model& m) override {
    CheckNoStateLock("mesh::Table::Apply");
    RETURN_IF_ERROR(Validate(m));
    absl::MutexLock lock(&mu_);
    Status st = ApplyLocked(m);
    if (!keep_helper_) channel_.Stop();
    return Annotate(st, "apply table ip berth-mesh");
  }

  Status Remove() override {
    CheckNoStateLock("mesh::Table::Remove");
    absl::MutexLock lock(&mu_);
    in_kernel_.reset();
    Status st = channel_.Apply(RenderDelete());
    if (!keep_helper_) channel_.Stop();
    return Annotate(st, "remove table ip berth-mesh");
  }

  Status Check() override {
    CheckNoStateLock("mesh::Table::Check");
    absl::MutexLock lock(&mu_);
    Status st = channel_.DryRun(Render(CheckModel()));
    if (!keep_helper_) channel_.Stop();
    return Annotate(st, "nftables check of the mesh table");
  }

  int HelperPid() override { return channel_.Pid(); }

 private:
  Status ApplyLocked(const Model& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    internal::Plan plan = internal::MakePlan(m);
    // The common change, a task coming or going, as element changes (and a service's chains).
    if (in_kernel_.has_value()) {
      if (std::optional<std::string> delta = internal::RenderPlanDelta(*in_kernel_, plan)) {
        if (delta->empty()) return absl::OkStatus();
        Status st = channel_.Apply(*delta);
        if (st.ok()) {
          in_kernel_ = std::move(plan);
          return st;
        }
        // Not the table we made last (changed behind our back, or the repeat of a delta that
        // went through just before the helper died): replace it whole.
        spdlog::info("mesh: element update refused, replacing the table whole: {}", std::string(st.message()));
      }
    }
    in_kernel_.reset();
    Status st = channel_.Apply(internal::RenderPlan(plan));
    if (st.ok()) in_kernel_ = std::move(plan);
    return st;
  }

  NftChannel channel_;
  const bool keep_helper_;
  absl::Mutex mu_;
  // The plan of the last transaction that went through, so the next can be a delta. Unknown
  // (nullopt) at first, after Remove and after any failure.
  std::optional<internal::Plan> in_kernel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

StatusOr<std::unique_ptr<Table>> NewHelperTable(const TableOptions& opts) {
  // The namespace is opened now, once: the helper joins this very namespace whenever (and from
  // whichever thread) it is started, even if the path is later bound to another.
  std::string path = opts.netns_path.empty() ? "/proc/thread-self/ns/net" : opts.netns_path;
  UniqueFd netns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns.valid()) return Annotate(ErrnoStatus(errno, "open"), "mesh table: network namespace " + path);
  return std::unique_ptr<Table>(std::make_unique<HelperTable>(opts.helper_path, std::move(netns), opts.keep_helper));
}

}  // namespace berth::network::mesh
