#include "sys/publish_nat.h"

#include <arpa/inet.h>
#include <elf.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "sys/fs.h"

namespace berth::sys {

// The object clang made of sys/bpf/publish_nat.bpf.c (cmake/embed_bytes.cmake).
extern const unsigned char kPublishNatObject[];
extern const size_t kPublishNatObject_size;

namespace {

long Bpf(int cmd, bpf_attr* attr) { return ::syscall(__NR_bpf, cmd, attr, sizeof *attr); }

// The maps' layouts, as the program declares them (network byte order inside).
struct PortKey {
  uint32_t addr;
  uint16_t port;
  uint8_t proto;
  uint8_t pad;
};
struct Hop {
  uint32_t addr;
  uint16_t port;
  uint16_t pad;
  uint32_t ifindex;
  uint8_t dst_mac[6];
  uint8_t src_mac[6];
};
struct FlowKey {
  uint32_t client;
  uint32_t backend;
  uint16_t client_port;
  uint16_t backend_port;
  uint8_t proto;
  uint8_t pad[3];
};
static_assert(sizeof(PortKey) == 8 && sizeof(Hop) == 24 && sizeof(FlowKey) == 16);

constexpr uint32_t kMaxPorts = 16384;
// Concurrent client flows remembered (least recently active first out): ~6 MB of kernel memory.
constexpr uint32_t kMaxFlows = 65536;

StatusOr<UniqueFd> MakeMap(bpf_map_type type, uint32_t key, uint32_t value, uint32_t max, const char* name) {
  bpf_attr a{};
  a.map_type = type;
  a.key_size = key;
  a.value_size = value;
  a.max_entries = max;
  std::strncpy(a.map_name, name, sizeof a.map_name - 1);
  long fd = Bpf(BPF_MAP_CREATE, &a);
  if (fd < 0) return absl::UnimplementedError(absl::StrCat("bpf map ", name, ": ", std::strerror(errno)));
  return UniqueFd(static_cast<int>(fd));
}

// The ELF object's sections by name, and its symbols.
class Elf {
 public:
  static StatusOr<Elf> Parse(const unsigned char* data, size_t size) {
    Elf e(data);
    if (size < sizeof(Elf64_Ehdr) || std::memcmp(data, ELFMAG, SELFMAG) != 0)
      return absl::InternalError("publish_nat object: not ELF");
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(data);
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_BPF ||
        eh->e_shoff + uint64_t{eh->e_shnum} * sizeof(Elf64_Shdr) > size || eh->e_shstrndx >= eh->e_shnum)
      return absl::InternalError("publish_nat object: not a 64-bit eBPF ELF");
    e.sections_ = reinterpret_cast<const Elf64_Shdr*>(data + eh->e_shoff);
    e.count_ = eh->e_shnum;
    e.shstrndx_ = eh->e_shstrndx;
    for (unsigned i = 0; i < e.count_; ++i)
      if (e.sections_[i].sh_offset + (e.sections_[i].sh_type == SHT_NOBITS ? 0 : e.sections_[i].sh_size) > size)
        return absl::InternalError("publish_nat object: a section past the end");
    return e;
  }
  // The section's bytes, or an empty view.
  std::string_view Section(std::string_view name) const {
    const Elf64_Shdr* s = Find(name);
    if (s == nullptr) return {};
    return {reinterpret_cast<const char*>(data_ + s->sh_offset), s->sh_size};
  }
  // The relocations of section `name` (.rel<name>): instruction offset and symbol name.
  StatusOr<std::vector<std::pair<uint64_t, std::string>>> Relocations(std::string_view name) const {
    std::vector<std::pair<uint64_t, std::string>> out;
    const Elf64_Shdr* rel = Find(".rel" + std::string(name));
    if (rel == nullptr) return out;
    if (rel->sh_link >= count_ || rel->sh_entsize != sizeof(Elf64_Rel))
      return absl::InternalError("publish_nat object: bad relocation section");
    const Elf64_Shdr& symtab = sections_[rel->sh_link];
    if (symtab.sh_link >= count_) return absl::InternalError("publish_nat object: bad symbol table");
    const Elf64_Shdr& strtab = sections_[symtab.sh_link];
    const auto* rels = reinterpret_cast<const Elf64_Rel*>(data_ + rel->sh_offset);
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(data_ + symtab.sh_offset);
    size_t nsyms = symtab.sh_size / sizeof(Elf64_Sym);
    for (size_t i = 0; i < rel->sh_size / sizeof(Elf64_Rel); ++i) {
      size_t sym = ELF64_R_SYM(rels[i].r_info);
      if (sym >= nsyms || syms[sym].st_name >= strtab.sh_size)
        return absl::InternalError("publish_nat object: bad relocation symbol");
      out.emplace_back(rels[i].r_offset,
                       std::string(reinterpret_cast<const char*>(data_ + strtab.sh_offset + syms[sym].st_name)));
    }
    return out;
  }

