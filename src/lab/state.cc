#include "lab/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>

#include "nlohmann/json.hpp"
#include "sys/fs.h"

namespace berth::lab {

using nlohmann::json;

std::string EncodeState(const Lab& lab) {
  json nodes = json::array();
  for (const Node& n : lab.nodes) {
    nodes.push_back({{"name", n.name},
                     {"role", n.role},
                     {"ip", n.ip},
                     {"netns", n.netns},
                     {"host_link", n.host_link},
                     {"data_root", n.data_root},
                     {"exec_root", n.exec_root},
                     {"socket", n.socket},
                     {"pidfile", n.pidfile},
                     {"log", n.log},
                     {"pid", n.pid}});
  }
  json j = {{"name", lab.name},
            {"subnet", lab.subnet},
            {"prefix_len", lab.prefix_len},
            {"gateway", lab.gateway},
            {"bridge", lab.bridge},
            {"berthd", lab.berthd},
            {"berthd_args", lab.berthd_args},
            {"nodes", nodes}};
  return j.dump(2) + "\n";
}

StatusOr<Lab> DecodeState(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::DataLossError("lab state is not a JSON object");
  try {
    Lab lab;
    lab.name = j.at("name").get<std::string>();
    lab.subnet = j.at("subnet").get<std::string>();
    lab.prefix_len = j.at("prefix_len").get<int>();
    lab.gateway = j.at("gateway").get<std::string>();
    lab.bridge = j.at("bridge").get<std::string>();
    lab.berthd = j.value("berthd", "");
    lab.berthd_args = j.value("berthd_args", std::vector<std::string>{});
    for (const json& n : j.at("nodes")) {
      Node node;
      node.name = n.at("name").get<std::string>();
      node.role = n.at("role").get<std::string>();
      node.ip = n.at("ip").get<std::string>();
      node.netns = n.at("netns").get<std::string>();
      node.host_link = n.at("host_link").get<std::string>();
      node.data_root = n.at("data_root").get<std::string>();
      node.exec_root = n.at("exec_root").get<std::string>();
      node.socket = n.at("socket").get<std::string>();
      node.pidfile = n.at("pidfile").get<std::string>();
      node.log = n.at("log").get<std::string>();
      node.pid = n.value("pid", 0);
      lab.nodes.push_back(std::move(node));
    }
    RETURN_IF_ERROR(ValidateName(lab.name));
    return lab;
  } catch (const json::exception& e) {
    return absl::DataLossError(std::string("lab state: ") + e.what());
  }
}

StatusOr<Lab> LoadLab(const std::string& name) {
  RETURN_IF_ERROR(ValidateName(name));
  Lab probe;
  probe.name = name;
  auto text = sys::ReadFile(probe.StatePath());
  if (!text.ok()) {
    if (absl::IsNotFound(text.status()))
      return absl::NotFoundError("no lab named \"" + name + "\" (berth lab up --name " + name +
                                 ")");
    return text.status();
  }
  ASSIGN_OR_RETURN(Lab lab, DecodeState(*text));
  if (lab.name != name)
    return absl::DataLossError(probe.StatePath() + " names another lab: " + lab.name);
  return lab;
}

Status SaveLab(const Lab& lab) {
  return sys::WriteFileAtomic(lab.StatePath(), EncodeState(lab), 0600);
}

StatusOr<LabLock> LabLock::Acquire(const std::string& name, bool create) {
  RETURN_IF_ERROR(ValidateName(name));
  Lab probe;
  probe.name = name;
  const std::string path = probe.RunDir() + "/lock";
  for (;;) {
    if (create) RETURN_IF_ERROR(sys::MkdirAll(probe.RunDir(), 0700));
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid() && errno == ENOENT && !create)
      return absl::NotFoundError("no lab named \"" + name + "\" (berth lab up --name " + name +
                                 ")");
    if (!fd.valid()) return ErrnoStatus(errno, "open " + path);
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return ErrnoStatus(errno, "lock " + path);
    }
    // The holder before us may have removed the lab (and this file with it): a lock on a file that
    // is no longer there excludes nobody, so start again on the current one.
    struct stat held, now;
    if (::fstat(fd.get(), &held) == 0 && ::stat(path.c_str(), &now) == 0 &&
        held.st_ino == now.st_ino && held.st_dev == now.st_dev)
      return LabLock(std::move(fd));
    if (!create && !sys::Exists(probe.RunDir()))
      return absl::NotFoundError("no lab named \"" + name + "\" (berth lab up --name " + name +
                                 ")");
  }
}

}  // namespace berth::lab
