// Legacy container links (container_links.h): the pure rules, and the link graph of
// ContainerManager (create, start, inspect, DELETE ?link=1).

#include "engine/container_links.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/container_state.h"
#include "engine/containers.h"

namespace berth::engine {

StatusOr<std::pair<std::string, std::string>> ParseLink(const std::string& link) {
  std::vector<std::string> parts = absl::StrSplit(link, ':');
  if (link.empty() || parts.size() > 2 || parts[0].empty() || parts[0] == "/")
    return absl::InvalidArgumentError("invalid link format: " + link);
  std::string name = parts[0];
  if (name[0] == '/') name.erase(0, 1);
  std::string alias = parts.size() == 2 ? parts[1] : name;
  if (!alias.empty() && alias[0] == '/') alias.erase(0, 1);
  if (alias.empty()) return absl::InvalidArgumentError("invalid link format: " + link);
  return std::make_pair(name, alias);
}

namespace {

struct Port {
  int number = 0;
  std::string proto;
};

}  // namespace

std::vector<std::string> LinkEnv(const std::string& link_name, const std::string& ip,
                                 const spec::PortSet& exposed, const std::vector<std::string>& child_env) {
  std::string alias = link_name.substr(link_name.rfind('/') + 1);
  alias = absl::AsciiStrToUpper(alias);
  std::replace(alias.begin(), alias.end(), '-', '_');
  std::vector<Port> ports;
  for (const std::string& p : exposed) {
    Port port;
    size_t slash = p.find('/');
    if (!absl::SimpleAtoi(p.substr(0, slash), &port.number)) continue;
    port.proto = slash == std::string::npos ? "tcp" : p.substr(slash + 1);
    ports.push_back(port);
  }
  // nat.Sort as links.go calls it: by number, tcp first at equal numbers.
  std::stable_sort(ports.begin(), ports.end(), [](const Port& a, const Port& b) {
    return a.number < b.number || (a.number == b.number && a.proto == "tcp" && b.proto != "tcp");
  });
  std::vector<std::string> env;
  auto up = [](const std::string& s) { return absl::AsciiStrToUpper(s); };
  if (!ports.empty())
    env.push_back(absl::StrCat(alias, "_PORT=", ports[0].proto, "://", ip, ":", ports[0].number));
  // Runs of three or more ports also get a _START/_END block (links.go nextContiguous).
  for (size_t i = 0; i < ports.size();) {
    const Port& p = ports[i];
    size_t j = i;
    for (int value = p.number; j + 1 < ports.size() && ports[j + 1].number <= value + 1; ++value) ++j;
    if (j > i + 1) {
      std::string key = absl::StrCat(alias, "_PORT_", p.number, "_", up(p.proto));
      const Port& q = ports[j];
      env.push_back(absl::StrCat(key, "_START=", p.proto, "://", ip, ":", p.number));
      env.push_back(absl::StrCat(key, "_ADDR=", ip));
      env.push_back(absl::StrCat(key, "_PROTO=", p.proto));
      env.push_back(absl::StrCat(key, "_PORT_START=", p.number));
      env.push_back(absl::StrCat(alias, "_PORT_", p.number, "_", up(q.proto), "_END=", q.proto,
                                 "://", ip, ":", q.number));
      env.push_back(absl::StrCat(alias, "_PORT_", p.number, "_", up(q.proto), "_PORT_END=", q.number));
      i = j + 1;
      continue;
    }
    ++i;
  }
  for (const Port& p : ports) {
    std::string key = absl::StrCat(alias, "_PORT_", p.number, "_", up(p.proto));
    env.push_back(absl::StrCat(key, "=", p.proto, "://", ip, ":", p.number));
    env.push_back(absl::StrCat(key, "_ADDR=", ip));
    env.push_back(absl::StrCat(key, "_PORT=", p.number));
    env.push_back(absl::StrCat(key, "_PROTO=", p.proto));
  }
  env.push_back(absl::StrCat(alias, "_NAME=", link_name));
  for (const std::string& e : child_env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos) continue;
    std::string key = e.substr(0, eq);
    if (key == "HOME" || key == "PATH") continue;
    env.push_back(absl::StrCat(alias, "_ENV_", key, "=", e.substr(eq + 1)));
  }
  return env;
}

