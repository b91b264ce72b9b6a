#include "sys/cgroups.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sys/fs.h"

namespace berth::sys {
namespace {

constexpr uint64_t kNsPerSec = 1000000000;
constexpr uint64_t kNsPerUsec = 1000;
// v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes, which depends on the page size
// (9223372036854771712 with 4 KiB pages); no machine has 2^62 bytes, so anything from there up is
// none.
constexpr uint64_t kV1Unlimited = uint64_t{1} << 62;

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(absl::string_view s) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Super options of a v1 cgroup mount that are flags, not controllers.
bool IsCgroupFlag(absl::string_view opt) {
  static const std::set<absl::string_view> kFlags = {
      "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods"};
  if (kFlags.count(opt)) return true;
  // release_agent=..., but not name=... which names a hierarchy.
  return opt.find('=') != absl::string_view::npos && !absl::StartsWith(opt, "name=");
}

// A path that must name a cgroup below a hierarchy's root: absolute, no "." or "..".
Status CheckCgroupPath(std::string_view path) {
  if (path.empty() || path[0] != '/')
    return absl::InvalidArgumentError(
        absl::StrCat("cgroup path \"", Av(path), "\" is not absolute"));
  for (absl::string_view part : absl::StrSplit(Av(path), '/')) {
    if (part == "." || part == "..")
      return absl::InvalidArgumentError(
          absl::StrCat("cgroup path \"", Av(path), "\" has a \"", part, "\" part"));
  }
  return absl::OkStatus();
}

// "/a//b/" -> "/a/b"; "/" -> "".
std::string CleanPath(std::string_view path) {
  std::string out;
  for (absl::string_view part : absl::StrSplit(Av(path), '/', absl::SkipEmpty()))
    absl::StrAppend(&out, "/", part);
  return out;
}

// A path from /proc/<pid>/cgroup made relative to the part of the hierarchy a mount shows; nullopt
// when the cgroup lies outside it.
std::optional<std::string> BelowRoot(const std::string& path, const std::string& root) {
  std::string p = CleanPath(path), r = CleanPath(root);
  if (r.empty()) return p;
  if (p == r) return std::string();
  if (absl::StartsWith(p, r + "/")) return p.substr(r.size());
  return std::nullopt;
}

// The file's text, nullopt when it is not there (this host or cgroup lacks the controller, or the
// cgroup went away: ENODEV is what a removed cgroup's open files answer).
StatusOr<std::optional<std::string>> ReadIfPresent(const std::string& path) {
  auto text = ReadFile(path);
  if (text.ok()) return std::optional<std::string>(std::move(*text));
  if (absl::IsNotFound(text.status())) return std::optional<std::string>();
  return text.status();
}

Status Malformed(const std::string& path, std::string_view why) {
  return absl::InternalError(absl::StrCat("cgroup file ", path, ": ", Av(why)));
}

StatusOr<uint64_t> ParseU64(std::string_view text, const std::string& path) {
  absl::string_view t = absl::StripAsciiWhitespace(Av(text));
  uint64_t v;
  if (t.empty() || t[0] == '+' || t[0] == '-' || !absl::SimpleAtoi(t, &v))
    return Malformed(path, absl::StrCat("\"", t, "\" is not a number"));
  return v;
}

// "max" means no limit; so does v1 memory's page-counter maximum (v1_memory).
StatusOr<std::optional<uint64_t>> ParseLimit(std::string_view text, const std::string& path,
                                             bool v1_memory) {
  if (absl::StripAsciiWhitespace(Av(text)) == "max") return std::optional<uint64_t>();
  ASSIGN_OR_RETURN(uint64_t n, ParseU64(text, path));
  if (v1_memory && n >= kV1Unlimited) return std::optional<uint64_t>();
  return std::optional<uint64_t>(n);
}

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events).
StatusOr<std::map<std::string, uint64_t>> ParseFlatKeyed(std::string_view text,
                                                         const std::string& path) {
  std::map<std::string, uint64_t> out;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(Av(text), '\n')) {
    ++n;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t v;
    if (f.size() != 2 || f[1][0] == '-' || f[1][0] == '+' || !absl::SimpleAtoi(f[1], &v))
      return Malformed(path, absl::StrCat("line ", n, " \"", line, "\" is not \"key number\""));
    out[std::string(f[0])] = v;
  }
  return out;
}

