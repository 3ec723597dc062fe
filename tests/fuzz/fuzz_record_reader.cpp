// The record reader over bytes in memory: line framing, CRLF, multi-line JSON joining, oversize
// records and gzip (sniffed by magic, one or more members). The first input byte picks small
// limits so that oversize records and batch boundaries are reached with short inputs. Every
// record must be followed by kRecordPadding readable bytes (the parsers' contract): touched.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/record_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  vigil::RecordReaderOptions options;
  const std::uint8_t knobs = data[0];
  options.max_record_bytes = (knobs & 1) ? 16 + (knobs >> 2) * 8 : 1u << 20;
  options.batch_bytes = (knobs & 2) ? 64 : 4u << 20;
  options.join_json_documents = (knobs & 0x80) == 0;
  auto reader = vigil::RecordReader::from_memory(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), options);
  std::vector<vigil::Record> batch;
  volatile char sink = 0;
  while (reader->next_batch(batch)) {
    for (const vigil::Record& record : batch) {
      if (record.oversize && record.bytes.size() > options.max_record_bytes) __builtin_trap();
      if (!record.bytes.empty()) sink = sink + record.bytes.front() + record.bytes.back();
      if (record.bytes.data() != nullptr) sink = sink + record.bytes.data()[record.bytes.size() + vigil::kRecordPadding - 1];
    }
  }
  (void)reader->status();
  return 0;
}
