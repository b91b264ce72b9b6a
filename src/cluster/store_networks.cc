// Swarm networks in the store (store.h, networks.h). Besides the record and its name's index key,
// a network holds /berth/swarm/vnis/<vni> and, when its subnet came from the pool,
// /berth/swarm/pools/<subnet>: created with the record in one transaction, on the condition that
// they are absent, so two managers creating networks at once can never hand out one VNI or one
// pooled subnet twice (the loser reads again and takes the next).

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cluster/store.h"
#include "cluster/store_internal.h"

namespace berth::cluster {
namespace {

using etcd::Compare;
using etcd::Op;

constexpr const char* kNetworksPrefix = Store::kNetworksPrefix;
constexpr char kVnisPrefix[] = "/berth/swarm/vnis/";
constexpr char kPoolsPrefix[] = "/berth/swarm/pools/";
constexpr char kNetworkNamesPrefix[] = "/berth/swarm/names/network/";
constexpr const char* kAttachmentsPrefix = Store::kAttachmentsPrefix;
constexpr char kAddrsPrefix[] = "/berth/swarm/addrs/";

std::string AttachmentKey(const std::string& id) { return absl::StrCat(kAttachmentsPrefix, id); }
std::string AddrPrefix(const std::string& network_id) {
  return absl::StrCat(kAddrsPrefix, network_id, "/");
}
std::string AddrKey(const std::string& network_id, const std::string& ip) {
  return absl::StrCat(AddrPrefix(network_id), ip);
}

std::string NetworkKey(const std::string& id) { return absl::StrCat(kNetworksPrefix, id); }
std::string NameKey(const std::string& name) { return absl::StrCat(kNetworkNamesPrefix, name); }
std::string VniKey(uint32_t vni) { return absl::StrCat(kVnisPrefix, vni); }
std::string PoolKey(const std::string& subnet) {
  return absl::StrCat(kPoolsPrefix, absl::StrReplaceAll(subnet, {{"/", "_"}}));
}

StatusOr<NetworkRecord> Decode(const etcd::KeyValue& kv) {
  StatusOr<NetworkRecord> n = DecodeNetworkRecord(kv.value);
  if (!n.ok())
    return absl::DataLossError(absl::StrCat("network record ", kv.key, ": ", n.status().message()));
  n->version = static_cast<uint64_t>(kv.mod_revision);
  return n;
}

}  // namespace

StatusOr<std::vector<NetworkRecord>> Store::ListNetworks() {
  etcd::GetOptions o;
  o.prefix = true;
  StatusOr<etcd::RangeResult> r = reader_->Get(kNetworksPrefix, o);
  if (!r.ok()) return StoreError(r.status(), "list networks");
  std::vector<NetworkRecord> out;
  for (const etcd::KeyValue& kv : r->kvs) {
    ASSIGN_OR_RETURN(NetworkRecord n, Decode(kv));
    out.push_back(std::move(n));
  }
  return out;
}

StatusOr<NetworkRecord> Store::GetNetwork(const std::string& id) {
  StatusOr<etcd::RangeResult> r = reader_->Get(NetworkKey(id));
  if (!r.ok()) return StoreError(r.status(), "read network");
  if (r->kvs.empty()) return absl::NotFoundError(absl::StrCat("network ", id, " not found"));
  return Decode(r->kvs[0]);
}

StatusOr<NetworkRecord> Store::CreateNetwork(NetworkRecord n, const std::vector<std::string>& pools,
                                             uint32_t subnet_size) {
  // A few rounds: each lost race (a VNI or pooled subnet taken meanwhile) reads again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    ASSIGN_OR_RETURN(std::vector<NetworkRecord> all, ListNetworks());
    for (const NetworkRecord& o : all)
      if (o.name == n.name)
        return absl::AlreadyExistsError(absl::StrCat(
            "rpc error: code = AlreadyExists desc = network ", n.name, " already exists"));
    NetworkRecord w = n;
    w.vni = NextVni(all);
    if (w.subnet.empty()) {
      ASSIGN_OR_RETURN(w.subnet, NextSubnet(all, pools, subnet_size));
      ASSIGN_OR_RETURN(w.gateway, FirstHost(w.subnet));
      w.subnet_allocated = true;
    }
    std::vector<Compare> cmp = {Compare::Missing(NetworkKey(w.id)), Compare::Missing(NameKey(w.name)),
                                Compare::Missing(VniKey(w.vni))};
    std::vector<Op> ops = {Op::Put(NetworkKey(w.id), EncodeNetworkRecord(w)),
                           Op::Put(NameKey(w.name), w.id), Op::Put(VniKey(w.vni), w.id)};
    if (w.subnet_allocated) {
      cmp.push_back(Compare::Missing(PoolKey(w.subnet)));
      ops.push_back(Op::Put(PoolKey(w.subnet), w.id));
    }
    StatusOr<etcd::TxnResult> r = etcd_->Txn(cmp, ops, {Op::Get(NameKey(w.name))});
    if (!r.ok()) return StoreError(r.status(), "create network");
    if (r->succeeded) return w;
    if (!r->ranges.empty() && !r->ranges[0].kvs.empty())
      return absl::AlreadyExistsError(absl::StrCat(
          "rpc error: code = AlreadyExists desc = network ", n.name, " already exists"));
  }
  return absl::AbortedError("create network: the store kept changing; try again");
}

