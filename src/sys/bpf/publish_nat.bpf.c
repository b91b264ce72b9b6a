// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
// (Dual-licensed, unlike the rest of Berth: the kernel lets only a program that declares a
// GPL-compatible licence call bpf_fib_lookup. berthd embeds it under the BSD-2-Clause terms.)
//
// Published ports without netfilter: the DNAT of a connection from another host to a container's
// published port, and the reverse NAT of the container's replies, done at tc ingress. Compiled by
// clang for the bpf target at build time and loaded by sys/publish_nat.cc, which also makes the
// maps named below and fills them (no libbpf: every function here is inlined, so the only
// relocations are the maps').
//
//   berth_nat_in   at tc ingress of each uplink (a host interface that is not Berth's): a TCP or
//                  UDP packet for a local address and a published port is rewritten to the
//                  container's address and port and handed to the container's eth0
//                  (bpf_redirect_peer on its host-side veth): no routing, no bridge, no conntrack.
//                  It remembers the flow (client address and port -> the address it asked for
//                  and the uplink it came in on). An ICMP error about a remembered flow's reply
//                  (fragmentation needed, unreachable, time exceeded) goes to the container too.
//   berth_nat_out  at tc ingress of each published container's host-side veth: a packet of a
//                  remembered flow gets its source back (the address and port the client asked
//                  for) and leaves by the uplink the flow came in on, to the MAC it came from.
//
// Anything else (another protocol, IP options, fragments, TTL 1, a packet too big for the other
// side, a destination that is not local) returns TC_ACT_UNSPEC: the next filter or, with none,
// the kernel's usual path, where nftables' DNAT rules still publish the port.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))
#define INLINE static inline __attribute__((always_inline))

// Helpers by number (no libbpf headers).
static void *(*map_lookup)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*map_update)(void *map, const void *key, const void *value, __u64 flags) =
    (void *)BPF_FUNC_map_update_elem;
static long (*l3_csum_replace)(struct __sk_buff *skb, __u32 off, __u64 from, __u64 to, __u64 flags) =
    (void *)BPF_FUNC_l3_csum_replace;
static long (*l4_csum_replace)(struct __sk_buff *skb, __u32 off, __u64 from, __u64 to, __u64 flags) =
    (void *)BPF_FUNC_l4_csum_replace;
static long (*store_bytes)(struct __sk_buff *skb, __u32 off, const void *from, __u32 len, __u64 flags) =
    (void *)BPF_FUNC_skb_store_bytes;
static long (*redirect)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect;
static long (*redirect_peer)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect_peer;
static long (*fib_lookup)(void *ctx, struct bpf_fib_lookup *params, int len, __u32 flags) =
    (void *)BPF_FUNC_fib_lookup;

// The maps: berthd creates them (sys/publish_nat.cc, same layouts) and the loader puts their
// descriptors where these symbols are used. Addresses and ports in network byte order.
struct port_key {  // a published port: 0.0.0.0 as addr = every local address
  __u32 addr;
  __u16 port;
  __u8 proto;
  __u8 pad;
};
struct hop {  // where a packet goes, and as what
  __u32 addr;       // the new destination (in) or source (out) address
  __u16 port;       // ... and port
  __u16 mtu;        // the largest packet the target link takes (0: no check)
  __u32 ifindex;    // in: the container's host-side veth; out: the uplink
  __u8 dst_mac[6];  // in: the container's MAC; out: the client's (the frame's source on the way in)
  __u8 src_mac[6];  // in: the bridge's MAC; out: the uplink's
};
struct flow_key {
  __u32 client;
  __u32 backend;
  __u16 client_port;
  __u16 backend_port;
  __u8 proto;
  __u8 pad[3];
};
char berth_nat_ports SEC("maps");    // hash: struct port_key -> struct hop
char berth_nat_flows SEC("maps");    // LRU hash: struct flow_key -> struct hop
char berth_nat_uplinks SEC("maps");  // hash: __u32 ifindex -> __u32 mtu
char berth_nat_stats SEC("maps");    // per-CPU array of 2 __u64: packets in, packets out

