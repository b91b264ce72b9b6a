// The Go-template engine behind `--format` (cli/format/template.h) on arbitrary template text,
// executed against fixed JSON values shaped like docker's (ps rows, inspect objects).
//
// Invariants:
//   - Parse and Execute either succeed or fail with InvalidArgument in Go's words ("template:
//     :LINE: ..." / "template: :LINE:COL: executing ..."); never Internal (the file says that
//     would be its own bug), never a crash, a hang or a stack overflow;
//   - a parsed Template is immutable: executing it twice gives the same result;
//   - an execution stops at its work limit: the output never grows past it;
//   - ExecuteTo appends: it keeps what the buffer held, and adds exactly Execute's output;
//   - RenderList (plain, "table", "json") succeeds or says "template parsing error: ...".
// libFuzzer's -timeout and -rss_limit_mb catch hangs and runaway memory.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/format/template.h"
#include "fuzz_check.h"

namespace berth::format {
namespace {

using json = nlohmann::json;

const json& Row() {
  static const json* j = new json(json::parse(R"({
    "ID": "3f4e8a1b2c3d", "Names": "web", "Image": "busybox", "Command": "\"sh -c 'echo hi'\"",
    "CreatedAt": "2024-05-01 10:00:00 +0000 UTC", "RunningFor": "2 minutes ago",
    "Status": "Up 2 minutes", "State": "running", "Ports": "0.0.0.0:8080->80/tcp",
    "Labels": "a=1,com.example.z=", "Mounts": "", "Networks": "bridge,testNetwork",
    "Size": "0B", "LocalVolumes": "0"})"));
  return *j;
}

const json& Inspect() {
  static const json* j = new json(json::parse(R"({
    "Id": "3f4e8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7",
    "Name": "/web", "RestartCount": 0, "Args": ["-c", "echo hi"],
    "State": {"Status": "running", "Running": true, "Paused": false, "Pid": 4242,
              "ExitCode": 0, "StartedAt": "2024-05-01T10:00:00.123456789Z", "Health": null},
    "Config": {"Hostname": "3f4e8a1b2c3d", "Env": ["PATH=/usr/bin:/bin", "WHO=berth"],
               "Cmd": ["sh", "-c", "echo hi"], "Labels": {"a": "1", "com.example.z": ""},
               "ExposedPorts": {"80/tcp": {}}, "Volumes": null, "Tty": false},
    "HostConfig": {"Memory": 0, "CpuShares": 512, "NanoCpus": 1500000000,
                   "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                   "Dns": [], "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}},
    "NetworkSettings": {"Networks": {
        "bridge": {"IPAddress": "172.17.0.2", "IPPrefixLen": 16, "Aliases": null,
                   "MacAddress": "02:42:ac:11:00:02"},
        "testNetwork": {"IPAddress": "172.18.0.3", "IPPrefixLen": 16, "Aliases": ["web", "w"]}}},
    "Numbers": [0, -1, 1.5, 1e21, 1e-7, 18446744073709551615, -9223372036854775808, 255],
    "Text": "h\u00e9llo \u2028 \u2713 <b>&'\"", "Empty": "", "Null": null, "True": true,
    "Nested": [[1, [2, [3]]], {"k": {"k": {"k": "deep"}}}]})"));
  return *j;
}

std::string Show(std::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(s.data(), s.size())), "\"");
}

void CheckError(const absl::Status& s, absl::string_view prefix, std::string_view text) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument,
             absl::StrCat(s.ToString(), " for ", Show(text)));
  FUZZ_CHECK(absl::StartsWith(s.message(), prefix),
             absl::StrCat("message ", Show(std::string(s.message())), " for ", Show(text)));
}

// Small enough that every input runs in milliseconds; the default (kDefaultWorkLimit) has the
// same code paths, only later.
constexpr uint64_t kWorkLimit = 1 << 16;

absl::StatusOr<std::string> Run(const Template& t, const json& dot,
                                Template::Functions f = Template::Functions::kNormal) {
  std::string out;
  absl::Status s = t.ExecuteTo(dot, &out, f, kWorkLimit);
  FUZZ_CHECK(out.size() <= kWorkLimit, "output beyond the work limit");
  if (!s.ok()) return s;
  return out;
}

void CheckExecute(const Template& t, const json& dot, std::string_view text) {
  absl::StatusOr<std::string> a = Run(t, dot);
  absl::StatusOr<std::string> b = Run(t, dot);
  FUZZ_CHECK(a.status() == b.status(), "two executions differ: " + Show(text));
  if (!a.ok()) {
    CheckError(a.status(), "template: :", text);
  } else {
    FUZZ_CHECK(*a == *b, "two executions differ: " + Show(text));
  }
  std::string out = "kept>";
  absl::Status s = t.ExecuteTo(dot, &out, Template::Functions::kNormal, kWorkLimit);
  FUZZ_CHECK(s == a.status(), "ExecuteTo and Execute differ: " + Show(text));
  FUZZ_CHECK(absl::StartsWith(out, "kept>"), "ExecuteTo dropped the buffer: " + Show(text));
  if (a.ok()) FUZZ_CHECK(out == "kept>" + *a, "ExecuteTo's output: " + Show(text));

  absl::StatusOr<std::string> h = Run(t, dot, Template::Functions::kHeader);
  if (!h.ok()) CheckError(h.status(), "template: :", text);
}

}  // namespace
}  // namespace berth::format

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::format;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<Template> t = Template::Parse(text);
  if (!t.ok()) {
    CheckError(t.status(), "template: :", text);
  } else {
    CheckExecute(*t, Inspect(), text);
    CheckExecute(*t, Row(), text);
    CheckExecute(*t, json(nullptr), text);
    CheckExecute(*t, json::array({1, "two", nullptr}), text);
  }

  static const json header = {{"ID", "CONTAINER ID"}, {"Names", "NAMES"}, {"Status", "STATUS"}};
  std::vector<json> items = {Row(), json::object({{"Names", "db"}}), json(nullptr)};
  for (const std::string& format : {std::string(text), "table " + std::string(text)}) {
    absl::StatusOr<std::string> out = RenderList(format, header, items, kWorkLimit);
    if (!out.ok()) CheckError(out.status(), "template parsing error: template: :", format);
  }
  return 0;
}