StatusOr<std::vector<AttachmentRecord>> Store::ListAttachments() {
  etcd::GetOptions o;
  o.prefix = true;
  StatusOr<etcd::RangeResult> r = reader_->Get(kAttachmentsPrefix, o);
  if (!r.ok()) return StoreError(r.status(), "list network attachments");
  std::vector<AttachmentRecord> out;
  for (const etcd::KeyValue& kv : r->kvs) {
    StatusOr<AttachmentRecord> a = DecodeAttachmentRecord(kv.value);
    if (!a.ok())
      return absl::DataLossError(absl::StrCat("attachment ", kv.key, ": ", a.status().message()));
    a->version = static_cast<uint64_t>(kv.mod_revision);
    out.push_back(std::move(*a));
  }
  return out;
}

StatusOr<AttachmentRecord> Store::CreateAttachment(AttachmentRecord a, const NetworkRecord& n) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    etcd::GetOptions o;
    o.prefix = true;
    o.keys_only = true;
    StatusOr<etcd::RangeResult> r = etcd_->Get(AddrPrefix(n.id), o);
    if (!r.ok()) return StoreError(r.status(), "read network addresses");
    std::vector<std::string> used;
    for (const etcd::KeyValue& kv : r->kvs) used.push_back(kv.key.substr(AddrPrefix(n.id).size()));
    ASSIGN_OR_RETURN(a.ip, NextAddress(n, used));
    // On the network as read (not removed meanwhile), at an address nobody took meanwhile.
    StatusOr<etcd::TxnResult> t = etcd_->Txn(
        {Compare::ModRevisionIs(NetworkKey(n.id), static_cast<int64_t>(n.version)),
         Compare::Missing(AddrKey(n.id, a.ip)), Compare::Missing(AttachmentKey(a.id))},
        {Op::Put(AttachmentKey(a.id), EncodeAttachmentRecord(a)), Op::Put(AddrKey(n.id, a.ip), a.id)},
        {Op::Get(NetworkKey(n.id))});
    if (!t.ok()) return StoreError(t.status(), "attach to network");
    if (t->succeeded) return a;
    if (t->ranges.empty() || t->ranges[0].kvs.empty())
      return absl::NotFoundError(absl::StrCat("network ", n.name, " not found"));
    if (t->ranges[0].kvs[0].mod_revision != static_cast<int64_t>(n.version))
      return absl::AbortedError(absl::StrCat("network ", n.name, " changed; try again"));
  }
  return absl::AbortedError("attach to network: the store kept changing; try again");
}

Status Store::RemoveAttachment(const AttachmentRecord& a) {
  StatusOr<etcd::TxnResult> r =
      etcd_->Txn({}, {Op::Delete(AttachmentKey(a.id)), Op::Delete(AddrKey(a.network_id, a.ip))});
  if (!r.ok()) return StoreError(r.status(), "detach from network");
  return absl::OkStatus();
}

