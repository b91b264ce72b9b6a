#pragma once
// Exec requests as Docker's JSON.

#include <string_view>

#include "common/status.h"
#include "nlohmann/json.hpp"
#include "spec/exec.h"

namespace berth::spec {

// POST /containers/{id}/exec: an empty body is "got EOF while reading request body", no Cmd
// is "No exec command specified" (Docker 20.10's route).
StatusOr<ExecConfig> ParseExecConfig(std::string_view body);
// POST /exec/{id}/start.
StatusOr<ExecStartCheck> ParseExecStart(std::string_view body);

nlohmann::ordered_json RenderExecConfig(const ExecConfig& config);
nlohmann::ordered_json RenderExecStart(const ExecStartCheck& start);

}  // namespace berth::spec