StatusOr<std::pair<uint32_t, uint32_t>> ParseDevice(absl::string_view dev,
                                                    const std::string& path) {
  std::vector<absl::string_view> mm = absl::StrSplit(dev, ':');
  uint32_t major, minor;
  if (mm.size() != 2 || !absl::SimpleAtoi(mm[0], &major) || !absl::SimpleAtoi(mm[1], &minor))
    return Malformed(path, absl::StrCat("\"", dev, "\" is not a major:minor device"));
  return std::make_pair(major, minor);
}

// v1 blkio.throttle.io_service_bytes_recursive: "8:0 Read 4096" lines and a closing "Total N".
StatusOr<CgroupBlkioStats> ParseBlkioV1(std::string_view text, const std::string& path) {
  CgroupBlkioStats out;
  out.version = CgroupVersion::kV1;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(Av(text), '\n')) {
    ++n;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.empty()) continue;
    if (f.size() == 2 && f[0] == "Total") continue;  // the sum over devices, not a device
    CgroupBlkioEntry e;
    if (f.size() != 3 || f[2][0] == '-' || !absl::SimpleAtoi(f[2], &e.value))
      return Malformed(path,
                       absl::StrCat("line ", n, " \"", line, "\" is not \"major:minor op bytes\""));
    ASSIGN_OR_RETURN(auto dev, ParseDevice(f[0], path));
    e.major = dev.first;
    e.minor = dev.second;
    e.op = std::string(f[1]);
    if (e.op == "Read") out.read_bytes += e.value;
    if (e.op == "Write") out.write_bytes += e.value;
    out.service_bytes.push_back(std::move(e));
  }
  return out;
}

// v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device.
StatusOr<CgroupBlkioStats> ParseIoStatV2(std::string_view text, const std::string& path) {
  CgroupBlkioStats out;
  out.version = CgroupVersion::kV2;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(Av(text), '\n')) {
    ++n;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.empty()) continue;
    ASSIGN_OR_RETURN(auto dev, ParseDevice(f[0], path));
    std::optional<uint64_t> rbytes, wbytes;
    for (size_t i = 1; i < f.size(); ++i) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(f[i], absl::MaxSplits('=', 1));
      uint64_t v;
      if (kv.first.empty() || kv.second.empty() || kv.second[0] == '-' ||
          !absl::SimpleAtoi(kv.second, &v))
        return Malformed(path, absl::StrCat("line ", n, ": \"", f[i], "\" is not key=number"));
      if (kv.first == "rbytes") rbytes = v;
      if (kv.first == "wbytes") wbytes = v;
    }
    // moby turns each device into a "read" and a "write" entry.
    out.service_bytes.push_back({dev.first, dev.second, "read", rbytes.value_or(0)});
    out.service_bytes.push_back({dev.first, dev.second, "write", wbytes.value_or(0)});
    out.read_bytes += rbytes.value_or(0);
    out.write_bytes += wbytes.value_or(0);
  }
  return out;
}

// One cgroup file: its path, and its text when it is there.
struct File {
  std::string path;
  std::optional<std::string> text;
  explicit operator bool() const { return text.has_value(); }
};

// Reads files of one cgroup, remembering which were tried so that "nothing found" can name them.
class Reader {
 public:
  StatusOr<File> Read(const std::string& dir, std::string_view name) {
    File f{absl::StrCat(dir, "/", Av(name)), std::nullopt};
    tried_.push_back(f.path);
    ASSIGN_OR_RETURN(f.text, ReadIfPresent(f.path));
    return f;
  }
  const std::vector<std::string>& tried() const { return tried_; }

 private:
  std::vector<std::string> tried_;
};

std::optional<uint64_t> Key(const std::map<std::string, uint64_t>& kv, const char* key) {
  auto it = kv.find(key);
  if (it == kv.end()) return std::nullopt;
  return it->second;
}