// The task's view of a swarm network (swarm.Network inside NetworksAttachments).
spec::SwarmNetwork TaskNetworkOf(const NetworkRecord& n) {
  spec::SwarmNetwork out;
  out.id = n.id;
  out.meta.version.index = n.version;
  out.meta.created_at = n.created_at;
  out.meta.updated_at = n.created_at;
  out.spec.annotations.name = n.name;
  out.spec.annotations.labels = n.labels;
  out.spec.attachable = n.attachable;
  out.spec.ingress = n.ingress;
  out.spec.internal = n.internal;
  out.driver_state.name = n.driver;
  out.driver_state.options = spec::StringMap{{kVxlanIdOption, std::to_string(n.vni)}};
  spec::SwarmIpamOptions ipam;
  ipam.driver.name = n.ipam_driver;
  ipam.configs.push_back({n.subnet, "", n.gateway});
  out.ipam_options = ipam;
  return out;
}

namespace {

// The addresses held on network n (from its address keys), read once per network per call.
class AddressBook {
 public:
  explicit AddressBook(etcd::Client& etcd) : etcd_(etcd) {}
  // The lowest free address of n, now held in this book.
  StatusOr<std::string> Take(const NetworkRecord& n) {
    auto [it, fresh] = used_.try_emplace(n.id);
    if (fresh) {
      etcd::GetOptions o;
      o.prefix = true;
      o.keys_only = true;
      StatusOr<etcd::RangeResult> r = etcd_.Get(AddrPrefix(n.id), o);
      if (!r.ok()) return StoreError(r.status(), "read network addresses");
      for (const etcd::KeyValue& kv : r->kvs)
        it->second.push_back(kv.key.substr(AddrPrefix(n.id).size()));
    }
    ASSIGN_OR_RETURN(std::string ip, NextAddress(n, it->second));
    it->second.push_back(ip);
    return ip;
  }

 private:
  etcd::Client& etcd_;
  std::map<std::string, std::vector<std::string>> used_;  // network id -> addresses held
};

const NetworkRecord* FindNetwork(const std::vector<NetworkRecord>& all, const std::string& ref) {
  for (const NetworkRecord& r : all)
    if (r.id == ref || r.name == ref) return &r;
  return nullptr;
}

const NetworkRecord* IngressOf(const std::vector<NetworkRecord>& all) {
  for (const NetworkRecord& r : all)
    if (r.ingress) return &r;
  return nullptr;
}

std::string WithPrefix(const std::string& ip, const NetworkRecord& n) {
  return absl::StrCat(ip, n.subnet.substr(n.subnet.find('/')));
}

}  // namespace

bool Dnsrr(const spec::Service& s) {
  return s.spec.endpoint_spec.has_value() && s.spec.endpoint_spec->mode == "dnsrr";
}

bool PublishesIngress(const spec::Service& s) {
  for (const spec::ServicePortConfig& p : s.endpoint.ports)
    if (p.publish_mode != "host") return true;
  return false;
}

Status Store::AddTaskAddresses(std::vector<spec::Task>* create,
                               const std::vector<spec::Service>& services,
                               std::vector<Compare>* compares, std::vector<Op>* ops) {
  std::set<std::string> ingress_services;
  for (const spec::Service& s : services)
    if (PublishesIngress(s)) ingress_services.insert(s.id);
  bool any = false;
  for (const spec::Task& t : *create)
    any |= !t.spec.networks.empty() || ingress_services.count(t.service_id);
  if (!any) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<NetworkRecord> networks, ListNetworks());
  AddressBook book(*etcd_);
  for (spec::Task& t : *create) {
    t.networks_attachments.clear();
    std::vector<const NetworkRecord*> on;
    if (ingress_services.count(t.service_id)) {
      const NetworkRecord* ingress = IngressOf(networks);
      if (ingress == nullptr)
        return absl::FailedPreconditionError(absl::StrCat(
            "task ", t.id, ": the service publishes a port and the swarm has no ingress network"));
      on.push_back(ingress);
    }
    for (const spec::NetworkAttachmentConfig& want : t.spec.networks) {
      const NetworkRecord* n = FindNetwork(networks, want.target);
      if (n == nullptr)
        return absl::FailedPreconditionError(
            absl::StrCat("task ", t.id, ": network ", want.target, " not found"));
      on.push_back(n);
    }
    for (const NetworkRecord* n : on) {
      ASSIGN_OR_RETURN(std::string ip, book.Take(*n));
      compares->push_back(Compare::Missing(AddrKey(n->id, ip)));
      ops->push_back(Op::Put(AddrKey(n->id, ip), t.id));
      spec::NetworkAttachment a;
      a.network = TaskNetworkOf(*n);
      a.addresses.push_back(WithPrefix(ip, *n));
      t.networks_attachments.push_back(std::move(a));
    }
  }
  return absl::OkStatus();
}

