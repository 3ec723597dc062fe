#pragma once
// Parsers: turn one record's bytes into a FieldView, per format, with auto-detection.
//
// Thread-safety: a RecordParser holds per-thread state (the simdjson parser); give each worker
// thread its own. parse() never throws and never crashes on any input bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"

namespace vigil::parse {

struct ParserOptions {
  // Records longer than this are counted as kOversize and skipped. Default: 1 MiB.
  std::size_t max_record_bytes = 1u << 20;
  // parse_selected: also check the escapes of the JSON strings it skips, so that a bad escape
  // ("\x") in an unwanted value fails the record as parse() does. Off by default: the scan
  // costs ~10% of a selective parse of Windows events, and stage 1 already checks every
  // string's extent, UTF-8 and control characters.
  bool check_skipped_escapes = false;
};

// Guess the format of one record from its first bytes. Never returns kUnknown:
// unrecognised text is kPlain.
LogFormat detect_format(std::string_view record);

// Whether a text record of `format` may have parsed values that are not substrings of its raw
// bytes (decoded escapes, hex-encoded audit values, IIS's '+' for a space), so that a literal
// search of the raw line alone could miss them. Cheap (a memchr, or a scan for '=XX').
bool values_may_differ_from_raw(LogFormat format, std::string_view raw);

// Cheap validity check for a record that no rule needs parsed: sets event.format to `format`
// (the caller's detect_format result or forced format) and event.parse_error for binary bytes,
// a JSON object that does not close, and invalid UTF-8. Costs a memchr and a SIMD UTF-8
// validation, far less than a parse.
void precheck(Event& event, LogFormat format);

// A set of field names, built once and shared read-only by threads (it is immutable after
// construction). Lookup is by the names the parser emits, after the Windows layout mapping
// ("EventID", "Image", "Provider_Name", dotted names such as "winlog.user.name" for other
// nested keys). Duplicate names keep the index of their first occurrence.
class FieldSelection {
 public:
  explicit FieldSelection(const std::vector<std::string>& names);
  FieldSelection(const FieldSelection&) = delete;  // slots point into storage_
  FieldSelection& operator=(const FieldSelection&) = delete;
  FieldSelection(FieldSelection&&) noexcept = default;  // storage_ is on the heap: slots stay valid
  FieldSelection& operator=(FieldSelection&&) noexcept = default;

  // Index of `name` in the constructor's list, or -1. One hash of (length, first byte, last
  // byte), then usually one probe and a memcmp.
  int find(std::string_view name) const {
    const Slot* s = lookup(name);
    return s == nullptr ? -1 : s->index;
  }
  std::size_t size() const { return size_; }

