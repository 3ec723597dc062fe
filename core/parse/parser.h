#pragma once
// Parsers: turn one record's bytes into a FieldView, per format, with auto-detection.
//
// Thread-safety: a RecordParser holds per-thread state (the simdjson parser); give each worker
// thread its own. parse() never throws and never crashes on any input bytes.
#include <cstddef>
#include <memory>
#include <string_view>

#include "core/event.h"

namespace vigil::parse {

struct ParserOptions {
  // Records longer than this are counted as kOversize and skipped. Default: 1 MiB.
  std::size_t max_record_bytes = 1u << 20;
};

// Guess the format of one record from its first bytes. Never returns kUnknown:
// unrecognised text is kPlain.
LogFormat detect_format(std::string_view record);

// Cheap validity check for a record that no rule needs parsed: sets event.format (detected) and
// event.parse_error for binary bytes, a JSON object that does not close, and invalid UTF-8.
// Costs a memchr and a SIMD UTF-8 validation, far less than a parse.
void precheck(Event& event);

class RecordParser {
 public:
  explicit RecordParser(ParserOptions options = {});
  ~RecordParser();
  RecordParser(const RecordParser&) = delete;
  RecordParser& operator=(const RecordParser&) = delete;

  // Parses event.raw as `format` (kUnknown = detect per record) into event.fields and sets
  // event.format, event.parse_error, event.time_*, event.host. Clears event.fields first.
  //
  // JSON input needs simdjson::SIMDJSON_PADDING (64) readable bytes after raw.end(); the record
  // readers guarantee that. Returns false when the record is unusable (oversize, binary, JSON
  // that does not parse): the event must then be counted and not matched. Returns true
  // otherwise, possibly with a soft parse_error (kInvalidUtf8, kWrongFormat) for a text record
  // that is still matched on its raw bytes.
  bool parse(LogFormat format, Event& event);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ParserOptions options_;
};

}  // namespace vigil::parse
