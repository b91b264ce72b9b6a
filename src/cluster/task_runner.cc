// Placeholder until the task runner lands (issue 11).
#include "cluster/task_runner.h"

namespace berth::cluster {
class TaskRunner::Impl {};
StatusOr<std::unique_ptr<TaskRunner>> TaskRunner::Create(TaskRunnerConfig) {
  return Status(absl::StatusCode::kUnimplemented, "task runner: not yet");
}
TaskRunner::TaskRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TaskRunner::~TaskRunner() = default;
Status TaskRunner::Start() { return absl::OkStatus(); }
void TaskRunner::Stop() {}
void TaskRunner::Assign(std::vector<TaskAssignment>) {}
std::vector<TaskStatusUpdate> TaskRunner::Statuses() const { return {}; }
void TaskRunner::RemoveAll() {}
}  // namespace berth::cluster
