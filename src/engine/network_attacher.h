#pragma once
// The container manager's view of networking: the network controller implements it. The default
// gives every container a fresh namespace with only loopback (host mode shares the daemon's).
//
// Threading: called without any of the manager's locks; calls for one container come from the
// holder of its operation lock, except Settings (any thread).

#include <string>

#include "common/status.h"
#include "spec/container.h"
#include "spec/host_config.h"
#include "spec/network.h"

namespace berth::engine {

class NetworkAttacher {
 public:
  virtual ~NetworkAttacher() = default;
  // Validates the network part of a create request (before anything is made).
  virtual Status Validate(const spec::HostConfig& host_config,
                          const spec::NetworkingConfig& networking) {
    return absl::OkStatus();
  }
  // The container exists now: remember which networks it belongs to. Detach forgets it.
  virtual Status Attach(const std::string& id, const std::string& name,
                        const spec::HostConfig& host_config,
                        const spec::NetworkingConfig& networking) {
    return absl::OkStatus();
  }
  virtual void Detach(const std::string& id) {}
  struct Sandbox {
    std::string netns_path;   // "" = a new namespace made by runc, "host" = the daemon's
    std::string hosts_extra;  // lines for /etc/hosts
    std::string resolv_conf;  // contents of /etc/resolv.conf
  };
  // Before the container starts: sandbox, endpoints, published ports.
  virtual StatusOr<Sandbox> Setup(const std::string& id, const std::string& name,
                                  const spec::ContainerConfig& config,
                                  const spec::HostConfig& host_config);
  // After it stopped (idempotent).
  virtual void Teardown(const std::string& id) {}
  // NetworkSettings for inspect; nullopt: the container is not known to the network layer.
  virtual std::optional<spec::NetworkSettings> Settings(const std::string& id) { return std::nullopt; }
  virtual void Rename(const std::string& id, const std::string& name) {}
};

}  // namespace berth::engine