StatusOr<std::optional<CgroupMemoryStats>> ReadMemory(Reader& r, const std::string& dir,
                                                      CgroupVersion v) {
  const bool v1 = v == CgroupVersion::kV1;
  ASSIGN_OR_RETURN(File usage, r.Read(dir, v1 ? "memory.usage_in_bytes" : "memory.current"));
  if (!usage) return std::optional<CgroupMemoryStats>();
  CgroupMemoryStats m;
  m.version = v;
  ASSIGN_OR_RETURN(m.usage, ParseU64(*usage.text, usage.path));
  ASSIGN_OR_RETURN(File limit, r.Read(dir, v1 ? "memory.limit_in_bytes" : "memory.max"));
  if (limit) {
    ASSIGN_OR_RETURN(m.limit, ParseLimit(*limit.text, limit.path, v1));
  }
  if (v1) {
    ASSIGN_OR_RETURN(File max_usage, r.Read(dir, "memory.max_usage_in_bytes"));
    if (max_usage) {
      ASSIGN_OR_RETURN(m.max_usage, ParseU64(*max_usage.text, max_usage.path));
    }
    ASSIGN_OR_RETURN(File failcnt, r.Read(dir, "memory.failcnt"));
    if (failcnt) {
      ASSIGN_OR_RETURN(m.failcnt, ParseU64(*failcnt.text, failcnt.path));
    }
  } else {
    ASSIGN_OR_RETURN(File events, r.Read(dir, "memory.events"));
    if (events) {
      ASSIGN_OR_RETURN(auto kv, ParseFlatKeyed(*events.text, events.path));
      m.failcnt = Key(kv, "oom");
    }
  }
  ASSIGN_OR_RETURN(File stat, r.Read(dir, "memory.stat"));
  if (stat) {
    ASSIGN_OR_RETURN(m.stat, ParseFlatKeyed(*stat.text, stat.path));
  }
  return std::optional<CgroupMemoryStats>(std::move(m));
}

// Usage from v1 cpuacct (cpuacct_dir) or v2 cpu.stat; throttling from v1 cpu (cpu_dir) or v2
// cpu.stat.
StatusOr<std::optional<CgroupCpuStats>> ReadCpu(Reader& r, const std::string& cpuacct_dir,
                                                const std::string& cpu_dir,
                                                const std::string& v2_dir) {
  CgroupCpuStats c;
  std::map<std::string, uint64_t> v2_stat;
  if (!v2_dir.empty() && (cpuacct_dir.empty() || cpu_dir.empty())) {
    ASSIGN_OR_RETURN(File stat, r.Read(v2_dir, "cpu.stat"));
    if (stat) {
      ASSIGN_OR_RETURN(v2_stat, ParseFlatKeyed(*stat.text, stat.path));
    }
  }
  if (!cpuacct_dir.empty()) {
    ASSIGN_OR_RETURN(File usage, r.Read(cpuacct_dir, "cpuacct.usage"));
    if (usage) {
      ASSIGN_OR_RETURN(c.total_ns, ParseU64(*usage.text, usage.path));
    }
    ASSIGN_OR_RETURN(File stat, r.Read(cpuacct_dir, "cpuacct.stat"));
    if (stat) {
      ASSIGN_OR_RETURN(auto kv, ParseFlatKeyed(*stat.text, stat.path));
      // USER_HZ ticks, whatever HZ the kernel runs at; sysconf says how many a second.
      uint64_t hz = static_cast<uint64_t>(std::max(1L, ::sysconf(_SC_CLK_TCK)));
      if (auto u = Key(kv, "user")) c.user_ns = *u * kNsPerSec / hz;
      if (auto s = Key(kv, "system")) c.system_ns = *s * kNsPerSec / hz;
    }
  } else {
    if (auto u = Key(v2_stat, "usage_usec")) c.total_ns = *u * kNsPerUsec;
    if (auto u = Key(v2_stat, "user_usec")) c.user_ns = *u * kNsPerUsec;
    if (auto s = Key(v2_stat, "system_usec")) c.system_ns = *s * kNsPerUsec;
  }
  if (!cpu_dir.empty()) {
    ASSIGN_OR_RETURN(File stat, r.Read(cpu_dir, "cpu.stat"));
    if (stat) {
      ASSIGN_OR_RETURN(auto kv, ParseFlatKeyed(*stat.text, stat.path));
      if (auto p = Key(kv, "nr_periods"))
        c.throttling = CgroupCpuStats::Throttling{*p, Key(kv, "nr_throttled").value_or(0),
                                                  Key(kv, "throttled_time").value_or(0)};
    }
  } else if (auto p = Key(v2_stat, "nr_periods")) {  // only with the v2 cpu controller enabled
    c.throttling =
        CgroupCpuStats::Throttling{*p, Key(v2_stat, "nr_throttled").value_or(0),
                                   Key(v2_stat, "throttled_usec").value_or(0) * kNsPerUsec};
  }
  if (!c.total_ns && !c.user_ns && !c.system_ns && !c.throttling)
    return std::optional<CgroupCpuStats>();
  return std::optional<CgroupCpuStats>(c);
}