 private:
  explicit Elf(const unsigned char* data) : data_(data) {}
  const Elf64_Shdr* Find(std::string_view name) const {
    const Elf64_Shdr& names = sections_[shstrndx_];
    for (unsigned i = 0; i < count_; ++i) {
      if (sections_[i].sh_name >= names.sh_size) continue;
      const char* n = reinterpret_cast<const char*>(data_ + names.sh_offset + sections_[i].sh_name);
      if (name == n) return &sections_[i];
    }
    return nullptr;
  }
  const unsigned char* data_;
  const Elf64_Shdr* sections_ = nullptr;
  unsigned count_ = 0;
  unsigned shstrndx_ = 0;
};

// Loads section `section` as a tc program named `name`, its map references pointed at `maps`.
StatusOr<UniqueFd> LoadProgram(const Elf& elf, const std::string& section, const char* name,
                               const std::map<std::string, int>& maps) {
  std::string_view text = elf.Section(section);
  if (text.empty() || text.size() % sizeof(bpf_insn) != 0)
    return absl::InternalError("publish_nat object: no program " + section);
  std::vector<bpf_insn> insns(text.size() / sizeof(bpf_insn));
  std::memcpy(insns.data(), text.data(), text.size());
  ASSIGN_OR_RETURN(auto relocs, elf.Relocations(section));
  for (const auto& [offset, symbol] : relocs) {
    auto m = maps.find(symbol);
    size_t i = offset / sizeof(bpf_insn);
    if (m == maps.end() || offset % sizeof(bpf_insn) != 0 || i >= insns.size() ||
        insns[i].code != (BPF_LD | BPF_IMM | BPF_DW))
      return absl::InternalError("publish_nat object: " + section + " refers to \"" + symbol +
                                  "\", which is not one of its maps");
    insns[i].src_reg = BPF_PSEUDO_MAP_FD;
    insns[i].imm = m->second;
  }
  std::string license(elf.Section("license"));
  license = license.c_str();  // up to its NUL
  auto load = [&](char* log, uint32_t log_size) {
    bpf_attr a{};
    a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
    a.insn_cnt = static_cast<uint32_t>(insns.size());
    a.insns = reinterpret_cast<uintptr_t>(insns.data());
    a.license = reinterpret_cast<uintptr_t>(license.c_str());
    std::strncpy(a.prog_name, name, sizeof a.prog_name - 1);
    if (log != nullptr) {
      a.log_level = 1;
      a.log_buf = reinterpret_cast<uintptr_t>(log);
      a.log_size = log_size;
    }
    return Bpf(BPF_PROG_LOAD, &a);
  };
  long fd = load(nullptr, 0);
  if (fd < 0) {
    int err = errno;
    // Again with the verifier's log, for its last line.
    std::string log(1 << 20, '\0');
    (void)load(log.data(), static_cast<uint32_t>(log.size()));
    log.resize(std::strlen(log.c_str()));
    while (!log.empty() && log.back() == '\n') log.pop_back();
    if (auto nl = log.rfind('\n'); nl != std::string::npos) log = log.substr(nl + 1);
    return absl::UnimplementedError(absl::StrCat("bpf program ", name, ": ", std::strerror(err),
                                                 log.empty() ? "" : " (" + log + ")"));
  }
  return UniqueFd(static_cast<int>(fd));
}

PortKey KeyOf(const PublishNat::Port& p) {
  PortKey k{};
  k.addr = htonl(p.addr);
  k.port = htons(p.port);
  k.proto = p.proto;
  return k;
}

Status Update(int map, const void* key, const void* value) {
  bpf_attr a{};
  a.map_fd = static_cast<uint32_t>(map);
  a.key = reinterpret_cast<uintptr_t>(key);
  a.value = reinterpret_cast<uintptr_t>(value);
  a.flags = BPF_ANY;
  if (Bpf(BPF_MAP_UPDATE_ELEM, &a) < 0) return ErrnoStatus(errno, "bpf map update");
  return absl::OkStatus();
}

Status Delete(int map, const void* key) {
  bpf_attr a{};
  a.map_fd = static_cast<uint32_t>(map);
  a.key = reinterpret_cast<uintptr_t>(key);
  if (Bpf(BPF_MAP_DELETE_ELEM, &a) < 0 && errno != ENOENT) return ErrnoStatus(errno, "bpf map delete");
  return absl::OkStatus();
}

// Calls f(key) for every key of the map (a key deleted meanwhile may be skipped).
template <class Key, class F>
Status ForEachKey(int map, F f) {
  Key key{}, next{};
  bool first = true;
  for (;;) {
    bpf_attr a{};
    a.map_fd = static_cast<uint32_t>(map);
    a.key = first ? 0 : reinterpret_cast<uintptr_t>(&key);
    a.next_key = reinterpret_cast<uintptr_t>(&next);
    if (Bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return ErrnoStatus(errno, "bpf map next key");
    }
    first = false;
    key = next;
    RETURN_IF_ERROR(f(key));
  }
}

// The maps this build makes: the kernel's name (15 characters at most) and the layout.
struct MapDef {
  const char* name;
  bpf_map_type type;
  uint32_t key, value, max;
};
constexpr MapDef kMaps[] = {
    {"berth_nat_ports", BPF_MAP_TYPE_HASH, sizeof(PortKey), sizeof(Hop), kMaxPorts},
    {"berth_nat_flows", BPF_MAP_TYPE_LRU_HASH, sizeof(FlowKey), sizeof(Hop), kMaxFlows},
    {"berth_nat_upl", BPF_MAP_TYPE_HASH, sizeof(uint32_t), sizeof(uint32_t), 1024},
    {"berth_nat_local", BPF_MAP_TYPE_HASH, sizeof(uint32_t), sizeof(uint32_t), 4096},
    {"berth_nat_stat", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(uint32_t), sizeof(uint64_t), 2},
};

// The maps of program prog_id, by kernel name, where each of kMaps is there with its layout;
// empty otherwise.
std::map<std::string, UniqueFd> MapsOf(uint32_t prog_id) {
  std::map<std::string, UniqueFd> out;
  bpf_attr a{};
  a.prog_id = prog_id;
  long fd = Bpf(BPF_PROG_GET_FD_BY_ID, &a);
  if (fd < 0) return {};
  UniqueFd prog(static_cast<int>(fd));
  uint32_t ids[16] = {};
  bpf_prog_info info{};
  info.nr_map_ids = 16;
  info.map_ids = reinterpret_cast<uintptr_t>(ids);
  bpf_attr get{};
  get.info.bpf_fd = static_cast<uint32_t>(prog.get());
  get.info.info_len = sizeof info;
  get.info.info = reinterpret_cast<uintptr_t>(&info);
  if (Bpf(BPF_OBJ_GET_INFO_BY_FD, &get) < 0) return {};
  for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, 16); ++i) {
    bpf_attr m{};
    m.map_id = ids[i];
    long mfd = Bpf(BPF_MAP_GET_FD_BY_ID, &m);
    if (mfd < 0) continue;
    UniqueFd map(static_cast<int>(mfd));
    bpf_map_info mi{};
    bpf_attr mget{};
    mget.info.bpf_fd = static_cast<uint32_t>(map.get());
    mget.info.info_len = sizeof mi;
    mget.info.info = reinterpret_cast<uintptr_t>(&mi);
    if (Bpf(BPF_OBJ_GET_INFO_BY_FD, &mget) < 0) continue;
    for (const MapDef& d : kMaps)
      if (std::strncmp(mi.name, d.name, sizeof mi.name) == 0 && mi.type == static_cast<uint32_t>(d.type) &&
          mi.key_size == d.key && mi.value_size == d.value && mi.max_entries == d.max)
        out[d.name] = std::move(map);
  }
  if (out.size() != std::size(kMaps)) return {};
  return out;
}

}  // namespace