  // ---- for the parsers -----------------------------------------------------------------------
  // Besides the wanted names, the table holds the names a parser must still read when they are
  // not wanted (the time and host sources) and every dotted prefix of those names ("winlog" and
  // "winlog.user" for "winlog.user.name"), so that a parser can skip a nested object that cannot
  // hold a wanted field without composing its children's names.
  enum Flags : std::uint32_t {
    kWanted = 1,          // index >= 0
    kPrefix = 2,          // some wanted name starts with this name + '.'
    kTimeHost = 4,        // a source of Event::time_text / Event::host
    kTimeHostPrefix = 8,  // a prefix of such a name ("host" for "host.name")
    kTopLevelLayout = 16, // a top-level key of a Windows layout ("Event", "winlog", ...)
  };
  struct Slot {
    const char* data = nullptr;  // nullptr = empty slot
    std::uint32_t size = 0;
    std::int32_t index = -1;
    std::uint32_t flags = 0;
    std::uint32_t tag = 0;  // tag(): 0 = empty slot. In the slot, so that a probe that finds
                            // the name reads one cache line, not a tag table's and a slot's
  };
  // The slot of `name`, or nullptr when no flag applies to it.
  const Slot* lookup(std::string_view name) const {
    const std::size_t n = name.size();
    if (n == 0) return lookup_empty();
    const std::uint32_t t = tag(n, name[0], name[n - 1]);
    for (std::size_t i = hash(t);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tag == 0) return nullptr;
      if (s.tag == t && s.size == n && same_bytes(s.data, name.data(), n)) return &s;
    }
  }
  // The slot of `a` + sep + `b`, without building that name.
  const Slot* lookup(std::string_view a, char sep, std::string_view b) const {
    const std::size_t n = a.size() + 1 + b.size();
    const std::uint32_t t = tag(n, a.empty() ? sep : a[0], b.empty() ? sep : b[b.size() - 1]);
    for (std::size_t i = hash(t);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tag == 0) return nullptr;
      if (s.tag == t && s.size == n && s.data[a.size()] == sep &&
          same_bytes(s.data, a.data(), a.size()) && same_bytes(s.data + a.size() + 1, b.data(), b.size()))
        return &s;
    }
  }

 private:
  // memcmp(a, b, n) == 0 for field names (nearly all up to 32 bytes), inline: a memcmp call
  // for each of the ~15 wanted keys of an event cost ~3% of matching Windows events. Reads
  // only the n bytes of each side (overlapping words), so no padding is needed.
  static bool same_bytes(const char* a, const char* b, std::size_t n) {
    auto word = [](const char* p) {
      std::uint64_t w;
      std::memcpy(&w, p, sizeof w);
      return w;
    };
    auto half = [](const char* p) {
      std::uint32_t w;
      std::memcpy(&w, p, sizeof w);
      return w;
    };
    if (n > 32) return std::memcmp(a, b, n) == 0;
    if (n > 16)
      return ((word(a) ^ word(b)) | (word(a + 8) ^ word(b + 8)) | (word(a + n - 16) ^ word(b + n - 16)) |
              (word(a + n - 8) ^ word(b + n - 8))) == 0;
    if (n >= 8) return ((word(a) ^ word(b)) | (word(a + n - 8) ^ word(b + n - 8))) == 0;
    if (n >= 4) return ((half(a) ^ half(b)) | (half(a + n - 4) ^ half(b + n - 4))) == 0;
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  // Length (capped), first and last byte: never 0 for a non-empty name. Names with the same
  // tag share a probe sequence and are told apart by memcmp.
  static std::uint32_t tag(std::size_t n, char first, char last) {
    return static_cast<std::uint32_t>(n < 0xFFFF ? n : 0xFFFF) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(first)) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(last));
  }
  std::size_t hash(std::uint32_t t) const {
    std::uint32_t h = t * 0x9E3779B1u;
    h ^= h >> 15;
    return h & mask_;
  }
  const Slot* lookup_empty() const { return empty_.flags != 0 ? &empty_ : nullptr; }
  void insert(std::string_view name, std::int32_t index, std::uint32_t flags);

  std::unique_ptr<char[]> storage_;  // every wanted name back to back; slots point into it
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  Slot empty_;  // the empty name, kept out of the table
};

// Decodes a JSON string's content (between its quotes, as written) into `arena`. False when
// an escape is not one JSON defines. `escaped` must be followed by 16 readable bytes (a view
// into a record, which has 64 bytes of padding, qualifies).
bool decode_json_string(std::string_view escaped, StringArena& arena, std::string_view* out);
// Whether every escape of a JSON string's content (as written) is one of the short canonical
// ones, \\ \" \b \f \n \r \t (what append_json_escaped writes): false for \/, \uXXXX and
// escapes JSON does not define. `escaped` must be followed by 32 readable bytes (a view into a
// record qualifies).
bool has_only_short_escapes(std::string_view escaped);

// Who sent one record, for silent-source tracking (core/source_cadence.h): its host, its
// program (syslog tag or RFC 5424 APP-NAME, or a Windows event's Channel) and, for a Windows
// event that says its log was cleared (Security 1102, System 104) or its audit policy changed
// (4719), why its source must be taken as tampered with. Read from the parsed fields when the
// record was parsed (for JSON: the fields the rules read plus the host), else from the syslog
// header of the raw bytes, which costs a header parse and no allocation. Views into the record
// or the event's fields; empty when unknown.
struct SourceName {
  std::string_view host, program;
  std::string_view tamper;  // "" or a static reason ("log cleared", "audit policy changed")
};
SourceName source_name(const Event& event);