Status Store::PlanServiceVips(spec::Service* s, std::vector<Compare>* compares,
                              std::vector<Op>* ops) {
  std::vector<std::string> wanted;  // network ids, in Docker's order (ingress first)
  bool ingress = PublishesIngress(*s);
  bool vip_mode = !Dnsrr(*s);
  std::vector<spec::EndpointVirtualIP> had = std::move(s->endpoint.virtual_ips);
  s->endpoint.virtual_ips.clear();
  if (ingress || (vip_mode && !s->spec.task_template.networks.empty())) {
    ASSIGN_OR_RETURN(std::vector<NetworkRecord> networks, ListNetworks());
    if (ingress) {
      const NetworkRecord* n = IngressOf(networks);
      if (n == nullptr)
        return absl::FailedPreconditionError(
            "rpc error: code = FailedPrecondition desc = the swarm has no ingress network");
      wanted.push_back(n->id);
    }
    if (vip_mode) {
      for (const spec::NetworkAttachmentConfig& a : s->spec.task_template.networks) {
        const NetworkRecord* n = FindNetwork(networks, a.target);
        if (n == nullptr)
          return absl::FailedPreconditionError(absl::StrCat(
              "rpc error: code = FailedPrecondition desc = network ", a.target, " not found"));
        wanted.push_back(n->id);
      }
    }
    AddressBook book(*etcd_);
    for (const std::string& id : wanted) {
      auto kept = std::find_if(had.begin(), had.end(), [&](const spec::EndpointVirtualIP& v) {
        return v.network_id == id;
      });
      if (kept != had.end()) {
        s->endpoint.virtual_ips.push_back(*kept);
        continue;
      }
      const NetworkRecord& n = *FindNetwork(networks, id);
      ASSIGN_OR_RETURN(std::string ip, book.Take(n));
      compares->push_back(Compare::Missing(AddrKey(n.id, ip)));
      ops->push_back(Op::Put(AddrKey(n.id, ip), s->id));
      s->endpoint.virtual_ips.push_back({n.id, WithPrefix(ip, n)});
    }
  }
  for (const spec::EndpointVirtualIP& v : had)
    if (std::find(wanted.begin(), wanted.end(), v.network_id) == wanted.end())
      ops->push_back(Op::Delete(AddrKey(v.network_id, v.addr.substr(0, v.addr.find('/')))));
  return absl::OkStatus();
}

void ReleaseServiceVips(const spec::Service& s, std::vector<Op>* ops) {
  for (const spec::EndpointVirtualIP& v : s.endpoint.virtual_ips)
    ops->push_back(Op::Delete(AddrKey(v.network_id, v.addr.substr(0, v.addr.find('/')))));
}

void ReleaseTaskAddresses(const spec::Task& t, std::vector<Op>* ops) {
  for (const spec::NetworkAttachment& a : t.networks_attachments)
    for (const std::string& addr : a.addresses)
      ops->push_back(Op::Delete(AddrKey(a.network.id, addr.substr(0, addr.find('/')))));
}

Status Store::RemoveNetwork(const NetworkRecord& n) {
  std::vector<Op> ops = {Op::Delete(NetworkKey(n.id)), Op::Delete(NameKey(n.name)),
                         Op::Delete(VniKey(n.vni))};
  if (n.subnet_allocated) ops.push_back(Op::Delete(PoolKey(n.subnet)));
  ops.push_back(Op::Delete(AddrPrefix(n.id), true));
  StatusOr<etcd::TxnResult> r = etcd_->Txn(
      {Compare::ModRevisionIs(NetworkKey(n.id), static_cast<int64_t>(n.version))}, ops);
  if (!r.ok()) return StoreError(r.status(), "remove network");
  if (!r->succeeded) return OutOfSequence();
  return absl::OkStatus();
}

}  // namespace berth::cluster