StatusOr<PublishNat> PublishNat::Load(uint32_t adopt_prog_id) {
  PublishNat n;
  std::map<std::string, UniqueFd> maps;
  if (adopt_prog_id != 0) maps = MapsOf(adopt_prog_id);
  n.adopted_ = !maps.empty();
  for (const MapDef& d : kMaps) {
    if (maps.count(d.name)) continue;
    ASSIGN_OR_RETURN(maps[d.name], MakeMap(d.type, d.key, d.value, d.max, d.name));
  }
  n.ports_ = std::move(maps["berth_nat_ports"]);
  n.flows_ = std::move(maps["berth_nat_flows"]);
  n.uplinks_ = std::move(maps["berth_nat_upl"]);
  n.local_ = std::move(maps["berth_nat_local"]);
  n.stats_ = std::move(maps["berth_nat_stat"]);
  ASSIGN_OR_RETURN(Elf elf, Elf::Parse(kPublishNatObject, kPublishNatObject_size));
  std::map<std::string, int> symbols = {{"berth_nat_ports", n.ports_.get()},
                                        {"berth_nat_flows", n.flows_.get()},
                                        {"berth_nat_uplinks", n.uplinks_.get()},
                                        {"berth_nat_local", n.local_.get()},
                                        {"berth_nat_stats", n.stats_.get()}};
  ASSIGN_OR_RETURN(n.in_, LoadProgram(elf, "tc/in", "berth_nat_in", symbols));
  ASSIGN_OR_RETURN(n.out_, LoadProgram(elf, "tc/out", "berth_nat_out", symbols));
  return n;
}

