// The EVTX chunk decoder (chunk header, records, binary XML, templates, substitutions), which
// is where every byte of an .evtx file past its 4 KiB header goes: the input is one 64 KiB
// block (zero-filled when shorter; the seeds are the chunks of ../shared/corpora/evtx files).
// Each decoded record is then parsed as the JSON the record reader hands on.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/evtx/evtx_file.h"
#include "core/parse/parser.h"
#include "core/record_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vigil;
  // An exact-size heap block, so that ASan reports a read past the chunk.
  std::vector<std::uint8_t> block(evtx::kChunkSize, 0);
  std::memcpy(block.data(), data, size < block.size() ? size : block.size());
  static evtx::ChunkDecoder decoder;  // reused, as the reader reuses it from chunk to chunk
  static parse::RecordParser parser;
  std::string out;
  std::vector<evtx::DecodedRecord> records;
  evtx::EvtxStats stats;
  decoder.decode(block.data(), kRecordPadding, out, records, stats);
  for (const evtx::DecodedRecord& record : records) {
    if (record.damage != evtx::EvtxDamage::kNone) continue;
    if (record.offset + record.size + kRecordPadding > out.size()) __builtin_trap();
    Event event;
    event.raw = std::string_view(out.data() + record.offset, record.size);
    (void)parser.parse(LogFormat::kJson, event);
  }
  return 0;
}
