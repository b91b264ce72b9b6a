#include "cli/service_progress.h"

#include <map>
#include <memory>
#include <set>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace berth::cli {
namespace {

using nlohmann::json;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kPollInterval = 200'000'000;
constexpr uint64_t kMaxProgressBars = 20;
constexpr int64_t kMaxProgress = 9;
// The longest state a progress line shows ("allocated", "preparing"): the width they pad to.
constexpr int kLongestState = 9;

// The task states in their order; 0 for the others (remove, orphaned), which are skipped.
int64_t StateNumber(const std::string& s) {
  static const std::map<std::string, int64_t> kNumbers = {
      {"new", 1},     {"allocated", 2}, {"pending", 3},   {"assigned", 4},  {"accepted", 5},
      {"preparing", 6}, {"ready", 7},   {"starting", 8},  {"running", 9},   {"complete", 10},
      {"shutdown", 11}, {"failed", 12}, {"rejected", 13}};
  auto it = kNumbers.find(s);
  return it == kNumbers.end() ? 0 : it->second;
}

bool Terminal(const std::string& state) { return StateNumber(state) > StateNumber("running"); }

// streamformatter's WriteProgress of an action: a progress message (progressDetail present,
// zero counts when there is no bar).
json Progress(const std::string& id, const std::string& action, int64_t current = 0,
              int64_t total = 0, bool hide_counts = false) {
  json detail = json::object();
  if (current != 0) detail["current"] = current;
  if (total != 0) detail["total"] = total;
  if (hide_counts) detail["hidecounts"] = true;
  return json{{"status", action}, {"progressDetail", detail}, {"id", id}};
}

// WriteProgress with a Message: a plain status line.
json Message(const std::string& id, const std::string& message) {
  json j = {{"status", message}};
  if (!id.empty()) j["id"] = id;
  return j;
}

std::string PadState(const std::string& state) {
  std::string s = state;
  if (s.size() < kLongestState) s.append(kLongestState - s.size(), ' ');
  return s;
}

// truncError: one line, at most 75 bytes ending in "…".
std::string TruncError(std::string err) {
  err = absl::StrReplaceAll(err, {{"\n", " "}});
  if (err.size() > 75) err = err.substr(0, 74) + "…";
  return err;
}

void WriteOverall(const std::function<void(const json&)>& emit, uint64_t n, uint64_t d,
                  bool rollback) {
  emit(Progress("overall progress",
                rollback ? absl::StrCat("rolling back update: ", n, " out of ", d, " tasks")
                         : absl::StrCat(n, " out of ", d, " tasks")));
}

// Which task stands for a slot (or a node): the lowest desired state, then the lowest state.
bool Replaces(const spec::Task& existing, const spec::Task& t) {
  int64_t ed = StateNumber(existing.desired_state), td = StateNumber(t.desired_state);
  if (ed < td) return false;
  if (ed == td && StateNumber(existing.status.state) <= StateNumber(t.status.state)) return false;
  return true;
}

class Updater {
 public:
  virtual ~Updater() = default;
  virtual StatusOr<bool> Update(const spec::Service& s, const std::vector<spec::Task>& tasks,
                                const std::set<std::string>& active, bool rollback) = 0;
};

class ReplicatedUpdater : public Updater {
 public:
  explicit ReplicatedUpdater(std::function<void(const json&)> emit) : emit_(std::move(emit)) {}

  StatusOr<bool> Update(const spec::Service& s, const std::vector<spec::Task>& tasks,
                        const std::set<std::string>& active, bool rollback) override {
    if (!s.spec.mode.replicated || !s.spec.mode.replicas) {
      return absl::FailedPreconditionError("no replica count");
    }
    uint64_t replicas = *s.spec.mode.replicas;
    if (!initialized_) {
      WriteOverall(emit_, 0, replicas, rollback);
      if (replicas <= kMaxProgressBars) {
        for (uint64_t i = 1; i <= replicas; ++i) {
          emit_(Progress(absl::StrCat(i, "/", replicas), " "));
        }
      }
      initialized_ = true;
    }
    std::map<int64_t, spec::Task> by_slot;
    for (const auto& t : tasks) {
      if (StateNumber(t.desired_state) == 0 || StateNumber(t.status.state) == 0) continue;
      auto it = by_slot.find(t.slot);
      if (it != by_slot.end() && !Replaces(it->second, t)) continue;
      if (!t.node_id.empty() && !active.count(t.node_id)) continue;
      by_slot[t.slot] = t;
    }
    if (done_) {
      for (const auto& [_, t] : by_slot) {
        if (t.status.state != "running") {
          done_ = false;
          break;
        }
      }
    }
    uint64_t running = 0;
    // Go ranges over a map here (random order); slots in order give the same lines.
    for (const auto& [slot, t] : by_slot) {
      int64_t& mapped = slot_map_[slot];
      if (mapped == 0) mapped = static_cast<int64_t>(slot_map_.size());
      if (!Terminal(t.desired_state) && t.status.state == "running") ++running;
      WriteTask(t, mapped, replicas);
    }
    if (!done_) {
      WriteOverall(emit_, running, replicas, rollback);
      if (running == replicas) done_ = true;
    }
    return running == replicas;
  }

 private:
  void WriteTask(const spec::Task& t, int64_t mapped, uint64_t replicas) {
    if (done_ || replicas > kMaxProgressBars || static_cast<uint64_t>(mapped) > replicas) return;
    std::string id = absl::StrCat(mapped, "/", replicas);
    if (!t.status.err.empty()) {
      emit_(Progress(id, TruncError(t.status.err)));
      return;
    }
    if (!Terminal(t.desired_state) && !Terminal(t.status.state)) {
      emit_(Progress(id, PadState(t.status.state), StateNumber(t.status.state), kMaxProgress, true));
    }
  }