char _license[] SEC("license") = "Dual BSD/GPL";

#define ETH_LEN 14
#define IP_OFF ETH_LEN
#define L4_OFF (ETH_LEN + 20)

INLINE void count(__u32 which) {
  __u64 *n = map_lookup(&berth_nat_stats, &which);
  if (n) *n += 1;
}

// The packet's IPv4 header (no options, not a fragment, TTL above 1) and its ports: 1 for TCP and
// UDP, 2 for ICMP from an uplink (ports then meaningless), 0 for anything else.
struct parsed {
  __u32 saddr, daddr;
  __u16 sport, dport;
  __u8 proto, ttl;
  __u8 eth_src[6], eth_dst[6];
};
// from_uplink: the frame must be addressed to the uplink itself. (On a container's host-side veth
// a frame to the gateway is PACKET_OTHERHOST: it is the bridge's MAC, not the veth's.)
INLINE int parse(struct __sk_buff *skb, struct parsed *p, int from_uplink) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  if (from_uplink && skb->pkt_type != PACKET_HOST) return 0;
  struct ethhdr *eth = data;
  struct iphdr *ip = data + ETH_LEN;
  __u16 *ports = data + L4_OFF;
  if ((void *)(ports + 2) > end) return 0;
  if (eth->h_proto != __builtin_bswap16(ETH_P_IP)) return 0;
  if (eth->h_dest[0] & 1) return 0;  // multicast, broadcast
  if (ip->version != 4 || ip->ihl != 5) return 0;
  if (ip->frag_off & __builtin_bswap16(0x3fff)) return 0;  // MF or an offset
  if (ip->ttl <= 1) return 0;
  int icmp = from_uplink && ip->protocol == IPPROTO_ICMP;
  if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP && !icmp) return 0;
  // Never a loopback address from a link (nftables' raw chain drops those).
  if (from_uplink && ((__u8 *)&ip->daddr)[0] == 127) return 0;
  p->saddr = ip->saddr;
  p->daddr = ip->daddr;
  p->sport = ports[0];
  p->dport = ports[1];
  p->proto = ip->protocol;
  p->ttl = ip->ttl;
  __builtin_memcpy(p->eth_src, eth->h_source, 6);
  __builtin_memcpy(p->eth_dst, eth->h_dest, 6);
  return icmp ? 2 : 1;
}

INLINE int too_big(struct __sk_buff *skb, __u32 mtu) {
  return mtu != 0 && skb->gso_size == 0 && skb->len > mtu + ETH_LEN;
}

// Rewrites the destination (dst = 1) or source address and port to h's, decrements the TTL and
// sets the Ethernet addresses; checksums follow (a partial L4 checksum is handled by the helper).
INLINE int rewrite(struct __sk_buff *skb, const struct parsed *p, const struct hop *h, int dst) {
  __u32 csum_off = L4_OFF + (p->proto == IPPROTO_TCP ? 16 : 6);
  __u64 mangled0 = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
  __u32 old_addr = dst ? p->daddr : p->saddr;
  __u16 old_port = dst ? p->dport : p->sport;
  __u32 new_addr = h->addr;
  __u16 new_port = h->port;
  // The TTL shares a 16-bit word with the protocol.
  __u16 old_ttl = __builtin_bswap16((__u16)((p->ttl << 8) | p->proto));
  __u16 new_ttl = __builtin_bswap16((__u16)(((p->ttl - 1) << 8) | p->proto));
  __u8 ttl = p->ttl - 1;
  if (l4_csum_replace(skb, csum_off, old_addr, new_addr, BPF_F_PSEUDO_HDR | mangled0 | 4) < 0) return 0;
  if (l4_csum_replace(skb, csum_off, old_port, new_port, mangled0 | 2) < 0) return 0;
  if (l3_csum_replace(skb, IP_OFF + 10, old_addr, new_addr, 4) < 0) return 0;
  if (l3_csum_replace(skb, IP_OFF + 10, old_ttl, new_ttl, 2) < 0) return 0;
  if (store_bytes(skb, IP_OFF + (dst ? 16 : 12), &new_addr, 4, 0) < 0) return 0;
  if (store_bytes(skb, L4_OFF + (dst ? 2 : 0), &new_port, 2, 0) < 0) return 0;
  if (store_bytes(skb, IP_OFF + 8, &ttl, 1, 0) < 0) return 0;
  if (store_bytes(skb, 0, h->dst_mac, 6, 0) < 0) return 0;
  if (store_bytes(skb, 6, h->src_mac, 6, 0) < 0) return 0;
  return 1;
}