StatusOr<std::optional<CgroupPidsStats>> ReadPidsController(Reader& r, const std::string& dir) {
  ASSIGN_OR_RETURN(File current, r.Read(dir, "pids.current"));
  if (!current) return std::optional<CgroupPidsStats>();
  CgroupPidsStats p;
  ASSIGN_OR_RETURN(p.current, ParseU64(*current.text, current.path));
  ASSIGN_OR_RETURN(File max, r.Read(dir, "pids.max"));
  if (max) {
    ASSIGN_OR_RETURN(p.limit, ParseLimit(*max.text, max.path, false));
  }
  return std::optional<CgroupPidsStats>(p);
}

StatusOr<std::optional<CgroupBlkioStats>> ReadBlkio(Reader& r, const std::string& dir,
                                                    CgroupVersion v) {
  const bool v1 = v == CgroupVersion::kV1;
  ASSIGN_OR_RETURN(File f,
                   r.Read(dir, v1 ? "blkio.throttle.io_service_bytes_recursive" : "io.stat"));
  if (!f) return std::optional<CgroupBlkioStats>();
  ASSIGN_OR_RETURN(CgroupBlkioStats b,
                   v1 ? ParseBlkioV1(*f.text, f.path) : ParseIoStatV2(*f.text, f.path));
  return std::optional<CgroupBlkioStats>(std::move(b));
}

// cgroup.procs of dir and every cgroup below it.
Status CollectPids(const std::string& dir, bool top, std::set<pid_t>* out) {
  auto text = ReadFile(dir + "/cgroup.procs");
  if (!text.ok()) {
    // A child cgroup removed while we walk is not an error; the cgroup itself gone is.
    if (!top && absl::IsNotFound(text.status())) return absl::OkStatus();
    return Annotate(text.status(), "cgroup pids");
  }
  int n = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    ++n;
    pid_t pid;
    if (!absl::SimpleAtoi(line, &pid) || pid <= 0)
      return Malformed(dir + "/cgroup.procs",
                       absl::StrCat("line ", n, " \"", line, "\" is not a pid"));
    out->insert(pid);
  }
  auto entries = ListDir(dir);
  if (!entries.ok())
    return top || !absl::IsNotFound(entries.status()) ? entries.status() : absl::OkStatus();
  for (const auto& name : *entries) {
    std::string sub = dir + "/" + name;
    if (IsDir(sub)) {
      RETURN_IF_ERROR(CollectPids(sub, false, out));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view CgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kLegacy:
      return "legacy";
    case CgroupMode::kHybrid:
      return "hybrid";
    case CgroupMode::kUnified:
      return "unified";
  }
  return "unknown";
}

bool CgroupHierarchy::Has(std::string_view controller) const {
  return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

StatusOr<CgroupLayout> CgroupLayout::Detect(const std::string& prefix) {
  std::string path = prefix + "/proc/self/mountinfo";
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto layout = FromMountInfo(text, prefix);
  if (!layout.ok()) return Annotate(layout.status(), path);
  return layout;
}

StatusOr<CgroupLayout> CgroupLayout::FromMountInfo(std::string_view mountinfo,
                                                   const std::string& prefix) {
  CgroupLayout l;
  l.prefix_ = prefix;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(Av(mountinfo), '\n')) {
    ++n;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    // id parent major:minor root mount-point options [optional fields...] - fstype source
    // super-options
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    auto dash = std::find(f.begin(), f.end(), "-");
    if (dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 4)
      return absl::InvalidArgumentError(
          absl::StrCat("mountinfo line ", n, " \"", line, "\" is not mountinfo's shape"));
    absl::string_view fstype = dash[1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::string root = Unescape(f[3]);
    std::string mount_point = prefix + Unescape(f[4]);
    if (fstype == "cgroup2") {
      // A second cgroup2 mount (a bind mount of a subtree) shows less: keep the one of the whole
      // tree.
      if (l.unified_mount_.empty() || (l.unified_root_ != "/" && root == "/")) {
        l.unified_mount_ = mount_point;
        l.unified_root_ = root;
      }
      continue;
    }
    CgroupHierarchy h;
    h.mount_point = mount_point;
    h.root = root;
    for (absl::string_view opt : absl::StrSplit(dash[3], ',', absl::SkipEmpty()))
      if (!IsCgroupFlag(opt)) h.controllers.emplace_back(opt);
    if (h.controllers.empty())
      continue;  // a v1 hierarchy with no controller and no name: nothing to read
    // The same hierarchy mounted twice: keep one, the one showing the whole tree if any does.
    auto same = std::find_if(l.v1_.begin(), l.v1_.end(), [&](const CgroupHierarchy& o) {
      return o.controllers == h.controllers;
    });
    if (same == l.v1_.end())
      l.v1_.push_back(std::move(h));
    else if (same->root != "/" && h.root == "/")
      *same = std::move(h);
  }
  bool v1_controllers = std::any_of(l.v1_.begin(), l.v1_.end(), [](const CgroupHierarchy& h) {
    return std::any_of(h.controllers.begin(), h.controllers.end(),
                       [](const std::string& c) { return !absl::StartsWith(c, "name="); });
  });
  if (l.v1_.empty() && l.unified_mount_.empty())
    return absl::NotFoundError("no cgroup filesystem is mounted");
  if (l.unified_mount_.empty())
    l.mode_ = CgroupMode::kLegacy;
  else
    l.mode_ = v1_controllers ? CgroupMode::kHybrid : CgroupMode::kUnified;
  if (!l.unified_mount_.empty()) {
    ASSIGN_OR_RETURN(auto text, ReadIfPresent(l.unified_mount_ + "/cgroup.controllers"));
    if (text)
      for (absl::string_view c : absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty()))
        l.unified_controllers_.emplace_back(c);
  }
  return l;
}

