#include "spec/json/exec_json.h"

#include "spec/json/codecs.h"

namespace berth::spec {
namespace json {

const Codec<ExecConfig>& ExecConfigCodec() {
  using E = ExecConfig;
  static const auto* codec = new Codec<E>(Struct<E>(
      "ExecConfig", "types.ExecConfig",
      {Field("User", &E::user, String()), Field("Privileged", &E::privileged, Bool()),
       Field("Tty", &E::tty, Bool()), Field("AttachStdin", &E::attach_stdin, Bool()),
       Field("AttachStderr", &E::attach_stderr, Bool()),
       Field("AttachStdout", &E::attach_stdout, Bool()), Field("Detach", &E::detach, Bool()),
       Field("DetachKeys", &E::detach_keys, String()),
       Field("Env", &E::env, Optional(Slice(String()))),
       Field("WorkingDir", &E::working_dir, String()),
       Field("Cmd", &E::cmd, Optional(Slice(String()))),
       Field("ConsoleSize", &E::console_size, Optional(Array<uint64_t, 2>(Uint("uint"))), true)}));
  return *codec;
}

const Codec<ExecStartCheck>& ExecStartCheckCodec() {
  using E = ExecStartCheck;
  static const auto* codec = new Codec<E>(Struct<E>(
      "ExecStartCheck", "types.ExecStartCheck",
      {Field("Detach", &E::detach, Bool()), Field("Tty", &E::tty, Bool()),
       Field("ConsoleSize", &E::console_size, Optional(Array<uint64_t, 2>(Uint("uint"))), true)}));
  return *codec;
}

}  // namespace json

using json::Json;

namespace {
constexpr std::string_view kEofMessage = "got EOF while reading request body";
}  // namespace

StatusOr<ExecConfig> ParseExecConfig(std::string_view body) {
  ASSIGN_OR_RETURN(ExecConfig config, json::ParseRequestBody(body, json::ExecConfigCodec(), kEofMessage));
  if (OrEmpty(config.cmd).empty()) return absl::InvalidArgumentError("No exec command specified");
  return config;
}

StatusOr<ExecStartCheck> ParseExecStart(std::string_view body) {
  return json::ParseRequestBody(body, json::ExecStartCheckCodec(), kEofMessage);
}

Json RenderExecConfig(const ExecConfig& config) { return json::ExecConfigCodec().encode(config); }

Json RenderExecStart(const ExecStartCheck& start) { return json::ExecStartCheckCodec().encode(start); }

}  // namespace berth::spec
