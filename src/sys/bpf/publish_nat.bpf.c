// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
// (Dual-licensed, unlike the rest of Berth: the kernel lets only a program that declares a
// GPL-compatible licence call bpf_fib_lookup. berthd embeds it under the BSD-2-Clause terms.)
//
// Published TCP ports without netfilter: the DNAT of a connection from another host to a
// container's published port, and the reverse NAT of the container's replies, done at tc ingress.
// Compiled by clang for the bpf target at build time and loaded by sys/publish_nat.cc, which also
// makes the maps named below and fills them (no libbpf: every function here is inlined, so the
// only relocations are the maps').
//
//   berth_nat_in   at tc ingress of each uplink (a host interface that is not Berth's): a TCP
//                  packet for one of the host's addresses (berth_nat_local) and a published port
//                  is rewritten to the container's address and port and handed to the container's
//                  eth0 (bpf_redirect_peer on its host-side veth): no routing, no bridge, no
//                  conntrack. The flow is remembered (client address and port -> the address it
//                  asked for, the uplink, the next hop's MAC) once the kernel's FIB confirms the
//                  client is reached back through the same uplink (strict reverse-path check, so
//                  a spoofed local or container source never gets a flow). An ICMP error about a
//                  remembered flow's reply (fragmentation needed among them) goes to the
//                  container too.
//   berth_nat_out  at tc ingress of each published container's host-side veth: a packet of a
//                  remembered flow gets its source back (the address and port the client asked
//                  for) and leaves by the uplink the flow came in on, to the next hop's MAC.
//
// Anything else returns TC_ACT_UNSPEC before any byte is changed: the next filter or, with none,
// the kernel's usual path, where nftables' DNAT (and conntrack) still publishes the port. That is
// UDP (fragmented replies need conntrack's reassembly), IPv6, IP options, fragments, VLAN-tagged
// frames, TTL 1, a packet larger than the other side's MTU (the kernel then sends the ICMP), a
// destination that is not one of the host's addresses.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))
#define INLINE static inline __attribute__((always_inline))

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HTONS(x) __builtin_bswap16(x)
#else
#define HTONS(x) (x)
#endif

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
static long (*check_mtu)(void *ctx, __u32 ifindex, __u32 *mtu_len, __s32 len_diff, __u64 flags) =
    (void *)BPF_FUNC_check_mtu;

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
  __u16 pad;
  __u32 ifindex;    // in: the container's host-side veth; out: the uplink
  __u8 dst_mac[6];  // in: the container's MAC; out: the next hop's towards the client
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
char berth_nat_uplinks SEC("maps");  // hash: __u32 ifindex -> __u32 (unused)
char berth_nat_local SEC("maps");    // hash: __u32 address -> __u32 (unused): the host's addresses
char berth_nat_stats SEC("maps");    // per-CPU array of 2 __u64: packets in, packets out

char _license[] SEC("license") = "Dual BSD/GPL";

#define ETH_LEN 14
#define IP_OFF ETH_LEN
#define L4_OFF (ETH_LEN + 20)
#define TCP_CSUM_OFF (L4_OFF + 16)
#define AF_INET 2

INLINE void count(__u32 which) {
  __u64 *n = map_lookup(&berth_nat_stats, &which);
  if (n) *n += 1;
}

struct parsed {
  __u32 saddr, daddr;
  __u16 sport, dport;
  __u8 proto, ttl;
};
// The packet's IPv4 header (no options, not a fragment, TTL above 1) and its ports: 1 for TCP,
// 2 for ICMP from an uplink (ports then meaningless), 0 for anything else. from_uplink: the frame
// must be addressed to the uplink itself (on a container's host-side veth a frame to the gateway
// is PACKET_OTHERHOST: it is the bridge's MAC, not the veth's).
INLINE int parse(struct __sk_buff *skb, struct parsed *p, int from_uplink) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  if (from_uplink && skb->pkt_type != PACKET_HOST) return 0;
  if (skb->vlan_present || skb->protocol != HTONS(ETH_P_IP)) return 0;
  struct ethhdr *eth = data;
  struct iphdr *ip = data + ETH_LEN;
  __u16 *ports = data + L4_OFF;
  if ((void *)(ports + 2) > end) return 0;
  if (eth->h_proto != HTONS(ETH_P_IP)) return 0;
  if (eth->h_dest[0] & 1) return 0;  // multicast, broadcast
  if (ip->version != 4 || ip->ihl != 5) return 0;
  if (ip->frag_off & HTONS(0x3fff)) return 0;  // MF or an offset
  if (ip->ttl <= 1) return 0;
  int icmp = from_uplink && ip->protocol == IPPROTO_ICMP;
  if (ip->protocol != IPPROTO_TCP && !icmp) return 0;
  p->saddr = ip->saddr;
  p->daddr = ip->daddr;
  p->sport = ports[0];
  p->dport = ports[1];
  p->proto = ip->protocol;
  p->ttl = ip->ttl;
  return icmp ? 2 : 1;
}