// Windows event XML (<Event xmlns=...>, one event) to the evtx_dump JSON layout, the one form
// every Windows layout reaches the Windows mapping in (RecordParser parses kWinXml records so;
// the matcher matches them as that JSON, so its prefilter sees decoded values).
// One per thread; reused from record to record.
class WinXmlConverter {
 public:
  WinXmlConverter();
  ~WinXmlConverter();
  WinXmlConverter(const WinXmlConverter&) = delete;
  WinXmlConverter& operator=(const WinXmlConverter&) = delete;
  // Replaces `json` with the event as JSON followed by 64 zero bytes (the JSON parser's
  // padding): the JSON is json.substr(0, json.size() - 64). Returns kNone, or why the record
  // is unusable: kBinary, kTruncatedXml, kInvalidXml. Never throws.
  ParseErrorKind convert(std::string_view xml, std::string& json);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

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
  // `detected`: when format is kUnknown and the caller already ran detect_format on this
  // record, its result (saves detecting twice; auto-detection semantics are kept).
  // `derived`: which derived fields (the web views of web_normalize.h) to add besides the
  // record's own: those named in it, or all of them when nullptr. The matcher passes the names
  // its rules read, so that views no rule names cost nothing.
  bool parse(LogFormat format, Event& event, LogFormat detected = LogFormat::kUnknown,
             const FieldSelection* derived = nullptr);

  // Like parse(), but event.fields gets only `_format` (first, as always) and the fields whose
  // emitted name is in `wanted`, in the same order as parse() would give them: exactly parse()'s
  // fields filtered to the selection. `ids` is cleared and then parallel to event.fields:
  // ids[i] is the selection index (wanted.find) of event.fields.fields()[i], and -1 for the
  // `_format` field (always ids[0]). An array of scalars under a wanted name gives several
  // fields with that name, each with the same index.
  //
  // event.format, parse_error, time_text, time_unix_ns and host are set as by parse(): their
  // source keys are read even when not wanted. Same return value and parse_error as parse().
  // For JSON, the values of unwanted keys are skipped without decoding or copying, and nested
  // objects under unwanted names are not walked when no wanted name can be inside them. Errors
  // are parse()'s with two exceptions, both inside values parse_selected skips: a skipped
  // scalar is checked (closing quote, true/false/null, number characters) but a skipped
  // string's escapes only with ParserOptions::check_skipped_escapes; inside a skipped object
  // or array only simdjson's stage 1 applies (UTF-8, string extents, control characters,
  // truncation), so e.g. {"x":{"a":tru}} with "x.a" unwanted is accepted. Other formats run
  // the normal parser and keep the selected fields.
  //
  // `keep_escaped`: a JSON string value with escapes is not decoded but given as written, with
  // Field::escaped set (decode_json_string decodes it), except the time and host sources. Its
  // escapes are then checked only when it is decoded: a third exception to parse()'s errors.
  bool parse_selected(LogFormat format, Event& event, const FieldSelection& wanted,
                      std::vector<int>& ids, bool keep_escaped = false);

  // ---- streams ---------------------------------------------------------------------------------
  // A W3C extended log (IIS) names its columns once, in a "#Fields:" directive, for every line
  // after it in the same file or connection. The parser remembers the directive per stream
  // (event.source, the file or collector+peer name) so that the data lines after it parse.
  // Feed one stream's records to one parser, in order: with several parsers (threads) per
  // stream, only the parser that read the directive knows it (see set_w3c_fields).

  // The format of event.raw: `forced` when it is not kUnknown or kW3c, else detect_format()'s
  // answer, except that a line of a stream whose "#Fields:" directive this parser has read is
  // W3C. Remembers a "#Fields:" directive for event.source. Costs one byte test over
  // detect_format() while no W3C stream is known. parse() and parse_selected() call it when
  // given kUnknown; the matcher calls it once per record and passes the answer on.
  LogFormat detect(const Event& event, LogFormat forced = LogFormat::kUnknown);
  // Forgets every stream's directive: call when a reused parser starts on new inputs.
  void reset_streams();
  // Gives `source` the directive `fields_directive` ("#Fields: date time ..."), as if its line
  // had been read: for a reader that starts inside a file, past its directive.
  void set_w3c_fields(std::string_view source, std::string_view fields_directive);

 private:
  bool parse_json(Event& event, const FieldSelection* wanted, std::vector<int>* ids,
                  bool keep_escaped = false);
  bool parse_text(LogFormat format, Event& event, const FieldSelection* derived);
  bool parse_win_xml(Event& event, const FieldSelection* wanted, std::vector<int>* ids,
                     bool keep_escaped);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  ParserOptions options_;
};

}  // namespace vigil::parse