const CgroupHierarchy* CgroupLayout::V1For(std::string_view controller) const {
  for (const auto& h : v1_)
    if (h.Has(controller)) return &h;
  return nullptr;
}

bool CgroupLayout::UnifiedHas(std::string_view controller) const {
  return std::find(unified_controllers_.begin(), unified_controllers_.end(), controller) !=
         unified_controllers_.end();
}

StatusOr<Cgroup> Cgroup::ForRuncPath(const CgroupLayout& layout, std::string_view cgroups_path) {
  RETURN_IF_ERROR(CheckCgroupPath(cgroups_path));
  std::string rel = CleanPath(cgroups_path);
  Cgroup cg;
  std::vector<std::string> tried;
  for (const auto& h : layout.v1()) {
    std::string dir = h.mount_point + rel;
    tried.push_back(dir);
    if (IsDir(dir)) cg.v1_.push_back({h.controllers, dir});
  }
  if (layout.has_unified()) {
    std::string dir = layout.unified_mount() + rel;
    tried.push_back(dir);
    if (IsDir(dir)) cg.unified_dir_ = dir;
  }
  if (cg.v1_.empty() && cg.unified_dir_.empty())
    return absl::NotFoundError(absl::StrCat("cgroup ", Av(cgroups_path), " not found (tried ",
                                            absl::StrJoin(tried, ", "), ")"));
  return cg;
}

StatusOr<Cgroup> Cgroup::ForPid(const CgroupLayout& layout, pid_t pid) {
  std::string path = absl::StrCat(layout.prefix(), "/proc/", pid, "/cgroup");
  auto text = ReadFile(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status()))
      return absl::NotFoundError(
          absl::StrCat("cgroup of pid ", pid, ": no such process (", path, ")"));
    return Annotate(text.status(), absl::StrCat("cgroup of pid ", pid));
  }
  Cgroup cg;
  std::vector<std::string> tried;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    ++n;
    // hierarchy-id:controller-list:path; the path itself may hold ':'.
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3 || f[2].empty() || f[2][0] != '/')
      return absl::InternalError(
          absl::StrCat(path, ": line ", n, " \"", line, "\" is not id:controllers:path"));
    std::string cgpath(f[2]);
    if (f[0] == "0" && f[1].empty()) {  // the cgroup2 hierarchy
      if (!layout.has_unified()) continue;
      auto rel = BelowRoot(cgpath, layout.unified_root());
      if (!rel) {
        tried.push_back(absl::StrCat(cgpath, " (outside ", layout.unified_mount(), ")"));
        continue;
      }
      std::string dir = layout.unified_mount() + *rel;
      tried.push_back(dir);
      if (IsDir(dir)) cg.unified_dir_ = dir;
      continue;
    }
    std::vector<std::string> controllers = absl::StrSplit(f[1], ',', absl::SkipEmpty());
    if (controllers.empty()) continue;
    const CgroupHierarchy* h = layout.V1For(controllers[0]);
    if (h == nullptr) continue;  // a hierarchy this mount namespace does not show
    auto rel = BelowRoot(cgpath, h->root);
    if (!rel) {
      tried.push_back(absl::StrCat(cgpath, " (outside ", h->mount_point, ")"));
      continue;
    }
    std::string dir = h->mount_point + *rel;
    tried.push_back(dir);
    if (IsDir(dir)) cg.v1_.push_back({h->controllers, dir});
  }
  if (cg.v1_.empty() && cg.unified_dir_.empty())
    return absl::NotFoundError(absl::StrCat(
        "cgroup of pid ", pid, " not found (tried ",
        tried.empty() ? "nothing: no hierarchy it names is mounted" : absl::StrJoin(tried, ", "),
        ")"));
  return cg;
}