INLINE int same_mac(const __u8 *a, const __u8 *b) {
  return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

// The published port of key k, or of every local address.
INLINE struct hop *published(struct port_key *k) {
  struct hop *b = map_lookup(&berth_nat_ports, k);
  if (b) return b;
  k->addr = 0;
  return map_lookup(&berth_nat_ports, k);
}

#define INNER_IP_OFF (L4_OFF + 8)
#define INNER_L4_OFF (INNER_IP_OFF + 20)

// An ICMP error (destination unreachable, fragmentation needed among them, or time exceeded)
// about a packet a container sent through berth_nat_out: it goes to that container as conntrack
// would send it, its outer destination and the quoted packet's source made the container's again.
// Without this a fast-path flow would never learn a smaller path MTU.
INLINE int icmp_error_in(struct __sk_buff *skb, const struct parsed *p) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  __u8 *icmp = data + L4_OFF;
  struct iphdr *inner = data + INNER_IP_OFF;
  __u16 *ports = data + INNER_L4_OFF;
  if ((void *)(ports + 2) > end) return TC_ACT_UNSPEC;
  if (icmp[0] != 3 && icmp[0] != 11) return TC_ACT_UNSPEC;
  if (inner->version != 4 || inner->ihl != 5) return TC_ACT_UNSPEC;
  if (inner->protocol != IPPROTO_TCP && inner->protocol != IPPROTO_UDP) return TC_ACT_UNSPEC;
  // The quoted packet left from the published address and port to the client.
  if (inner->saddr != p->daddr) return TC_ACT_UNSPEC;
  __u32 client = inner->daddr;
  __u16 published_port = ports[0], client_port = ports[1];
  struct port_key k = {.addr = inner->saddr, .port = published_port, .proto = inner->protocol, .pad = 0};
  struct hop *b = published(&k);
  if (!b) return TC_ACT_UNSPEC;
  struct flow_key fk = {.client = client, .backend = b->addr, .client_port = client_port,
                        .backend_port = b->port, .proto = inner->protocol};
  struct hop *f = map_lookup(&berth_nat_flows, &fk);
  if (!f || f->addr != p->daddr || f->port != published_port) return TC_ACT_UNSPEC;

  __u32 new_addr = b->addr;
  __u16 new_port = b->port;
  __u32 target = b->ifindex;
  __u16 old_ttl = __builtin_bswap16((__u16)((p->ttl << 8) | IPPROTO_ICMP));
  __u16 new_ttl = __builtin_bswap16((__u16)(((p->ttl - 1) << 8) | IPPROTO_ICMP));
  __u8 ttl = p->ttl - 1;
  __u8 dst_mac[6], src_mac[6];
  __builtin_memcpy(dst_mac, b->dst_mac, 6);
  __builtin_memcpy(src_mac, b->src_mac, 6);
  // The quoted header's own checksum makes up for its source address, so the ICMP checksum (over
  // the quoted bytes, no pseudo-header) only follows the quoted source port.
  if (l3_csum_replace(skb, INNER_IP_OFF + 10, p->daddr, new_addr, 4) < 0) return TC_ACT_SHOT;
  if (l3_csum_replace(skb, L4_OFF + 2, published_port, new_port, 2) < 0) return TC_ACT_SHOT;
  if (store_bytes(skb, INNER_IP_OFF + 12, &new_addr, 4, 0) < 0) return TC_ACT_SHOT;
  if (store_bytes(skb, INNER_L4_OFF, &new_port, 2, 0) < 0) return TC_ACT_SHOT;
  if (l3_csum_replace(skb, IP_OFF + 10, p->daddr, new_addr, 4) < 0) return TC_ACT_SHOT;
  if (l3_csum_replace(skb, IP_OFF + 10, old_ttl, new_ttl, 2) < 0) return TC_ACT_SHOT;
  if (store_bytes(skb, IP_OFF + 16, &new_addr, 4, 0) < 0) return TC_ACT_SHOT;
  if (store_bytes(skb, IP_OFF + 8, &ttl, 1, 0) < 0) return TC_ACT_SHOT;
  if (store_bytes(skb, 0, dst_mac, 6, 0) < 0) return TC_ACT_SHOT;
  if (store_bytes(skb, 6, src_mac, 6, 0) < 0) return TC_ACT_SHOT;
  count(0);
  return redirect_peer(target, 0);
}

