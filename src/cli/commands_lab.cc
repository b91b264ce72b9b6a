// `berth lab`: a multi-host lab on one machine (docs/lab.md). The work is in src/lab; this file
// parses the flags and prints. Every subcommand takes --name (default $BERTH_LAB, else "lab").

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/cli.h"
#include "lab/lab.h"
#include "lab/state.h"

namespace berth::cli {
namespace {

using nlohmann::json;

std::string DefaultLabName() {
  const char* env = std::getenv("BERTH_LAB");
  return env != nullptr && *env != '\0' ? env : lab::kDefaultName;
}

// The flags and one NODE argument that start, stop, kill, cut, heal and env share.
bool ParseNodeCommand(Cli& cli, const Invocation& inv, FlagSet& f, std::string* name,
                      std::string* node, int* rc) {
  f.String("name", 0, name);
  std::vector<std::string> pos;
  if (!ParseFlags(cli, inv, f, &pos, rc)) return false;
  if (!CheckArgs(cli, inv, pos, 1, 1, rc)) return false;
  *node = pos[0];
  return true;
}

void PrintHowTo(Cli& cli, const lab::Lab& lab) {
  std::vector<json> items;
  for (const lab::Node& n : lab.nodes)
    items.push_back({{"Node", n.name}, {"Role", n.role}, {"Address", n.ip}, {"Host", n.Host()}});
  PrintItems(
      cli, "table {{.Node}}\t{{.Role}}\t{{.Address}}\t{{.Host}}",
      json{{"Node", "NODE"}, {"Role", "ROLE"}, {"Address", "ADDRESS"}, {"Host", "DOCKER_HOST"}},
      items);
  const lab::Node& first = lab.nodes.front();
  std::string name_flag = lab.name == DefaultLabName() ? "" : " --name " + lab.name;
  cli.out() << "\nPoint a CLI at a node:\n"
            << "  docker -H " << first.Host() << " info\n"
            << "  berth -H " << first.Host() << " info\n"
            << "  eval \"$(berth lab env" << name_flag << " " << first.name
            << ")\"          # DOCKER_HOST for this shell\n"
            << "  berth lab exec" << name_flag << " " << first.name
            << " -- docker node ls   # a command inside the node's network namespace\n";
}

}  // namespace

int CmdLabUp(Cli& cli, const Invocation& inv) {
  lab::UpOptions opts;
  opts.name = DefaultLabName();
  int64_t managers = opts.managers, workers = opts.workers;
  FlagSet f;
  f.String("name", 0, &opts.name);
  f.Int("managers", 0, &managers);
  f.Int("workers", 0, &workers);
  f.String("subnet", 0, &opts.subnet);
  f.String("berthd", 0, &opts.berthd);
  f.StringList("berthd-flag", 0, &opts.berthd_args);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  if (managers < 0 || managers > 1000 || workers < 0 || workers > 1000)
    return PrintError(cli,
                      absl::InvalidArgumentError("--managers and --workers must be 0 to 1000"));
  opts.managers = static_cast<int>(managers);
  opts.workers = static_cast<int>(workers);
  auto start = std::chrono::steady_clock::now();
  auto lab = lab::Up(opts);
  if (!lab.ok()) return PrintError(cli, lab.status());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.2fs", secs);
  cli.out() << "Lab " << lab->name << " is up in " << took << ": " << lab->nodes.size()
            << " nodes on bridge " << lab->bridge << " (" << lab->gateway << "/" << lab->prefix_len
            << ")\n\n";
  PrintHowTo(cli, *lab);
  return 0;
}

int CmdLabLs(Cli& cli, const Invocation& inv) {
  std::string name = DefaultLabName(), format;
  FlagSet f;
  f.String("name", 0, &name);
  f.String("format", 0, &format);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  auto lab = lab::LoadLab(name);
  if (!lab.ok()) return PrintError(cli, lab.status());
  std::vector<lab::NodeStatus> status = lab::Inspect(*lab);
  std::vector<json> items;
  for (size_t i = 0; i < lab->nodes.size(); ++i) {
    const lab::Node& n = lab->nodes[i];
    items.push_back({{"Node", n.name},
                     {"Role", n.role},
                     {"Address", n.ip},
                     {"State", status[i].State()},
                     {"Pid", status[i].running ? std::to_string(status[i].pid) : "-"},
                     {"Socket", n.Host()},
                     {"Netns", n.netns}});
  }
  if (format.empty() || format == "table")
    format = "table {{.Node}}\t{{.Role}}\t{{.Address}}\t{{.State}}\t{{.Pid}}\t{{.Socket}}";
  if (format == "json") format = "{{json .}}";
  return PrintItems(cli, format,
                    json{{"Node", "NODE"},
                         {"Role", "ROLE"},
                         {"Address", "ADDRESS"},
                         {"State", "STATE"},
                         {"Pid", "PID"},
                         {"Socket", "SOCKET"},
                         {"Netns", "NETNS"}},
                    items);
}

int CmdLabEnv(Cli& cli, const Invocation& inv) {
  std::string name = DefaultLabName(), node;
  FlagSet f;
  int rc = 0;
  if (!ParseNodeCommand(cli, inv, f, &name, &node, &rc)) return rc;
  auto lab = lab::LoadLab(name);
  if (!lab.ok()) return PrintError(cli, lab.status());
  const lab::Node* n = lab->Find(node);
  if (n == nullptr)
    return PrintError(cli, absl::NotFoundError("no node \"" + node + "\" in lab " + name));
  cli.out() << "export DOCKER_HOST=" << n->Host() << "\n"
            << "# Run this command to point docker (and berth) at " << node << ":\n"
            << "# eval \"$(berth lab env" << (name == DefaultLabName() ? "" : " --name " + name)
            << " " << node << ")\"\n";
  return 0;
}

int CmdLabExec(Cli& cli, const Invocation& inv) {
  std::string name = DefaultLabName();
  FlagSet f;
  f.String("name", 0, &name);
  f.SetInterspersed(false);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (pos.size() > 1 && pos[1] == "--") pos.erase(pos.begin() + 1);
  if (!CheckArgs(cli, inv, pos, 2, -1, &rc)) return rc;
  auto lab = lab::LoadLab(name);
  if (!lab.ok()) return PrintError(cli, lab.status());
  const lab::Node* n = lab->Find(pos[0]);
  if (n == nullptr)
    return PrintError(cli, absl::NotFoundError("no node \"" + pos[0] + "\" in lab " + name));
  if (Status st = lab::EnterNode(*lab, *n); !st.ok()) return PrintError(cli, st);
  // Both CLIs at this node: berth reads BERTH_HOST before DOCKER_HOST.
  ::setenv("DOCKER_HOST", n->Host().c_str(), 1);
  ::setenv("BERTH_HOST", n->Host().c_str(), 1);
  cli.out().flush();
  cli.err().flush();
  std::vector<char*> argv;
  for (size_t i = 1; i < pos.size(); ++i) argv.push_back(pos[i].data());
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  int err = errno;
  cli.err() << "berth lab exec: " << pos[1] << ": " << std::strerror(err) << "\n";
  return err == ENOENT ? 127 : 126;
}

int CmdLabStart(Cli& cli, const Invocation& inv) {
  std::string name = DefaultLabName(), node;
  FlagSet f;
  int rc = 0;
  if (!ParseNodeCommand(cli, inv, f, &name, &node, &rc)) return rc;
  if (Status st = lab::StartNode(name, node, absl::Seconds(30)); !st.ok())
    return PrintError(cli, st);
  cli.out() << node << "\n";
  return 0;
}

int CmdLabStop(Cli& cli, const Invocation& inv) {
  std::string name = DefaultLabName(), node;
  int64_t secs = 15;
  FlagSet f;
  f.Int("time", 't', &secs);
  int rc = 0;
  if (!ParseNodeCommand(cli, inv, f, &name, &node, &rc)) return rc;
  bool killed = false;
  if (Status st = lab::StopNode(name, node, absl::Seconds(secs), &killed); !st.ok())
    return PrintError(cli, st);
  if (killed) cli.err() << "berthd of " << node << " did not stop within " << secs << "s: killed\n";
  cli.out() << node << "\n";
  return 0;
}

int CmdLabKill(Cli& cli, const Invocation& inv) {
  std::string name = DefaultLabName(), node;
  FlagSet f;
  int rc = 0;
  if (!ParseNodeCommand(cli, inv, f, &name, &node, &rc)) return rc;
  if (Status st = lab::KillNode(name, node); !st.ok()) return PrintError(cli, st);
  cli.out() << node << "\n";
  return 0;
}

int CmdLabCut(Cli& cli, const Invocation& inv) {
  std::string name = DefaultLabName(), node;
  FlagSet f;
  int rc = 0;
  if (!ParseNodeCommand(cli, inv, f, &name, &node, &rc)) return rc;
  bool cut = inv.path.size() >= 3 && inv.path.compare(inv.path.size() - 3, 3, "cut") == 0;
  if (Status st = lab::SetCut(name, node, cut); !st.ok()) return PrintError(cli, st);
  cli.out() << node << "\n";
  return 0;
}

int CmdLabDown(Cli& cli, const Invocation& inv) {
  std::string name = DefaultLabName();
  FlagSet f;
  f.String("name", 0, &name);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  auto report = lab::Down(name);
  if (!report.ok()) return PrintError(cli, report.status());
  for (const std::string& n : report->notes) cli.err() << "note: " << n << "\n";
  if (!report->leaks.empty()) {
    cli.err() << "lab " << name << " is down, but these are left:\n";
    for (const std::string& l : report->leaks) cli.err() << "  " << l << "\n";
    return 1;
  }
  cli.out() << "Lab " << name
            << " is down; nothing is left (no namespace, link, mount, process or directory)\n";
  return 0;
}

}  // namespace berth::cli
