#pragma once
// ScanMemo: what a route layout's literal scan found, remembered by the layout's exact bytes.
//
// Log values repeat: the same Image, TargetImage, GrantedAccess and CallTrace come back in
// event after event (95% of the route layout scans over the OTRF Windows events scan bytes
// that an earlier event's layout already had). A layout's hits depend only on its bytes (its
// values and where each field's values end), so a matcher can answer a repeated layout from
// memory: one hash and one comparison of the bytes instead of an hs_scan call.
//
// Per matcher (per thread), no locking. Memory is bounded: two generations, each with a budget
// of entries and key bytes. When the current generation is full it becomes the previous one
// (the older one is dropped), and a key found only in the previous generation is copied into
// the current one: what keeps being used survives, what stopped repeating ages out.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::rules {

class ScanMemo {
 public:
  // `max_entries` and `max_key_bytes` bound each of the two generations.
  ScanMemo(std::size_t max_entries, std::size_t max_key_bytes);

  // 64-bit hash of `bytes` (four independent multiply-rotate lanes over 8-byte words, about as
  // fast as memory reads; the memo compares the bytes too, so quality only affects probing).
  static std::uint64_t hash(std::string_view bytes);

  // The hits remembered for (`layout`, `key`) when `key` is the key last found or inserted for
  // `layout` (and still in the current generation): no hash and no table probe. Consecutive
  // events often repeat a layout's values (58% of the OTRF Windows layout lookups), so this is
  // tried first.
  bool find_recent(std::uint32_t layout, std::string_view key, std::span<const std::uint32_t>* hits) const;
  // The hits remembered for (`layout`, `key`), whose hash is `h`; false when unknown.
  bool find(std::uint32_t layout, std::string_view key, std::uint64_t h,
            std::span<const std::uint32_t>* hits);
  // Remembers `hits` for (`layout`, `key`). A key longer than the byte budget is not kept.
  void insert(std::uint32_t layout, std::string_view key, std::uint64_t h,
              std::span<const std::uint32_t> hits);

  std::size_t size() const { return current_.entries.size() + previous_.entries.size(); }

 private:
  struct Entry {
    std::uint64_t hash = 0;
    std::uint32_t layout = 0;
    std::uint32_t key_offset = 0, key_size = 0;
    std::uint32_t hits_offset = 0, hits_size = 0;
  };
  struct Generation {
    std::uint64_t serial = 0;          // tells apart the generations a Recent may point into
    std::vector<std::uint32_t> table;  // entry index + 1, 0 = empty; `slots` long once used
    std::size_t slots = 0;             // a power of two, at least twice the entry bound
    std::vector<Entry> entries;
    std::string keys;                  // every entry's key, back to back
    std::vector<std::uint32_t> hits;   // every entry's hits, back to back
    const Entry* find(std::uint32_t layout, std::string_view key, std::uint64_t h) const;
    void add(std::uint32_t layout, std::string_view key, std::uint64_t h,
             std::span<const std::uint32_t> hits);
    void clear();
  };
  std::span<const std::uint32_t> hits_of(const Generation& g, const Entry& e) const {
    return {g.hits.data() + e.hits_offset, e.hits_size};
  }
  bool full_for(std::size_t key_size) const;
  // The entry last found or inserted for a layout: (generation serial, entry index); serial 0
  // is none. Layouts past kMaxRecentLayouts are not tracked.
  struct Recent {
    std::uint64_t serial = 0;
    std::uint32_t entry = 0;
  };
  static constexpr std::size_t kMaxRecentLayouts = 1 << 16;
  void note_recent(std::uint32_t layout, const Entry& e);

  std::vector<Recent> recent_;
  std::uint64_t next_serial_ = 1;
  std::vector<std::uint32_t> promoted_;  // find(): hits copied out of the previous generation
  std::size_t max_entries_;
  std::size_t max_key_bytes_;
  Generation current_, previous_;
};

}  // namespace vigil::rules
