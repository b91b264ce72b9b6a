#pragma once
// The data plane of swarm services' load balancing: the ingress routing mesh (a published port
// answers on every node, balanced across all of the service's tasks) and service VIPs (a
// connection to a VIP inside a container's namespace goes to one of the tasks). Docker does both
// with IPVS, which this kernel lacks; Berth does them with nftables NAT, one table per network
// namespace, `ip berth-mesh`, beside (not inside) the firewall's `inet berth`.
//
// How a connection is balanced: each service has one map, be_<service id>, from 0..N-1 to its N
// backends; its rules draw `numgen random mod N`, look the number up and DNAT to that backend (a
// VIP keeps the destination port, a published port becomes the target port). Conntrack keeps
// every later packet of the connection on the backend it drew, and keeps an established
// connection working after its backend leaves the map. With no backend there is no DNAT rule, and
// the service's chain refuses the connection (a TCP reset, an ICMP port unreachable for UDP): a
// client learns at once, nothing is black-holed.
//
// Addresses (beyond Docker, which SNATs every ingress connection to the node's ingress-sbox
// address, moby#25526): a connection that a node hands to one of its own tasks keeps the client's
// source address (the task's replies route back through this node, whose conntrack undoes the
// DNAT). Only a connection to a task on another node is SNATed to this node's ingress address, so
// that the replies come back here and not straight to the client. Connections from this node's
// loopback, and from subnets whose members a local task would answer directly (Ingress::
// hairpin_subnets), are masqueraded too.
//
// Changes: a task coming or going is a small transaction: the service's map flushed and refilled,
// the backends/remote_backends sets' elements changed, and, when N changed, the service's own
// chains (a VIP chain, one chain per published port, two or three rules each) flushed and written
// again. A task replaced by another (N unchanged) is elements only. Anything else (a service, a VIP
// or a port coming or going) replaces the table whole, atomically. Why N lives in the rules and
// not in an interval map of 0..65535 (which would make every change elements only): libnftables
// fetches the elements of every interval set of the table before any element change, which made
// a one-task change among 100 services of 10 tasks take 7-9 ms; with plain maps it takes ~1 ms
// (1.3 when the service's chains are rewritten; the whole table ~16 ms: bench/mesh_bench.cc).
// Rendering is pure and golden-tested (Validate, Render, RenderDelta, RenderDelete). The kernel is
// reached through the GPL-2 helper program berth-nft (src/nft_helper), never through libnftables
// linked into berthd.
//
// What the caller sets up around the table (the network driver's job, as for the firewall):
// route_localnet=1 on the node's interface towards the backends (a connection from the node's
// own 127.0.0.1 leaves over it, masqueraded); and where hairpin subnets are used, send_redirects=0
// there and in `all` (without br_netfilter a hairpin is routed out the interface it came in on,
// and the ICMP redirect the kernel would send makes the client route the node's address to the
// backend's MAC, so its later connections time out) and hairpin mode on the bridge ports (with
// br_netfilter the DNAT happens while the frame is bridged, and a task reaching itself needs its
// frame sent back out its own port).
//
// Who calls what (see NewHelperTable): one Table per namespace. On a node, the node's namespace
// gets a Model with `ingress` set and every service that publishes ingress ports (VIPs optional);
// in a container's namespace, a Model without `ingress` and the services of the networks that
// container is on, with their VIP on that network and their backends there.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace berth::network::mesh {

// The table Berth owns in each namespace it balances in, family ip (IPv4: swarm overlays are).
inline constexpr char kTableName[] = "berth-mesh";

struct Backend {        // one running task of the service, on the network at hand
  std::string ip;       // its IPv4 address on that network, "10.0.0.7"
  bool local = true;    // runs on this node (only read with Model::ingress: see the file comment)
};

struct Port {           // --publish published=8080,target=80,protocol=tcp,mode=ingress
  std::string proto = "tcp";     // "tcp" | "udp"
  int published = 0;             // 1..65535, on every address of the node
  int target = 0;                // 1..65535, on the task
  std::string mode = "ingress";  // "ingress" (the mesh's) | "host" (the tasks' nodes only: ignored here)
};