// Whether the packet fits the MTU of ifindex (each segment of a GSO packet).
INLINE int fits(struct __sk_buff *skb, __u32 ifindex) {
  __u32 mtu_len = 0;
  return check_mtu(skb, ifindex, &mtu_len, 0, BPF_MTU_CHK_SEGS) == BPF_MTU_CHK_RET_SUCCESS;
}

// The published port of key k, or of every local address.
INLINE struct hop *published(struct port_key *k) {
  struct hop *b = map_lookup(&berth_nat_ports, k);
  if (b) return b;
  k->addr = 0;
  return map_lookup(&berth_nat_ports, k);
}

// The TTL shares a 16-bit word with the protocol.
INLINE __u16 ttl_word(__u8 ttl, __u8 proto) { return HTONS((__u16)((ttl << 8) | proto)); }

// Rewrites the destination (dst = 1) or source address and port of a TCP packet to h's,
// decrements the TTL and sets the Ethernet addresses; checksums follow (a partial TCP checksum is
// handled by the helper). 0 when a helper failed (the packet may be half-rewritten).
INLINE int rewrite(struct __sk_buff *skb, const struct parsed *p, const struct hop *h, int dst) {
  __u32 old_addr = dst ? p->daddr : p->saddr;
  __u16 old_port = dst ? p->dport : p->sport;
  __u32 new_addr = h->addr;
  __u16 new_port = h->port;
  __u8 ttl = p->ttl - 1;
  if (l4_csum_replace(skb, TCP_CSUM_OFF, old_addr, new_addr, BPF_F_PSEUDO_HDR | 4) < 0) return 0;
  if (l4_csum_replace(skb, TCP_CSUM_OFF, old_port, new_port, 2) < 0) return 0;
  if (l3_csum_replace(skb, IP_OFF + 10, old_addr, new_addr, 4) < 0) return 0;
  if (l3_csum_replace(skb, IP_OFF + 10, ttl_word(p->ttl, p->proto), ttl_word(ttl, p->proto), 2) < 0) return 0;
  if (store_bytes(skb, IP_OFF + (dst ? 16 : 12), &new_addr, 4, 0) < 0) return 0;
  if (store_bytes(skb, L4_OFF + (dst ? 2 : 0), &new_port, 2, 0) < 0) return 0;
  if (store_bytes(skb, IP_OFF + 8, &ttl, 1, 0) < 0) return 0;
  if (store_bytes(skb, 0, h->dst_mac, 6, 0) < 0) return 0;
  if (store_bytes(skb, 6, h->src_mac, 6, 0) < 0) return 0;
  return 1;
}

#define INNER_IP_OFF (L4_OFF + 8)
#define INNER_L4_OFF (INNER_IP_OFF + 20)