Status PublishNat::SetPort(const Port& p, const Backend& b) const {
  PortKey k = KeyOf(p);
  Hop h{};
  h.addr = htonl(b.addr);
  h.port = htons(b.port);
  h.ifindex = b.ifindex;
  std::memcpy(h.dst_mac, b.mac.data(), 6);
  std::memcpy(h.src_mac, b.gateway_mac.data(), 6);
  return Update(ports_.get(), &k, &h);
}

Status PublishNat::ErasePort(const Port& p) const {
  PortKey k = KeyOf(p);
  return Delete(ports_.get(), &k);
}

Status PublishNat::SetUplink(uint32_t ifindex) const {
  uint32_t one = 1;
  return Update(uplinks_.get(), &ifindex, &one);
}

Status PublishNat::EraseUplink(uint32_t ifindex) const { return Delete(uplinks_.get(), &ifindex); }

Status PublishNat::SetLocal(uint32_t addr) const {
  uint32_t key = htonl(addr), one = 1;
  return Update(local_.get(), &key, &one);
}

Status PublishNat::EraseLocal(uint32_t addr) const {
  uint32_t key = htonl(addr);
  return Delete(local_.get(), &key);
}

StatusOr<int> PublishNat::ForgetFlowsTo(const std::set<std::pair<uint32_t, uint16_t>>& backends) const {
  if (backends.empty()) return 0;
  std::vector<FlowKey> gone;
  RETURN_IF_ERROR(ForEachKey<FlowKey>(flows_.get(), [&](const FlowKey& k) {
    if (backends.count({ntohl(k.backend), ntohs(k.backend_port)})) gone.push_back(k);
    return absl::OkStatus();
  }));
  for (const FlowKey& k : gone) RETURN_IF_ERROR(Delete(flows_.get(), &k));
  return static_cast<int>(gone.size());
}