std::string Cgroup::V1Dir(std::string_view controller) const {
  for (const auto& d : v1_)
    if (std::find(d.controllers.begin(), d.controllers.end(), controller) != d.controllers.end())
      return d.dir;
  return "";
}

std::vector<std::string> Cgroup::Dirs() const {
  std::vector<std::string> out;
  for (const auto& d : v1_) out.push_back(d.dir);
  if (!unified_dir_.empty()) out.push_back(unified_dir_);
  return out;
}

StatusOr<std::vector<pid_t>> Cgroup::Pids() const {
  // Any hierarchy lists the same members; prefer pids, then memory, as the most likely to be there.
  std::string dir = V1Dir("pids");
  if (dir.empty()) dir = V1Dir("memory");
  if (dir.empty()) dir = unified_dir_;
  if (dir.empty()) dir = v1_.front().dir;
  std::set<pid_t> pids;
  RETURN_IF_ERROR(CollectPids(dir, true, &pids));
  return std::vector<pid_t>(pids.begin(), pids.end());
}

StatusOr<CgroupStats> Cgroup::ReadStats() const {
  CgroupStats s;
  Reader r;
  // A controller bound to a v1 hierarchy cannot be enabled in cgroup2 at the same time, so v1 first
  // and cgroup2 for what no v1 hierarchy holds is exact on hybrid hosts.
  if (std::string d = V1Dir("memory"); !d.empty()) {
    ASSIGN_OR_RETURN(s.memory, ReadMemory(r, d, CgroupVersion::kV1));
  } else if (!unified_dir_.empty()) {
    ASSIGN_OR_RETURN(s.memory, ReadMemory(r, unified_dir_, CgroupVersion::kV2));
  }
  ASSIGN_OR_RETURN(s.cpu, ReadCpu(r, V1Dir("cpuacct"), V1Dir("cpu"), unified_dir_));
  if (std::string d = V1Dir("pids"); !d.empty()) {
    ASSIGN_OR_RETURN(s.pids, ReadPidsController(r, d));
  } else if (!unified_dir_.empty()) {
    ASSIGN_OR_RETURN(s.pids, ReadPidsController(r, unified_dir_));
  }
  if (std::string d = V1Dir("blkio"); !d.empty()) {
    ASSIGN_OR_RETURN(s.blkio, ReadBlkio(r, d, CgroupVersion::kV1));
  } else if (!unified_dir_.empty()) {
    ASSIGN_OR_RETURN(s.blkio, ReadBlkio(r, unified_dir_, CgroupVersion::kV2));
  }
  if (!s.memory && !s.cpu && !s.pids && !s.blkio)
    return absl::NotFoundError(absl::StrCat(
        "cgroup stats: none readable (tried ",
        r.tried().empty() ? absl::StrJoin(Dirs(), ", ") : absl::StrJoin(r.tried(), ", "), ")"));
  return s;
}

uint64_t CgroupMemoryStats::UsageWithoutCache() const {
  // docker/cli's calculateMemUsageUnixNoCache, step for step: v1's total_inactive_file when below
  // usage, else inactive_file (v2's key; v1 has it too, for the cgroup alone) when below usage.
  auto key = [&](const char* k) -> std::optional<uint64_t> {
    if (!stat) return std::nullopt;
    auto it = stat->find(k);
    return it == stat->end() ? std::nullopt : std::optional<uint64_t>(it->second);
  };
  if (version == CgroupVersion::kV1)
    if (auto v = key("total_inactive_file"); v && *v < usage) return usage - *v;
  if (uint64_t v = key("inactive_file").value_or(0); v < usage) return usage - v;
  return usage;
}

}  // namespace berth::sys