  std::function<void(const json&)> emit_;
  std::map<int64_t, int64_t> slot_map_;
  bool initialized_ = false;
  bool done_ = false;
};

class GlobalUpdater : public Updater {
 public:
  explicit GlobalUpdater(std::function<void(const json&)> emit) : emit_(std::move(emit)) {}

  StatusOr<bool> Update(const spec::Service&, const std::vector<spec::Task>& tasks,
                        const std::set<std::string>& active, bool rollback) override {
    std::map<std::string, spec::Task> by_node;
    for (const auto& t : tasks) {
      if (StateNumber(t.desired_state) == 0 || StateNumber(t.status.state) == 0) continue;
      auto it = by_node.find(t.node_id);
      if (it != by_node.end() && !Replaces(it->second, t)) continue;
      by_node[t.node_id] = t;
    }
    uint64_t node_count = by_node.size();
    if (!initialized_) {
      if (node_count == 0) {
        // No task yet: the orchestrator has not made them, or no node fits.
        emit_(Progress("overall progress", "waiting for new tasks"));
        return false;
      }
      WriteOverall(emit_, 0, node_count, rollback);
      initialized_ = true;
    }
    if (done_) {
      for (const auto& [_, t] : by_node) {
        if (t.status.state != "running") {
          done_ = false;
          break;
        }
      }
    }
    uint64_t running = 0;
    for (const auto& [node, t] : by_node) {
      if (!active.count(node)) continue;
      if (!Terminal(t.desired_state) && t.status.state == "running") ++running;
      WriteTask(t, node_count);
    }
    if (!done_) {
      WriteOverall(emit_, running, node_count, rollback);
      if (running == node_count) done_ = true;
    }
    return running == node_count;
  }

 private:
  void WriteTask(const spec::Task& t, uint64_t node_count) {
    if (done_ || node_count > kMaxProgressBars) return;
    std::string id = t.node_id.substr(0, 12);
    if (!t.status.err.empty()) {
      emit_(Progress(id, TruncError(t.status.err)));
      return;
    }
    if (!Terminal(t.desired_state) && !Terminal(t.status.state)) {
      emit_(Progress(id, PadState(t.status.state), StateNumber(t.status.state), kMaxProgress, true));
    }
  }

  std::function<void(const json&)> emit_;
  bool initialized_ = false;
  bool done_ = false;
};

}  // namespace

Status WaitServiceProgress(ServiceProgressSource& source, const std::string& ref,
                           const ProgressClock& clock,
                           const std::function<void(const json&)>& emit) {
  std::unique_ptr<Updater> updater;
  bool converged = false;
  std::optional<int64_t> converged_at;
  int64_t monitor = 5 * kSecond;
  bool rollback = false;
  std::optional<json> message;
  while (true) {
    ASSIGN_OR_RETURN(spec::Service service, source.InspectService(ref));
    if (service.spec.update_config && service.spec.update_config->monitor != 0) {
      monitor = service.spec.update_config->monitor;
    }
    if (!updater) {
      if (service.spec.mode.replicated && service.spec.mode.replicas) {
        updater = std::make_unique<ReplicatedUpdater>(emit);
      } else if (service.spec.mode.global) {
        updater = std::make_unique<GlobalUpdater>(emit);
      } else {
        return absl::FailedPreconditionError("unrecognized service mode");
      }
    }
    if (service.update_status) {
      const spec::UpdateStatus& u = *service.update_status;
      if (u.state == spec::kUpdateUpdating) {
        rollback = false;
      } else if (u.state == spec::kUpdateCompleted) {
        if (!converged) return absl::OkStatus();
      } else if (u.state == spec::kUpdatePaused) {
        return absl::UnknownError("service update paused: " + u.message);
      } else if (u.state == spec::kUpdateRollbackStarted) {
        if (!rollback && !u.message.empty()) emit(Progress("rollback", u.message));
        rollback = true;
      } else if (u.state == spec::kUpdateRollbackPaused) {
        return absl::UnknownError("service rollback paused: " + u.message);
      } else if (u.state == spec::kUpdateRollbackCompleted) {
        if (!converged) message = Message("rollback", u.message);
        rollback = true;
      }
    }
    if (converged && clock.now() - *converged_at >= monitor) {
      emit(Progress("verify", absl::StrCat("Service ", ref, " converged")));
      if (message) emit(*message);
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(std::vector<spec::Task> tasks, source.UpToDateTasks(service.id));
    ASSIGN_OR_RETURN(std::set<std::string> active, source.ActiveNodes());
    ASSIGN_OR_RETURN(converged, updater->Update(service, tasks, active, rollback));
    if (converged) {
      if (!converged_at) converged_at = clock.now();
      int64_t wait = monitor - (clock.now() - *converged_at);
      if (wait >= 0) {
        emit(Progress("verify", absl::StrCat("Waiting ", wait / kSecond + 1,
                                             " seconds to verify that tasks are stable...")));
      }
    } else {
      if (converged_at) emit(Progress("verify", "Detected task failure"));
      converged_at.reset();
    }
    if (!clock.sleep(kPollInterval)) {
      if (!converged) {
        emit(Message("", "Operation continuing in background."));
        emit(Message("", "Use `docker service ps " + ref + "` to check progress."));
      }
      return absl::OkStatus();
    }
  }
}

}  // namespace berth::cli