std::string LinkHostsLine(const std::string& ip, const std::string& alias,
                          const std::string& child_hostname, const std::string& child_name) {
  std::string names = alias + " " + child_hostname;
  if (alias != child_name) names += " " + child_name;
  return ip + "\t" + names + "\n";
}

// ---------------------------------------------------------------------------------------------
// The link graph

StatusOr<std::map<std::string, std::string>> ContainerManager::ResolveLinks(
    const spec::HostConfig& hc) {
  std::map<std::string, std::string> out;
  for (const std::string& l : spec::OrEmpty(hc.links)) {
    ASSIGN_OR_RETURN(auto link, ParseLink(l));
    auto child = Find(link.first);
    if (!child.ok())
      return Status(child.status().code(),
                    "could not get container for " + link.first + ": " + std::string(child.status().message()));
    out[link.second] = (*child)->id;
  }
  return out;
}

StatusOr<ContainerManager::LinkSetup> ContainerManager::LinksForStart(
    const std::shared_ptr<Container>& c) {
  struct Child {
    std::string alias, id, name, hostname;
    bool running;
    spec::PortSet ports;
    std::vector<std::string> env;
  };
  std::vector<Child> children;
  std::string parent;
  {
    StateLock l(mu_);
    parent = c->name;
    for (auto& [alias, id] : c->links) {
      auto it = containers_.find(id);
      if (it == containers_.end()) continue;  // removed since: the link went with it
      const Container& ch = *it->second;
      children.push_back({alias, id, ch.name, ch.config.hostname, ch.running(),
                          ch.config.exposed_ports, spec::OrEmpty(ch.config.env)});
    }
  }
  LinkSetup out;
  for (const Child& ch : children) {
    std::string link_name = "/" + parent + "/" + ch.alias;
    if (!ch.running)
      return absl::FailedPreconditionError("Cannot link to a non running container: /" + ch.name +
                                           " AS " + link_name);
    auto ns = network_.Settings(ch.id);
    std::string ip;
    if (ns) {
      auto it = ns->networks.find("bridge");
      if (it != ns->networks.end()) ip = it->second.ip_address;
    }
    if (ip.empty())
      return absl::InvalidArgumentError("Cannot link to /" + ch.name +
                                        ", as it does not belong to the default network");
    for (auto& e : LinkEnv(link_name, ip, ch.ports, ch.env)) out.env.push_back(e);
    out.hosts += LinkHostsLine(ip, ch.alias, ch.hostname, ch.name);
  }
  return out;
}

std::vector<std::string> ContainerManager::LinksLocked(const Container& c) {
  std::vector<std::string> out;
  for (auto& [alias, id] : c.links) {
    auto it = containers_.find(id);
    if (it != containers_.end()) out.push_back("/" + it->second->name + ":/" + c.name + "/" + alias);
  }
  return out;
}

Status ContainerManager::RemoveLink(const std::string& name_in) {
  std::string name = name_in;
  if (name.empty() || name[0] != '/') name = "/" + name;
  size_t slash = name.rfind('/');
  std::string parent_name = name.substr(1, slash == 0 ? 0 : slash - 1);
  std::string alias = name.substr(slash + 1);
  if (slash == 0) {
    // A container's own name: Docker's plain error (500).
    RETURN_IF_ERROR(Find(alias).status());
    return absl::InternalError("Conflict, cannot remove the default link name of the container");
  }
  auto parent = Find(parent_name);
  {
    StateLock l(mu_);
    if (!parent.ok() || !(*parent)->links.count(alias))
      return absl::NotFoundError("No such container: " + name_in);
    (*parent)->links.erase(alias);
  }
  return Save(*parent);
}

}  // namespace berth::engine
