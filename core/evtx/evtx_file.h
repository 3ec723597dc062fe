#pragma once
// EVTX (Windows XML Event Log) decoding: file header, 64 KiB chunks, event records and their
// binary XML (templates, substitution values), each record rendered as one JSON object in the
// layout `evtx_dump -o jsonl` prints ({"Event":{"System":{...},"EventData":{...}}}), so that the
// JSON parser maps it to Sigma's Windows names exactly as it maps evtx_dump output.
//
// Our own reader rather than Debian's libevtx (20181227): measured on ../shared/corpora/evtx,
// libevtx's evtxexport renders about 6,500 records/s and stops at records of two of the 37
// files (CAPI2: 24 of 340 records, MSExchange: 0 of 1), where it cannot read a binary-XML
// value. The issue asks for 100,000 records/s on one thread (docs/logsource-mapping.md has the
// figures and the command). Here each name is decoded once per chunk and a record costs one
// walk of its template with its values.
//
// Hostile input: every offset and size is checked against the chunk before it is read; a
// damaged record or chunk is reported (EvtxDamage) and skipped, and decoding goes on with the
// next record of the chunk (found again by its magic, size and record id) or chunk. Nothing
// here throws.
//
// Thread-safety: a ChunkDecoder is used by one thread at a time.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/evtx/event_tree.h"

namespace vigil::evtx {

inline constexpr std::size_t kFileHeaderSize = 4096;
inline constexpr std::size_t kChunkSize = 65536;

// Whether `head` (the first bytes of a file) starts with the EVTX magic "ElfFile\0".
bool is_evtx(std::string_view head);

// Why a record or a chunk was skipped.
enum class EvtxDamage : std::uint8_t {
  kNone = 0,
  kChunkHeader,   // a 64 KiB block that is neither a chunk ("ElfChnk\0") nor unused (zeros)
  kRecordHeader,  // bad record magic, size, or size copy: one per damaged stretch, skipped to
                  // the next record of this chunk found (by magic, size copy and record id)
  kBinXml,        // the record's binary XML does not decode (bad token, offset, template, value)
  kCount,
};
const char* to_string(EvtxDamage damage);

struct EvtxStats {
  std::uint64_t chunks = 0;               // blocks with a chunk header
  std::uint64_t unused_blocks = 0;        // all-zero blocks, and blocks past the header's chunk
                                          // count that hold no chunk (space not in use)
  std::uint64_t checksum_mismatches = 0;  // chunk header CRC32 wrong: decoded anyway
  std::uint64_t records = 0;              // records decoded
  std::uint64_t stale_records = 0;        // records of another chunk (ids outside this chunk's)
                                          // met in damaged space: part of its damage, not read
  std::uint64_t damaged[static_cast<std::size_t>(EvtxDamage::kCount)] = {};
};

// One record of a decoded chunk: its JSON is out[offset, offset + size), followed by
// `padding` zero bytes (what the JSON parser needs after a record).
struct DecodedRecord {
  std::uint64_t record_id = 0;  // from the record header (0 when a damaged header has none)
  std::size_t offset = 0, size = 0;
  EvtxDamage damage = EvtxDamage::kNone;  // != kNone: skipped; size is 0
};

class ChunkDecoder {
 public:
  ChunkDecoder();
  ~ChunkDecoder();
  ChunkDecoder(const ChunkDecoder&) = delete;
  ChunkDecoder& operator=(const ChunkDecoder&) = delete;

  // Decodes one 64 KiB block (`block` has kChunkSize bytes): appends each record's JSON and
  // `padding` zero bytes to `out`, and one DecodedRecord per record or damage to `records`.
  // A block of zeros adds nothing (counted as unused); a block that is not a chunk adds one
  // kChunkHeader damage.
  void decode(const std::uint8_t* block, std::size_t padding, std::string& out,
              std::vector<DecodedRecord>& records, EvtxStats& stats);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::evtx
