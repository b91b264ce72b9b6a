// The macvlan driver: a sub-interface of a parent NIC per endpoint, born in the sandbox (driver.h).

#include "network/driver.h"

namespace berth::network {

namespace {

class MacvlanNetwork : public DriverNetwork {
 public:
  MacvlanNetwork(sys::Rtnl& host, NetworkSpec spec, std::string mode)
      : host_(host), spec_(std::move(spec)), mode_(std::move(mode)) {}

  Status Join(EndpointSpec* ep, SandboxKernel& sb) override {
    const sys::NetNs& sandbox = sb.ns();
    sys::Rtnl& sandbox_rtnl = sb.rtnl();
    RETURN_IF_ERROR(Annotate(host_.CreateMacvlan(ep->ifname, spec_.ifname, mode_, &sandbox, ep->mac, spec_.mtu),
                             "macvlan on " + spec_.ifname));
    Status st = sandbox_rtnl.AddAddr(ep->ifname, ep->ip + "/" + std::to_string(ep->prefix));
    if (st.ok()) st = sandbox_rtnl.SetUp(ep->ifname);
    if (st.ok() && ep->default_route && !spec_.internal && !spec_.gateway.empty())
      st = sandbox_rtnl.AddRoute("default", spec_.gateway, ep->ifname);
    if (!st.ok()) {
      (void)sandbox_rtnl.DeleteLink(ep->ifname);
      return Annotate(st, "join " + spec_.name);
    }
    return absl::OkStatus();
  }

  Status Leave(const EndpointSpec& ep, SandboxKernel* sandbox, bool sandbox_going) override {
    // Deleted even when the whole namespace goes: the kernel tears a namespace down in the
    // background, and until then the sub-interface keeps its MAC on the parent, so the next
    // container given the same address (and MAC) would be refused with EADDRINUSE.
    if (sandbox == nullptr) return absl::OkStatus();
    Status st = sandbox->rtnl().DeleteLink(ep.ifname);
    if (!st.ok() && !absl::IsNotFound(st)) return st;
    return absl::OkStatus();
  }

  Status Delete() override { return absl::OkStatus(); }  // the parent is the host's

 private:
  sys::Rtnl& host_;
  const NetworkSpec spec_;
  const std::string mode_;
};

}  // namespace

StatusOr<std::unique_ptr<DriverNetwork>> MacvlanDriver::CreateNetwork(NetworkSpec* n) {
  auto it = n->options.find("parent");
  std::string parent = it == n->options.end() ? "" : it->second;
  if (parent.empty())
    return absl::InvalidArgumentError(
        "macvlan needs a parent interface: -o parent=IFACE (Berth has no dummy links to make one)");
  if (parent.find('.') != std::string::npos)
    return absl::UnimplementedError(
        "macvlan parent " + parent +
        ": this kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q), so VLAN sub-interfaces "
        "like " + parent + " cannot be created; use an untagged parent interface");
  auto link = host_.GetLink(parent);
  if (!link.ok()) return absl::InvalidArgumentError("-o parent interface was not found on the host: " + parent);
  if (link->master != 0)
    return absl::InvalidArgumentError("-o parent interface " + parent +
                                      " is a bridge port; macvlan needs a parent that is not");
  std::string mode = "bridge";
  if (auto m = n->options.find("macvlan_mode"); m != n->options.end()) mode = m->second;
  if (mode != "bridge" && mode != "private" && mode != "vepa" && mode != "passthru")
    return absl::InvalidArgumentError("requested macvlan mode '" + mode +
                                      "' is not valid, 'bridge' mode is the macvlan driver default");
  n->ifname = parent;
  n->mtu = link->mtu;
  return std::unique_ptr<DriverNetwork>(std::make_unique<MacvlanNetwork>(host_, *n, mode));
}

}  // namespace berth::network
