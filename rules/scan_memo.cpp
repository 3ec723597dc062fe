#include "rules/scan_memo.h"

#include <algorithm>
#include <cstring>

namespace vigil::rules {

namespace {

constexpr std::uint64_t kMul1 = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kMul2 = 0xC2B2AE3D27D4EB4Full;

inline std::uint64_t load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline std::uint64_t lane(std::uint64_t acc, std::uint64_t word, std::uint64_t mul) {
  return rotl((acc ^ word) * mul, 29);
}

std::size_t table_size_for(std::size_t max_entries) {
  std::size_t n = 16;
  while (n < 2 * max_entries) n <<= 1;  // at most half full: short probe runs
  return n;
}

}  // namespace

std::uint64_t ScanMemo::hash(std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  std::uint64_t a = kMul1 ^ n, b = kMul2, c = ~kMul1, d = ~kMul2;
  for (; n >= 32; p += 32, n -= 32) {
    a = lane(a, load64(p), kMul1);
    b = lane(b, load64(p + 8), kMul2);
    c = lane(c, load64(p + 16), kMul1);
    d = lane(d, load64(p + 24), kMul2);
  }
  for (; n >= 8; p += 8, n -= 8) a = lane(a, load64(p), kMul2);
  if (n > 0) {
    std::uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    b = lane(b, tail, kMul1);
  }
  std::uint64_t h = a ^ rotl(b, 17) ^ rotl(c, 31) ^ rotl(d, 47);
  h ^= h >> 33;
  h *= kMul2;
  h ^= h >> 29;
  return h;
}

ScanMemo::ScanMemo(std::size_t max_entries, std::size_t max_key_bytes)
    : max_entries_(std::max<std::size_t>(max_entries, 1)), max_key_bytes_(max_key_bytes) {
  // Tables are allocated by the first insert: a matcher that never sees a JSON route layout
  // (text-only input) pays nothing.
  for (Generation* g : {&current_, &previous_}) g->slots = table_size_for(max_entries_);
}

const ScanMemo::Entry* ScanMemo::Generation::find(std::uint32_t layout, std::string_view key,
                                                  std::uint64_t h) const {
  if (table.empty()) return nullptr;
  const std::size_t mask = table.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    const std::uint32_t slot = table[i];
    if (slot == 0) return nullptr;
    const Entry& e = entries[slot - 1];
    if (e.hash == h && e.layout == layout && e.key_size == key.size() &&
        std::memcmp(keys.data() + e.key_offset, key.data(), key.size()) == 0)
      return &e;
  }
}

void ScanMemo::Generation::add(std::uint32_t layout, std::string_view key, std::uint64_t h,
                               std::span<const std::uint32_t> new_hits) {
  Entry e;
  e.hash = h;
  e.layout = layout;
  e.key_offset = static_cast<std::uint32_t>(keys.size());
  e.key_size = static_cast<std::uint32_t>(key.size());
  e.hits_offset = static_cast<std::uint32_t>(hits.size());
  e.hits_size = static_cast<std::uint32_t>(new_hits.size());
  keys.append(key);
  hits.insert(hits.end(), new_hits.begin(), new_hits.end());
  entries.push_back(e);
  if (table.empty()) table.assign(slots, 0);
  const std::size_t mask = table.size() - 1;
  std::size_t i = static_cast<std::size_t>(h) & mask;
  while (table[i] != 0) i = (i + 1) & mask;
  table[i] = static_cast<std::uint32_t>(entries.size());
}

void ScanMemo::Generation::clear() {
  if (!entries.empty()) std::fill(table.begin(), table.end(), 0);
  entries.clear();
  keys.clear();
  hits.clear();
}

bool ScanMemo::full_for(std::size_t key_size) const {
  return current_.entries.size() >= max_entries_ || current_.keys.size() + key_size > max_key_bytes_;
}

bool ScanMemo::find(std::uint32_t layout, std::string_view key, std::uint64_t h,
                    std::span<const std::uint32_t>* hits) {
  if (const Entry* e = current_.find(layout, key, h)) {
    *hits = hits_of(current_, *e);
    return true;
  }
  const Entry* old = previous_.find(layout, key, h);
  if (old == nullptr) return false;
  // Still in use: into the current generation. If that one is full, the previous generation
  // (holding `old`) is dropped by the rotation, so the hits are copied out first.
  const std::span<const std::uint32_t> old_hits = hits_of(previous_, *old);
  promoted_.assign(old_hits.begin(), old_hits.end());
  insert(layout, key, h, promoted_);
  *hits = hits_of(current_, current_.entries.back());
  return true;
}

void ScanMemo::insert(std::uint32_t layout, std::string_view key, std::uint64_t h,
                      std::span<const std::uint32_t> hits) {
  if (key.size() > max_key_bytes_) return;
  if (full_for(key.size())) {
    std::swap(current_, previous_);
    current_.clear();
  }
  current_.add(layout, key, h, hits);
}

}  // namespace vigil::rules
