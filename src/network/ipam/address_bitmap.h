#pragma once
// A sparse two-level bitmap over up to 2^32 addresses, for "lowest free in [lo, hi]" in O(1)-ish
// time however full the pool is. Addresses are grouped in blocks of 4096 bits (64 words); a block
// that is absent is all clear, and each block keeps a 64-bit summary of its full words, so finding
// the lowest clear bit inside a block is two count-trailing-zeros. Walking from block to block only
// crosses blocks that are entirely full (16 of them in a whole /16). Not thread-safe: the
// Allocator's mutex guards it.

#include <bit>
#include <cstdint>
#include <map>

namespace berth::network::ipam {

class AddressBitmap {
 public:
  explicit AddressBitmap(uint64_t size) : size_(size) {}

  uint64_t size() const { return size_; }

  bool Test(uint32_t off) const {
    auto it = blocks_.find(off >> kBlockShift);
    if (it == blocks_.end()) return false;
    uint32_t bit = off & kBlockMask;
    return (it->second.words[bit >> 6] >> (bit & 63)) & 1;
  }

  void Set(uint32_t off) {
    Block& b = blocks_[off >> kBlockShift];
    uint32_t bit = off & kBlockMask;
    uint64_t& w = b.words[bit >> 6];
    uint64_t m = uint64_t{1} << (bit & 63);
    if (w & m) return;
    w |= m;
    ++b.count;
    if (w == ~uint64_t{0}) b.full_words |= uint64_t{1} << (bit >> 6);
  }

  void Clear(uint32_t off) {
    auto it = blocks_.find(off >> kBlockShift);
    if (it == blocks_.end()) return;
    Block& b = it->second;
    uint32_t bit = off & kBlockMask;
    uint64_t& w = b.words[bit >> 6];
    uint64_t m = uint64_t{1} << (bit & 63);
    if (!(w & m)) return;
    w &= ~m;
    b.full_words &= ~(uint64_t{1} << (bit >> 6));
    // Keeps "absent block = empty block", so memory follows what is allocated, not the subnet size.
    if (--b.count == 0) blocks_.erase(it);
  }

  // Lowest clear offset in [lo, hi] (hi < size), or -1 when all are set.
  int64_t FindClear(uint64_t lo, uint64_t hi) const {
    uint64_t pos = lo;
    auto it = blocks_.lower_bound(static_cast<uint32_t>(pos >> kBlockShift));
    while (pos <= hi) {
      uint32_t block = static_cast<uint32_t>(pos >> kBlockShift);
      if (it == blocks_.end() || it->first != block) return static_cast<int64_t>(pos);  // absent: all clear
      const Block& b = it->second;
      if (b.count < kBlockBits) {
        int bit = b.FindClearFrom(static_cast<uint32_t>(pos & kBlockMask));
        if (bit >= 0) {
          uint64_t found = (uint64_t{block} << kBlockShift) + static_cast<uint64_t>(bit);
          return found <= hi ? static_cast<int64_t>(found) : -1;
        }
      }
      pos = (uint64_t{block} + 1) << kBlockShift;
      ++it;
    }
    return -1;
  }

  // Calls f(offset) for every set bit, ascending.
  template <typename F>
  void ForEachSet(F&& f) const {
    for (const auto& [index, b] : blocks_) {
      for (uint32_t w = 0; w < kWords; ++w) {
        uint64_t bits = b.words[w];
        while (bits) {
          uint32_t bit = static_cast<uint32_t>(std::countr_zero(bits));
          f((index << kBlockShift) + w * 64 + bit);
          bits &= bits - 1;
        }
      }
    }
  }

 private:
  static constexpr uint32_t kBlockShift = 12;
  static constexpr uint32_t kBlockBits = uint32_t{1} << kBlockShift;
  static constexpr uint32_t kBlockMask = kBlockBits - 1;
  static constexpr uint32_t kWords = kBlockBits / 64;  // 64, so one uint64_t summarises a block

  struct Block {
    uint64_t words[kWords] = {};
    uint64_t full_words = 0;  // bit w set <=> words[w] is all ones
    uint32_t count = 0;       // set bits in the block

    // Lowest clear bit >= start within this block, or -1.
    int FindClearFrom(uint32_t start) const {
      uint32_t w = start >> 6;
      uint64_t avail = ~words[w] & (~uint64_t{0} << (start & 63));
      if (avail) return static_cast<int>(w * 64 + std::countr_zero(avail));
      if (w == kWords - 1) return -1;
      uint64_t later = ~full_words & (~uint64_t{0} << (w + 1));
      if (!later) return -1;
      uint32_t w2 = static_cast<uint32_t>(std::countr_zero(later));
      return static_cast<int>(w2 * 64 + std::countr_zero(~words[w2]));
    }
  };

  uint64_t size_;
  std::map<uint32_t, Block> blocks_;  // ordered, so FindClear walks consecutive blocks
};

}  // namespace berth::network::ipam
