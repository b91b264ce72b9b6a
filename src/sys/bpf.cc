#include "sys/bpf.h"

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace berth::sys {
namespace {

long Bpf(int cmd, bpf_attr* attr) { return ::syscall(__NR_bpf, cmd, attr, sizeof *attr); }

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// The map key: the destination MAC, then two zero bytes.
uint64_t Key(const Mac& mac) {
  uint64_t k = 0;
  std::memcpy(&k, mac.data(), mac.size());
  return k;
}

// r1 = skb. A frame of at least an Ethernet header whose destination is in the map is redirected
// to that host veth's peer (bpf_redirect_peer returns TC_ACT_REDIRECT); anything else is
// TC_ACT_UNSPEC (on to the next filter, the published ports' reverse NAT, then the bridge).
std::vector<bpf_insn> Program(int map_fd) {
  constexpr int kPass = 21;  // the index of the TC_ACT_UNSPEC tail
  std::vector<bpf_insn> p = {
      /* 0 */ Insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0),
      /* 1 */ Insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_6, offsetof(__sk_buff, data), 0),
      /* 2 */ Insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_6, offsetof(__sk_buff, data_end), 0),
      /* 3 */ Insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0),
      /* 4 */ Insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_4, 0, 0, 14),
      /* 5 */ Insn(BPF_JMP | BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_3, kPass - 6, 0),
      // The key on the stack at fp-8: MAC bytes 0-3, 4-5, then 0.
      /* 6 */ Insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_2, 0, 0),
      /* 7 */ Insn(BPF_STX | BPF_W | BPF_MEM, BPF_REG_10, BPF_REG_5, -8, 0),
      /* 8 */ Insn(BPF_LDX | BPF_H | BPF_MEM, BPF_REG_5, BPF_REG_2, 4, 0),
      /* 9 */ Insn(BPF_STX | BPF_H | BPF_MEM, BPF_REG_10, BPF_REG_5, -4, 0),
      /* 10 */ Insn(BPF_ST | BPF_H | BPF_MEM, BPF_REG_10, 0, -2, 0),
      /* 11 */ Insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd),
      /* 12 */ Insn(0, 0, 0, 0, 0),
      /* 13 */ Insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
      /* 14 */ Insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8),
      /* 15 */ Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
      /* 16 */ Insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, kPass - 17, 0),
      /* 17 */ Insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_1, BPF_REG_0, 0, 0),
      /* 18 */ Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 0),
      /* 19 */ Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_peer),
      /* 20 */ Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
      /* 21 */ Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, TC_ACT_UNSPEC),
      /* 22 */ Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  return p;
}

Status Unavailable(int err, const std::string& what) {
  return absl::UnimplementedError(absl::StrCat(what, ": ", std::strerror(err)));
}

}  // namespace

StatusOr<PeerRedirect> PeerRedirect::Load() {
  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_HASH;
  attr.key_size = sizeof(uint64_t);
  attr.value_size = sizeof(uint32_t);
  attr.max_entries = 1024;
  std::strncpy(attr.map_name, "berth_peers", sizeof attr.map_name - 1);
  long fd = Bpf(BPF_MAP_CREATE, &attr);
  if (fd < 0) return Unavailable(errno, "bpf map");
  UniqueFd map(static_cast<int>(fd));

  std::vector<bpf_insn> insns = Program(map.get());
  static const char kLicense[] = "Apache-2.0";
  auto load = [&](char* log, uint32_t log_size) {
    bpf_attr a{};
    a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
    a.insn_cnt = static_cast<uint32_t>(insns.size());
    a.insns = reinterpret_cast<uintptr_t>(insns.data());
    a.license = reinterpret_cast<uintptr_t>(kLicense);
    std::strncpy(a.prog_name, "berth_peer", sizeof a.prog_name - 1);
    if (log != nullptr) {
      a.log_level = 1;
      a.log_buf = reinterpret_cast<uintptr_t>(log);
      a.log_size = log_size;
    }
    return Bpf(BPF_PROG_LOAD, &a);
  };
  fd = load(nullptr, 0);
  if (fd < 0) {
    int err = errno;
    // Again with the verifier's log, for the reason.
    std::string log(16384, '\0');
    (void)load(log.data(), static_cast<uint32_t>(log.size()));
    log.resize(std::strlen(log.c_str()));
    while (!log.empty() && log.back() == '\n') log.pop_back();
    if (auto nl = log.rfind('\n'); nl != std::string::npos) log = log.substr(nl + 1);
    return Unavailable(err, "bpf program" + (log.empty() ? "" : " (" + log + ")"));
  }
  return PeerRedirect(std::move(map), UniqueFd(static_cast<int>(fd)));
}

Status PeerRedirect::Set(const Mac& mac, uint32_t ifindex) const {
  uint64_t key = Key(mac);
  bpf_attr attr{};
  attr.map_fd = static_cast<uint32_t>(map_.get());
  attr.key = reinterpret_cast<uintptr_t>(&key);
  attr.value = reinterpret_cast<uintptr_t>(&ifindex);
  attr.flags = BPF_ANY;
  if (Bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0) return ErrnoStatus(errno, "bpf map update");
  return absl::OkStatus();
}

Status PeerRedirect::Erase(const Mac& mac) const {
  uint64_t key = Key(mac);
  bpf_attr attr{};
  attr.map_fd = static_cast<uint32_t>(map_.get());
  attr.key = reinterpret_cast<uintptr_t>(&key);
  if (Bpf(BPF_MAP_DELETE_ELEM, &attr) < 0 && errno != ENOENT) return ErrnoStatus(errno, "bpf map delete");
  return absl::OkStatus();
}

StatusOr<std::vector<std::pair<Mac, uint32_t>>> PeerRedirect::Entries() const {
  std::vector<std::pair<Mac, uint32_t>> out;
  uint64_t key = 0, next = 0;
  bool first = true;
  for (;;) {
    bpf_attr attr{};
    attr.map_fd = static_cast<uint32_t>(map_.get());
    attr.key = first ? 0 : reinterpret_cast<uintptr_t>(&key);
    attr.next_key = reinterpret_cast<uintptr_t>(&next);
    if (Bpf(BPF_MAP_GET_NEXT_KEY, &attr) < 0) {
      if (errno == ENOENT) break;
      return ErrnoStatus(errno, "bpf map next key");
    }
    first = false;
    key = next;
    uint32_t value = 0;
    bpf_attr get{};
    get.map_fd = static_cast<uint32_t>(map_.get());
    get.key = reinterpret_cast<uintptr_t>(&key);
    get.value = reinterpret_cast<uintptr_t>(&value);
    if (Bpf(BPF_MAP_LOOKUP_ELEM, &get) < 0) continue;  // deleted meanwhile
    Mac mac{};
    std::memcpy(mac.data(), &key, mac.size());
    out.emplace_back(mac, value);
  }
  return out;
}

}  // namespace berth::sys