StatusOr<std::vector<uint32_t>> PublishNat::Uplinks() const {
  std::vector<uint32_t> out;
  RETURN_IF_ERROR(ForEachKey<uint32_t>(uplinks_.get(), [&](uint32_t k) {
    out.push_back(k);
    return absl::OkStatus();
  }));
  return out;
}

StatusOr<std::vector<uint32_t>> PublishNat::Locals() const {
  std::vector<uint32_t> out;
  RETURN_IF_ERROR(ForEachKey<uint32_t>(local_.get(), [&](uint32_t k) {
    out.push_back(ntohl(k));
    return absl::OkStatus();
  }));
  return out;
}

StatusOr<std::vector<std::pair<PublishNat::Port, PublishNat::Backend>>> PublishNat::Ports() const {
  std::vector<std::pair<Port, Backend>> out;
  RETURN_IF_ERROR(ForEachKey<PortKey>(ports_.get(), [&](const PortKey& k) {
    Hop h{};
    bpf_attr a{};
    a.map_fd = static_cast<uint32_t>(ports_.get());
    a.key = reinterpret_cast<uintptr_t>(&k);
    a.value = reinterpret_cast<uintptr_t>(&h);
    if (Bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0) return absl::OkStatus();  // deleted meanwhile
    Port p{ntohl(k.addr), ntohs(k.port), k.proto};
    Backend b;
    b.addr = ntohl(h.addr);
    b.port = ntohs(h.port);
    b.ifindex = h.ifindex;
    std::memcpy(b.mac.data(), h.dst_mac, 6);
    std::memcpy(b.gateway_mac.data(), h.src_mac, 6);
    out.emplace_back(p, b);
    return absl::OkStatus();
  }));
  return out;
}

StatusOr<int> PublishNat::FlowCount() const {
  int n = 0;
  RETURN_IF_ERROR(ForEachKey<FlowKey>(flows_.get(), [&](const FlowKey&) {
    ++n;
    return absl::OkStatus();
  }));
  return n;
}

StatusOr<uint64_t> PublishNat::Packets(uint32_t which) const {
  // The kernel copies one 8-byte value per possible CPU: "0-1", "0", "0-3,6-7".
  ASSIGN_OR_RETURN(std::string possible, ReadFile("/sys/devices/system/cpu/possible"));
  size_t cpus = 0, n = 0;
  bool digits = false;
  for (char c : possible + ",") {
    if (c >= '0' && c <= '9') {
      n = n * 10 + static_cast<size_t>(c - '0');
      digits = true;
    } else {
      if (digits) cpus = std::max(cpus, n + 1);
      n = 0;
      digits = false;
    }
  }
  std::vector<uint64_t> per_cpu(std::max<size_t>(cpus, 1));
  bpf_attr a{};
  a.map_fd = static_cast<uint32_t>(stats_.get());
  a.key = reinterpret_cast<uintptr_t>(&which);
  a.value = reinterpret_cast<uintptr_t>(per_cpu.data());
  if (Bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0) return ErrnoStatus(errno, "bpf stats lookup");
  uint64_t sum = 0;
  for (uint64_t v : per_cpu) sum += v;
  return sum;
}

}  // namespace berth::sys