struct Service {
  std::string id;                 // swarmkit id: letters and digits, up to 64 characters
  std::string name;               // for error messages ("web")
  std::string vip;                // IPv4, "" for dnsrr or an ingress-only entry
  std::vector<Port> ports;        // rendered only in a Model with ingress
  std::vector<Backend> backends;  // may be empty: connections are then refused
};

// The node's side of the routing mesh: present only in the Model of a node's own namespace.
struct Ingress {
  // This node's address on the ingress network ("10.0.0.2", Docker's ingress-endpoint): the
  // source of connections handed to a task on another node.
  std::string snat_address;
  // Client subnets ("172.18.0.0/16") that are masqueraded when their connection goes to a local
  // task, because the task would answer such a client directly rather than through this node (a
  // task calling a published port of the node it runs on, from the node's gateway bridge).
  std::vector<std::string> hairpin_subnets;
};

struct Model {
  std::vector<Service> services;
  std::optional<Ingress> ingress;  // nullopt in a container's namespace: VIPs only
};

// Checks what Render relies on, with errors that name the service: ids, addresses, ports in
// 1..65535, tcp/udp, at most 65536 backends, no backend twice in a
// service nor local in one and remote in another, no VIP twice, and no two ingress ports on one
// (proto, port), in swarmkit's words ("port '8080' is already in use by service 'web' (<id>) as an
// ingress port"; within one service "EndpointSpec: duplicate published ports provided").
// InvalidArgument.
Status Validate(const Model& m);

// The whole table as one nft script that replaces it atomically (`table ip berth-mesh {}`,
// `delete table ...`, the full definition). Deterministic: services, ports and backends sorted,
// whatever the model's order. Assumes Validate(m) passed.
std::string Render(const Model& m);

// Removes the table if present; no error if it is absent.
std::string RenderDelete();

// The changes that turn Render(from)'s table into Render(to)'s when only backends differ: for
// each service whose backends changed, its map flushed and refilled and, if their number changed,
// its chains flushed and written again; the backends/remote_backends sets' elements deleted and
// added. "" when nothing changes; nullopt when anything else differs (a service, a VIP, a port, the
// ingress settings): Render(to) it is then. Assumes Validate passed for both and the kernel holds
// Render(from).
std::optional<std::string> RenderDelta(const Model& from, const Model& to);

// One namespace's table. Implementations serialise their calls.
class Table {
 public:
  virtual ~Table() = default;
  // Makes the table match m: a delta when only backends changed since the last Apply that went
  // through, the whole table otherwise (or when the kernel refuses the delta, e.g. because the
  // table was changed behind berthd's back). On failure nothing changed.
  virtual Status Apply(const Model& m) = 0;
  // Removes the table; OK if it was not there (an orphan after a crash, a namespace torn down).
  virtual Status Remove() = 0;
  // A dry run of a table with a VIP, a published port and their rules: proves the helper, the
  // privileges and the kernel features (nat, numgen, maps, fib, reject) without changing
  // anything.
  virtual Status Check() = 0;
  // The running helper's pid, -1 when none runs. For tests.
  virtual int HelperPid() = 0;
};

struct TableOptions {
  std::string helper_path;  // berth-nft
  // The namespace to work in: a path such as /run/netns/X, <exec-root>/netns/<id> or
  // /proc/<pid>/ns/net; "" for the namespace of the calling thread (now, at creation).
  std::string netns_path;
  // Keep the helper running between calls (a node's namespace: changes come often and a delta
  // costs well under a millisecond). false: start it for each call and stop it after (a
  // container's namespace, where a resident helper per container would cost more memory than the
  // few milliseconds of a start buy).
  bool keep_helper = true;
};

// A Table applied through berth-nft started in opts.netns_path's namespace (the helper joins it
// with setns before anything else; berthd has CAP_SYS_ADMIN). NotFound when the namespace path
// does not exist. A helper found dead is started again and the call retried once.
StatusOr<std::unique_ptr<Table>> NewHelperTable(const TableOptions& opts);

}  // namespace berth::network::mesh