// An ICMP error (destination unreachable, fragmentation needed among them, or time exceeded)
// about a reply berth_nat_out sent: it goes to that container as conntrack would send it, its
// outer destination and the quoted packet's source made the container's again. Without this a
// flow would never learn a smaller path MTU.
INLINE int icmp_error_in(struct __sk_buff *skb, const struct parsed *p) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  __u8 *icmp = data + L4_OFF;
  struct iphdr *inner = data + INNER_IP_OFF;
  __u16 *ports = data + INNER_L4_OFF;
  if ((void *)(ports + 2) > end) return TC_ACT_UNSPEC;
  if (icmp[0] != 3 && icmp[0] != 11) return TC_ACT_UNSPEC;
  if (inner->version != 4 || inner->ihl != 5 || inner->protocol != IPPROTO_TCP) return TC_ACT_UNSPEC;
  // The quoted packet left from the published address and port to the client.
  if (inner->saddr != p->daddr) return TC_ACT_UNSPEC;
  __u16 published_port = ports[0];
  struct port_key k = {.addr = inner->saddr, .port = published_port, .proto = IPPROTO_TCP, .pad = 0};
  struct hop *b = published(&k);
  if (!b) return TC_ACT_UNSPEC;
  struct flow_key fk = {.client = inner->daddr, .backend = b->addr, .client_port = ports[1],
                        .backend_port = b->port, .proto = IPPROTO_TCP};
  struct hop *f = map_lookup(&berth_nat_flows, &fk);
  if (!f || f->addr != p->daddr || f->port != published_port) return TC_ACT_UNSPEC;
  __u32 target = b->ifindex;
  if (!fits(skb, target)) return TC_ACT_UNSPEC;

  __u32 new_addr = b->addr;
  __u16 new_port = b->port;
  __u8 ttl = p->ttl - 1;
  __u8 dst_mac[6], src_mac[6];
  __builtin_memcpy(dst_mac, b->dst_mac, 6);
  __builtin_memcpy(src_mac, b->src_mac, 6);
  // The quoted header's own checksum makes up for its source address, so the ICMP checksum (over
  // the quoted bytes, no pseudo-header) only follows the quoted source port. (The quoted TCP
  // checksum is past the 8 bytes an error quotes.)
  if (l3_csum_replace(skb, INNER_IP_OFF + 10, p->daddr, new_addr, 4) < 0) return TC_ACT_SHOT;
  if (l3_csum_replace(skb, L4_OFF + 2, published_port, new_port, 2) < 0) return TC_ACT_SHOT;
  if (store_bytes(skb, INNER_IP_OFF + 12, &new_addr, 4, 0) < 0) return TC_ACT_SHOT;
  if (store_bytes(skb, INNER_L4_OFF, &new_port, 2, 0) < 0) return TC_ACT_SHOT;
  if (l3_csum_replace(skb, IP_OFF + 10, p->daddr, new_addr, 4) < 0) return TC_ACT_SHOT;
  if (l3_csum_replace(skb, IP_OFF + 10, ttl_word(p->ttl, IPPROTO_ICMP), ttl_word(ttl, IPPROTO_ICMP), 2) < 0)
    return TC_ACT_SHOT;
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
  // Only packets for this host (nftables' `fib daddr type local`).
  if (!map_lookup(&berth_nat_local, &p.daddr)) return TC_ACT_UNSPEC;
  if (kind == 2) return icmp_error_in(skb, &p);
  struct port_key k = {.addr = p.daddr, .port = p.dport, .proto = p.proto, .pad = 0};
  struct hop *b = published(&k);
  if (!b) return TC_ACT_UNSPEC;
  __u32 target = b->ifindex;
  if (!fits(skb, target)) return TC_ACT_UNSPEC;

  struct flow_key fk = {.client = p.saddr, .backend = b->addr, .client_port = p.sport,
                        .backend_port = b->port, .proto = p.proto};
  struct hop *f = map_lookup(&berth_nat_flows, &fk);
  if (!f || f->addr != p.daddr || f->port != p.dport || f->ifindex != ifindex) {
    // A new flow (or one that moved): the way back to the client must be the way it came.
    struct bpf_fib_lookup fib = {};
    fib.family = AF_INET;
    fib.l4_protocol = p.proto;
    fib.sport = p.dport;
    fib.dport = p.sport;
    fib.ipv4_src = p.daddr;
    fib.ipv4_dst = p.saddr;
    fib.ifindex = ifindex;
    if (fib_lookup(skb, &fib, sizeof fib, 0) != BPF_FIB_LKUP_RET_SUCCESS || fib.ifindex != ifindex)
      return TC_ACT_UNSPEC;
    struct hop back = {.addr = p.daddr, .port = p.dport, .pad = 0, .ifindex = ifindex};
    __builtin_memcpy(back.dst_mac, fib.dmac, 6);
    __builtin_memcpy(back.src_mac, fib.smac, 6);
    if (map_update(&berth_nat_flows, &fk, &back, BPF_ANY) < 0) return TC_ACT_UNSPEC;
  }
  if (!rewrite(skb, &p, b, 1)) return TC_ACT_SHOT;  // half-rewritten: not for the kernel's path
  count(0);
  return redirect_peer(target, 0);
}

SEC("tc/out") int berth_nat_out(struct __sk_buff *skb) {
  struct parsed p;
  if (parse(skb, &p, 0) != 1) return TC_ACT_UNSPEC;
  struct flow_key fk = {.client = p.daddr, .backend = p.saddr, .client_port = p.dport,
                        .backend_port = p.sport, .proto = p.proto};
  struct hop *f = map_lookup(&berth_nat_flows, &fk);
  if (!f) return TC_ACT_UNSPEC;
  __u32 target = f->ifindex;
  if (!fits(skb, target)) return TC_ACT_UNSPEC;
  if (!rewrite(skb, &p, f, 0)) return TC_ACT_SHOT;
  count(1);
  return redirect(target, 0);
}
