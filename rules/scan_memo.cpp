#include "rules/scan_memo.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/cpu.h"

namespace vigil::rules {

namespace {

// An empty key (a layout whose fields are all absent) is a string_view with no data pointer,
// and memcmp's arguments must not be null even for no bytes.
bool same_bytes(const char* stored, std::string_view key) {
  return key.empty() || std::memcmp(stored, key.data(), key.size()) == 0;
}

}  // namespace

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

#if defined(__x86_64__)
// The AVX2 helpers are named functions with their own target attribute: a lambda inside a
// target("avx2") function does not inherit the attribute, and fails to compile (inlining
// failed: target specific option mismatch) in builds for the x86-64 baseline.
__attribute__((target("avx2"), always_inline)) inline __m256i load256(const char* q) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
}
__attribute__((target("avx2"), always_inline)) inline __m256i add_block(__m256i acc, __m256i d, __m256i k) {
  const __m256i x = _mm256_xor_si256(d, k);
  return _mm256_add_epi64(_mm256_add_epi64(acc, d), _mm256_mul_epu32(x, _mm256_srli_epi64(x, 32)));
}

// Keys of 64 bytes and more (CallTrace, ContextInfo, command lines: most of the bytes hashed)
// at about three times the scalar lanes' speed. Each 32-byte block adds, per 64-bit lane, the
// product of its two 32-bit halves after an XOR with a key, plus the block itself (so that no
// input bits are lost to a zero product); four keys by block position within 128 bytes keep
// reordered blocks apart. No multiply sits on the accumulators' dependency chain: two adds a
// block. The 8 lanes and the last 32 bytes (overlapping) are then mixed down to 64 bits.
__attribute__((target("avx2"))) std::uint64_t hash_avx2(const char* p, std::size_t n) {
  const __m256i k0 = _mm256_set_epi64x(0x9E3779B97F4A7C15ll, 0x3C6EF372FE94F82All, 0xDAA66D2C7DDF743Fll, 0x78DDE6E5FD29F054ll);
  const __m256i k1 = _mm256_set_epi64x(0x1715609D7C7BEC69ll, 0xB54CDA56FBC6E87Ell, 0x53845A0F7B11E493ll, 0xF1BBD3C8FA5CE0A8ll);
  const __m256i k2 = _mm256_set_epi64x(0x8FF34781F9A7DCBDll, 0x2E2ABB3AF8F2D8D2ll, 0xCC6234F3F83DD4E7ll, 0x6A99AEACF788D0FCll);
  const __m256i k3 = _mm256_set_epi64x(0x08D12865F6D3CD11ll, 0xA708A21EF61EC926ll, 0x45401DD7F569C53Bll, 0xE37797A0F4B4C150ll);
  __m256i a = _mm256_set1_epi64x(static_cast<long long>(n)), b = k3;
  const char* const end = p + n;
  for (; p + 128 <= end; p += 128) {
    a = add_block(a, load256(p), k0);
    b = add_block(b, load256(p + 32), k1);
    a = add_block(a, load256(p + 64), k2);
    b = add_block(b, load256(p + 96), k3);
  }
  for (; p + 32 <= end; p += 32) a = add_block(a, load256(p), k1);
  b = add_block(b, load256(end - 32), k2);  // n >= 32: the last 32 bytes, whatever was left
  alignas(32) std::uint64_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 4), b);
  std::uint64_t h = n * kMul1;
  for (std::uint64_t lane_value : lanes) h = lane(h, lane_value, kMul2);
  h ^= h >> 33;
  h *= kMul1;
  h ^= h >> 29;
  return h;
}
#endif

}  // namespace

std::uint64_t ScanMemo::hash(std::string_view bytes) {
#if defined(__x86_64__)
  if (bytes.size() >= 64 && cpu_has_avx2()) return hash_avx2(bytes.data(), bytes.size());
#endif
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
  for (Generation* g : {&current_, &previous_}) {
    g->slots = table_size_for(max_entries_);
    g->serial = next_serial_++;
  }
}

bool ScanMemo::find_recent(std::uint32_t layout, std::string_view key,
                           std::span<const std::uint32_t>* hits) const {
  if (layout >= recent_.size()) return false;
  const Recent r = recent_[layout];
  if (r.serial != current_.serial) return false;
  const Entry& e = current_.entries[r.entry];
  if (e.key_size != key.size() || !same_bytes(current_.keys.data() + e.key_offset, key)) return false;
  *hits = hits_of(current_, e);
  return true;
}

void ScanMemo::note_recent(std::uint32_t layout, const Entry& e) {
  if (layout >= recent_.size()) {
    if (layout >= kMaxRecentLayouts) return;
    recent_.resize(layout + 1);
  }
  recent_[layout] = Recent{current_.serial, static_cast<std::uint32_t>(&e - current_.entries.data())};
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
        same_bytes(keys.data() + e.key_offset, key))
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
    note_recent(layout, *e);
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
    current_.serial = next_serial_++;  // Recents into the dropped generation no longer match
  }
  current_.add(layout, key, h, hits);
  note_recent(layout, current_.entries.back());
}

}  // namespace vigil::rules
