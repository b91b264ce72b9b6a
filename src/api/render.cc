#include "api/render.h"

#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "spec/json/container_json.h"
#include "spec/json/network_json.h"

namespace berth::api {

using J = OrderedJson;

void SendOrdered(Conn& c, int status, const OrderedJson& body) {
  c.SendRaw(status, "application/json", body.dump() + "\n");
}

J RenderPortMap(const spec::PortMap& ports) {
  J out = J::object();
  for (auto& [port, binds] : ports) {
    if (!binds) {
      out[port] = nullptr;
      continue;
    }
    J list = J::array();
    for (auto& b : *binds) list.push_back({{"HostIp", b.host_ip}, {"HostPort", b.host_port}});
    out[port] = list;
  }
  return out;
}

J RenderNetworkSettings(const spec::NetworkSettings& ns) {
  J networks = J::object();
  for (auto& [name, ep] : ns.networks) networks[name] = spec::RenderEndpointSettings(ep);
  return {{"Bridge", ns.bridge},
          {"SandboxID", ns.sandbox_id},
          {"HairpinMode", ns.hairpin_mode},
          {"LinkLocalIPv6Address", ns.link_local_ipv6_address},
          {"LinkLocalIPv6PrefixLen", ns.link_local_ipv6_prefix_len},
          {"Ports", RenderPortMap(ns.ports)},
          {"SandboxKey", ns.sandbox_key},
          {"SecondaryIPAddresses", nullptr},
          {"SecondaryIPv6Addresses", nullptr},
          {"EndpointID", ns.endpoint_id},
          {"Gateway", ns.gateway},
          {"GlobalIPv6Address", ns.global_ipv6_address},
          {"GlobalIPv6PrefixLen", ns.global_ipv6_prefix_len},
          {"IPAddress", ns.ip_address},
          {"IPPrefixLen", ns.ip_prefix_len},
          {"IPv6Gateway", ns.ipv6_gateway},
          {"MacAddress", ns.mac_address},
          {"Networks", networks}};
}

J RenderContainer(const engine::ContainerView& v) {
  const engine::ContainerState& s = v.state;
  J out = {
      {"Id", v.id},
      {"Created", FormatRfc3339Nano(v.created)},
      {"Path", v.path},
      {"Args", v.args},
      {"State",
       {{"Status", s.status},
        {"Running", s.running},
        {"Paused", s.paused},
        {"Restarting", s.restarting},
        {"OOMKilled", s.oom_killed},
        {"Dead", s.dead},
        {"Pid", s.pid},
        {"ExitCode", s.exit_code},
        {"Error", s.error},
        {"StartedAt", FormatRfc3339Nano(s.started_at)},
        {"FinishedAt", FormatRfc3339Nano(s.finished_at)}}},
      {"Image", v.image_id},
      {"ResolvConfPath", v.resolv_conf_path},
      {"HostnamePath", v.hostname_path},
      {"HostsPath", v.hosts_path},
      {"LogPath", v.log_path},
      {"Name", v.name},
      {"RestartCount", v.restart_count},
      {"Driver", "overlay2"},
      {"Platform", "linux"},
      {"MountLabel", ""},
      {"ProcessLabel", ""},
      {"AppArmorProfile", ""},
      {"ExecIDs", v.exec_ids.empty() ? J(nullptr) : J(v.exec_ids)},
      {"HostConfig", spec::RenderHostConfig(v.host_config)},
      {"GraphDriver",
       {{"Data",
         {{"LowerDir", v.graph_driver.lower_dir},
          {"MergedDir", v.graph_driver.merged_dir},
          {"UpperDir", v.graph_driver.upper_dir},
          {"WorkDir", v.graph_driver.work_dir}}},
        {"Name", "overlay2"}}}};
  if (s.health) {
    // types.Health, after FinishedAt (omitempty); Log is always a list.
    J log = J::array();
    for (const engine::HealthResult& r : s.health->log)
      log.push_back({{"Start", FormatRfc3339Nano(r.start)},
                     {"End", FormatRfc3339Nano(r.end)},
                     {"ExitCode", r.exit_code},
                     {"Output", r.output}});
    out["State"]["Health"] = {{"Status", s.health->status},
                              {"FailingStreak", s.health->failing_streak},
                              {"Log", log}};
  }
  if (v.size_rw) out["SizeRw"] = *v.size_rw;
  if (v.size_root_fs) out["SizeRootFs"] = *v.size_root_fs;
  out["Mounts"] = spec::RenderMountPoints(v.mounts);
  out["Config"] = spec::RenderContainerConfig(v.config);
  out["NetworkSettings"] = RenderNetworkSettings(v.network_settings);
  return out;
}

J RenderContainerSummary(const engine::ContainerSummary& s) {
  J ports = J::array();
  for (auto& p : s.ports) {
    J port = J::object();
    if (!p.ip.empty()) port["IP"] = p.ip;
    port["PrivatePort"] = p.private_port;
    if (p.public_port != 0) port["PublicPort"] = p.public_port;
    port["Type"] = p.type;
    ports.push_back(port);
  }
  J networks = J::object();
  for (auto& [name, ep] : s.networks) networks[name] = spec::RenderEndpointSettings(ep);
  J out = {{"Id", s.id},          {"Names", s.names},       {"Image", s.image},
           {"ImageID", s.image_id}, {"Command", s.command}, {"Created", s.created},
           {"Ports", ports}};
  if (s.size_rw) out["SizeRw"] = *s.size_rw;
  out["Labels"] = s.labels;
  out["State"] = s.state;
  out["Status"] = s.status;
  out["HostConfig"] = {{"NetworkMode", s.network_mode}};
  out["NetworkSettings"] = {{"Networks", networks}};
  out["Mounts"] = spec::RenderMountPoints(s.mounts);
  return out;
}

J RenderExec(const engine::ExecView& e) {
  const std::vector<std::string>& cmd = spec::OrEmpty(e.config.cmd);
  return {{"ID", e.id},
          {"Running", e.running},
          {"ExitCode", e.exit_code ? J(*e.exit_code) : J(nullptr)},
          {"ProcessConfig",
           {{"tty", e.config.tty},
            {"entrypoint", cmd.empty() ? "" : cmd[0]},
            {"arguments", std::vector<std::string>(cmd.empty() ? cmd.begin() : cmd.begin() + 1, cmd.end())},
            {"privileged", e.config.privileged},
            {"user", e.config.user}}},
          {"OpenStdin", e.config.attach_stdin},
          {"OpenStderr", e.config.attach_stderr},
          {"OpenStdout", e.config.attach_stdout},
          {"CanRemove", false},
          {"ContainerID", e.container_id},
          {"DetachKeys", e.config.detach_keys},
          {"Pid", e.pid}};
}

J RenderTop(const engine::TopResult& t) { return {{"Titles", t.titles}, {"Processes", t.processes}}; }

namespace {

J CpuStats(const engine::ContainerStats& s) {
  const sys::CgroupCpuStats cpu = s.cgroup.cpu.value_or(sys::CgroupCpuStats());
  sys::CgroupCpuStats::Throttling th = cpu.throttling.value_or(sys::CgroupCpuStats::Throttling());
  return {{"cpu_usage",
           {{"total_usage", cpu.total_ns.value_or(0)},
            {"usage_in_kernelmode", cpu.system_ns.value_or(0)},
            {"usage_in_usermode", cpu.user_ns.value_or(0)}}},
          {"system_cpu_usage", s.system_cpu_usage},
          {"online_cpus", s.online_cpus},
          {"throttling_data",
           {{"periods", th.periods}, {"throttled_periods", th.throttled_periods}, {"throttled_time", th.throttled_ns}}}};
}

}  // namespace

J RenderStats(const engine::ContainerStats& s, const engine::ContainerStats* prev) {
  J blkio = J::object();
  J service = nullptr;
  if (s.cgroup.blkio) {
    service = J::array();
    for (auto& e : s.cgroup.blkio->service_bytes)
      service.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  }
  for (const char* k : {"io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                        "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                        "io_time_recursive", "sectors_recursive"})
    blkio[k] = std::string(k) == "io_service_bytes_recursive" ? service : J(nullptr);
  J memory = J::object();
  if (s.cgroup.memory) {
    const sys::CgroupMemoryStats& m = *s.cgroup.memory;
    memory["usage"] = m.usage;
    if (m.max_usage) memory["max_usage"] = *m.max_usage;
    J stats = J::object();
    for (auto& [k, v] : m.stat.value_or(std::map<std::string, uint64_t>{})) stats[k] = v;
    memory["stats"] = stats;
    if (m.failcnt) memory["failcnt"] = *m.failcnt;
    uint64_t limit = m.limit.value_or(s.host_memory);
    memory["limit"] = std::min(limit, s.host_memory);
  }
  J pids = J::object();
  if (s.cgroup.pids) {
    pids["current"] = s.cgroup.pids->current;
    if (s.cgroup.pids->limit) pids["limit"] = *s.cgroup.pids->limit;
  }
  J networks = J::object();
  for (auto& [name, n] : s.networks)
    networks[name] = {{"rx_bytes", n.rx_bytes},     {"rx_packets", n.rx_packets},
                      {"rx_errors", n.rx_errors},   {"rx_dropped", n.rx_dropped},
                      {"tx_bytes", n.tx_bytes},     {"tx_packets", n.tx_packets},
                      {"tx_errors", n.tx_errors},   {"tx_dropped", n.tx_dropped}};
  J out = {{"read", FormatRfc3339Nano(s.read)},
           {"preread", prev ? FormatRfc3339Nano(prev->read) : "0001-01-01T00:00:00Z"},
           {"pids_stats", pids},
           {"blkio_stats", blkio},
           {"num_procs", 0},
           {"storage_stats", J::object()},
           {"cpu_stats", CpuStats(s)},
           {"precpu_stats", prev ? CpuStats(*prev) : CpuStats(engine::ContainerStats())},
           {"memory_stats", memory},
           {"name", s.name},
           {"id", s.id}};
  if (s.running) out["networks"] = networks;
  return out;
}

J RenderNetwork(const network::NetworkView& n) {
  J containers = J::object();
  for (auto& [id, e] : n.containers)
    containers[id] = {{"Name", e.name},
                      {"EndpointID", e.endpoint_id},
                      {"MacAddress", e.mac_address},
                      {"IPv4Address", e.ipv4_address},
                      {"IPv6Address", e.ipv6_address}};
  J out = {{"Name", n.name},
          {"Id", n.id},
          {"Created", n.created},
          {"Scope", n.scope},
          {"Driver", n.driver},
          {"EnableIPv6", n.enable_ipv6},
          {"IPAM", spec::RenderIpam(n.ipam)},
          {"Internal", n.internal},
          {"Attachable", n.attachable},
          {"Ingress", n.ingress},
          {"ConfigFrom", {{"Network", n.config_from}}},
          {"ConfigOnly", n.config_only},
          {"Containers", containers},
          {"Options", n.options},
          {"Labels", n.labels}};
  if (!n.peers.empty()) {
    J peers = J::array();
    for (const auto& [name, ip] : n.peers) peers.push_back({{"Name", name}, {"IP", ip}});
    out["Peers"] = std::move(peers);
  }
  return out;
}

J RenderEvent(const engine::Event& e) {
  J out = J::object();
  if (e.type == "container") {  // the pre-1.22 fields the CLI still reads
    out["status"] = e.action;
    out["id"] = e.id;
    if (auto it = e.attributes.find("image"); it != e.attributes.end()) out["from"] = it->second;
  }
  out["Type"] = e.type;
  out["Action"] = e.action;
  out["Actor"] = {{"ID", e.id}, {"Attributes", e.attributes}};
  out["scope"] = "local";
  out["time"] = e.time_nanos / 1000000000;
  out["timeNano"] = e.time_nanos;
  return out;
}

J RenderImageSummary(const engine::Image& img) {
  nlohmann::json config = nlohmann::json::parse(img.config_raw, nullptr, false);
  J labels = nullptr;
  if (img.container_config.labels) labels = *img.container_config.labels;
  int64_t created = 0;
  ParseRfc3339(img.created, &created);
  bool dangling = img.tags.empty() && img.repo_digests.empty();
  return {{"Containers", -1},
          {"Created", created / 1000000000},
          {"Id", img.id},
          {"Labels", labels},
          {"ParentId", ""},
          // dockerd: an image with neither tag nor digest lists as <none>@<none>, <none>:<none>;
          // one pulled by digest only has digests and null tags.
          {"RepoDigests", dangling ? J::array({"<none>@<none>"}) : img.repo_digests.empty() ? J(nullptr) : J(img.repo_digests)},
          {"RepoTags", dangling ? J::array({"<none>:<none>"}) : img.tags.empty() ? J(nullptr) : J(img.tags)},
          {"SharedSize", -1},
          {"Size", img.size},
          {"VirtualSize", img.size}};
}

J RenderImageInspect(const engine::Image& img, const std::string& lower) {
  nlohmann::json config = nlohmann::json::parse(img.config_raw, nullptr, false);
  if (!config.is_object()) config = nlohmann::json::object();
  J cfg = spec::RenderContainerConfig(img.container_config);
  auto str = [&](const char* k, const char* def) {
    return config.contains(k) && config[k].is_string() ? config[k].get<std::string>() : std::string(def);
  };
  J container_config = cfg;
  if (config.contains("container_config") && config["container_config"].is_object())
    container_config = J::parse(config["container_config"].dump());
  return {{"Id", img.id},
          {"RepoTags", img.tags},
          {"RepoDigests", img.repo_digests},
          {"Parent", str("parent", "")},
          {"Comment", str("comment", "")},
          {"Created", img.created.empty() ? "0001-01-01T00:00:00Z" : img.created},
          {"Container", str("container", "")},
          {"ContainerConfig", container_config},
          {"DockerVersion", str("docker_version", "")},
          {"Author", str("author", "")},
          {"Config", cfg},
          {"Architecture", str("architecture", "amd64")},
          {"Os", str("os", "linux")},
          {"Size", img.size},
          {"VirtualSize", img.size},
          {"GraphDriver", {{"Data", {{"LowerDir", lower}}}, {"Name", "overlay2"}}},
          {"RootFS", {{"Type", "layers"}, {"Layers", img.diff_ids}}},
          {"Metadata", {{"LastTagTime", FormatRfc3339Nano(img.loaded_at)}}}};
}

J RenderImageDeletes(const std::vector<engine::ImageStore::DeleteItem>& items) {
  J out = J::array();
  for (auto& i : items) {
    if (!i.untagged.empty()) out.push_back({{"Untagged", i.untagged}});
    else out.push_back({{"Deleted", i.deleted}});
  }
  return out;
}

}  // namespace berth::api