SEC("tc/in") int berth_nat_in(struct __sk_buff *skb) {
  struct parsed p;
  int kind = parse(skb, &p, 1);
  if (!kind) return TC_ACT_UNSPEC;
  __u32 ifindex = skb->ingress_ifindex;
  if (!map_lookup(&berth_nat_uplinks, &ifindex)) return TC_ACT_UNSPEC;
  if (kind == 2) return icmp_error_in(skb, &p);
  struct port_key k = {.addr = p.daddr, .port = p.dport, .proto = p.proto, .pad = 0};
  struct hop *b = published(&k);
  if (!b) return TC_ACT_UNSPEC;
  if (too_big(skb, b->mtu)) return TC_ACT_UNSPEC;
  // Only packets for this host (nftables' `fib daddr type local`): not forwarded, not broadcast.
  struct bpf_fib_lookup fib = {};
  fib.family = 2;  // AF_INET
  fib.l4_protocol = p.proto;
  fib.sport = p.sport;
  fib.dport = p.dport;
  fib.ipv4_src = p.saddr;
  fib.ipv4_dst = p.daddr;
  fib.ifindex = ifindex;
  if (fib_lookup(skb, &fib, sizeof fib, 0) != BPF_FIB_LKUP_RET_NOT_FWDED) return TC_ACT_UNSPEC;

  struct flow_key fk = {.client = p.saddr, .backend = b->addr, .client_port = p.sport,
                        .backend_port = b->port, .proto = p.proto};
  struct hop *f = map_lookup(&berth_nat_flows, &fk);
  if (!f || f->addr != p.daddr || f->port != p.dport || f->ifindex != ifindex ||
      !same_mac(f->dst_mac, p.eth_src) || !same_mac(f->src_mac, p.eth_dst)) {
    struct hop back = {.addr = p.daddr, .port = p.dport, .mtu = 0, .ifindex = ifindex};
    __builtin_memcpy(back.dst_mac, p.eth_src, 6);
    __builtin_memcpy(back.src_mac, p.eth_dst, 6);
    __u32 *mtu = map_lookup(&berth_nat_uplinks, &ifindex);
    if (mtu) back.mtu = (__u16)*mtu;
    if (map_update(&berth_nat_flows, &fk, &back, BPF_ANY) < 0) return TC_ACT_UNSPEC;
  }
  __u32 target = b->ifindex;
  if (!rewrite(skb, &p, b, 1)) return TC_ACT_SHOT;  // half-rewritten: not for the kernel's path
  count(0);
  return redirect_peer(target, 0);
}

SEC("tc/out") int berth_nat_out(struct __sk_buff *skb) {
  struct parsed p;
  if (!parse(skb, &p, 0)) return TC_ACT_UNSPEC;
  struct flow_key fk = {.client = p.daddr, .backend = p.saddr, .client_port = p.dport,
                        .backend_port = p.sport, .proto = p.proto};
  struct hop *f = map_lookup(&berth_nat_flows, &fk);
  if (!f) return TC_ACT_UNSPEC;
  if (too_big(skb, f->mtu)) return TC_ACT_UNSPEC;
  __u32 target = f->ifindex;
  if (!rewrite(skb, &p, f, 0)) return TC_ACT_SHOT;
  count(1);
  return redirect(target, 0);
}
