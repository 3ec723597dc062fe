#pragma once
// The Event model: one log record, its raw bytes, and a field view built by a parser.
//
// Ownership: an Event never owns its raw bytes; they belong to the batch (or file chunk) that
// produced it and must outlive the Event. Decoded values and composed field names live in the
// FieldView's arena. An Event is used by one thread at a time.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

enum class LogFormat : std::uint8_t {
  kUnknown = 0,
  kJson,       // one JSON object (NDJSON line or a pretty-printed document)
  kRfc3164,    // BSD syslog: "<PRI>Mmm dd hh:mm:ss host tag[pid]: msg" (PRI optional)
  kRfc5424,    // IETF syslog with structured data
  kCef,        // ArcSight Common Event Format, bare or after a syslog header
  kKeyValue,   // FortiGate-style key=value pairs, values optionally quoted
  kAccessLog,  // Apache/Nginx combined (or common) access log
  kPlain,      // a line no parser recognised: only the raw text is searchable
  kW3c,        // W3C extended log (IIS): fields named by the file's "#Fields:" directive
  kCisco,      // Cisco ASA/FTD/PIX "%ASA-6-605004: ..." and IOS "%FACILITY-SEV-MNEMONIC: ..."
  kPanos,      // Palo Alto PAN-OS CSV (TRAFFIC, THREAT, SYSTEM, CONFIG, GLOBALPROTECT, ...)
  kLeef,       // IBM QRadar Log Event Extended Format 1.0 / 2.0
  kAuditd,     // Linux audit records "type=... msg=audit(time:serial): ..."
  kWinXml,     // one Windows event as XML (<Event xmlns=...>: WEF collectors, NXLog xm_xml)
  // Add new formats above: kFormatCount sizes per-format tables (format bits, counters).
  kFormatCount,
};

const char* to_string(LogFormat format);
// Accepts "json", "rfc3164"/"syslog", "rfc5424", "cef", "kv"/"keyvalue", "access"/"combined",
// "plain", "w3c"/"iis", "cisco"/"asa"/"ftd"/"ios", "panos"/"paloalto", "leef", "auditd",
// "winxml", "auto" (returns kUnknown for auto). Returns false for an unknown name.
bool parse_log_format(std::string_view name, LogFormat* out);

enum class ValueKind : std::uint8_t { kString, kNumber, kBool, kNull };

struct Field {
  std::string_view name;
  std::string_view value;  // for kNull: empty
  ValueKind kind = ValueKind::kString;
  // `value` is a JSON string's content as written, its escapes not decoded yet. Only
  // RecordParser::parse_selected(keep_escaped = true) leaves values so (for the matcher, which
  // scans them as written and decodes only those a rule reads: parse::decode_json_string).
  bool escaped = false;
};

// Append-only storage for bytes that must stay put while views point into them.
// Chunks are never moved or freed until clear(), so returned views stay valid until then.
class StringArena {
 public:
  std::string_view copy(std::string_view s);
  // Reserve `n` bytes; the caller fills them and keeps the returned pointer's view.
  char* allocate(std::size_t n);
  void clear();  // keeps the first chunk for reuse

 private:
  struct Chunk {
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
    std::size_t used = 0;
  };
  std::vector<Chunk> chunks_;
};

// The parsed fields of one event, in document order. Several fields may share a name
// (JSON arrays, repeated keys); lookups return every one of them.
class FieldView {
 public:
  void clear() {
    fields_.clear();
    arena_.clear();
  }
  void add(std::string_view name, std::string_view value, ValueKind kind = ValueKind::kString,
           bool escaped = false) {
    fields_.push_back(Field{name, value, kind, escaped});
  }
  // For decoding an escaped value in place (Field::escaped).
  Field& at(std::size_t i) { return fields_[i]; }
  StringArena& arena() { return arena_; }

  // First field with exactly this name, or nullptr. Linear: events have tens of fields and a
  // lookup happens only for candidate rules, so a hash index would cost more than it saves.
  const Field* find(std::string_view name) const {
    for (const Field& f : fields_)
      if (f.name.size() == name.size() && f.name == name) return &f;
    return nullptr;
  }
  template <typename Fn>  // Fn(const Field&) -> bool (true = stop)
  bool any_named(std::string_view name, Fn&& fn) const {
    for (const Field& f : fields_)
      if (f.name.size() == name.size() && f.name == name && fn(f)) return true;
    return false;
  }
  std::span<const Field> fields() const { return fields_; }
  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
  StringArena arena_;
};

// Why a record could not be used as given. Counted per reason in every summary and metric.
enum class ParseErrorKind : std::uint8_t {
  kNone = 0,
  kTruncatedJson,  // a JSON document that ends before it closes
  kInvalidJson,    // any other JSON syntax error
  kInvalidUtf8,    // bytes that are not UTF-8 (text records are still matched as bytes)
  kOversize,       // longer than the configured maximum record size: skipped
  kBinary,         // NUL or other control bytes that no text log contains: skipped
  kWrongFormat,    // the forced --format does not fit this record (still matched as plain text)
  // A record of a recognised delimited format (W3C, PAN-OS CSV) whose field count does not fit
  // its header or log type: matched with the fields it has.
  kFieldCount,
  // A record of a recognised device format that ends before its header is complete (a LEEF
  // header with too few '|', an audit record whose msg=audit(...) does not close, a Cisco
  // message id with no text): matched with the fields it has.
  kTruncatedRecord,
  kDamagedRecord,  // a binary container's record (EVTX) that does not decode: skipped
  kTruncatedXml,   // a Windows event XML record that ends before its root element closes
  kInvalidXml,     // any other Windows event XML syntax error
  kCount,
};
const char* to_string(ParseErrorKind kind);

// One record and what the parser made of it.
struct Event {
  std::string_view raw;          // the record bytes (not owned)
  std::string_view source;       // file name or collector name (not owned)
  std::uint64_t record_no = 0;   // 1-based record (line) number within its source
  LogFormat format = LogFormat::kUnknown;
  ParseErrorKind parse_error = ParseErrorKind::kNone;
  std::int64_t time_unix_ns = 0;  // event time if the record carried one, else 0
  std::string_view time_text;     // the time as written in the record ("" if none)
  std::string_view host;          // originating host if the record names one
  // Logsource declared by the collector or `vigil scan --logsource` (not owned; "" = none).
  // Rules for logsources the mapping cannot recognise by content (cloud, zeek...) run only
  // on events that declare them.
  std::string_view declared_product, declared_category, declared_service;
  FieldView fields;

  // Readies a reused Event for the next record: everything a parser or an earlier record set is
  // cleared (the field arena keeps its memory), so nothing leaks from one record to the next.
  void start_record(std::string_view record_bytes, std::string_view source_name, std::uint64_t number,
                    std::string_view product, std::string_view category, std::string_view service) {
    raw = record_bytes;
    source = source_name;
    record_no = number;
    format = LogFormat::kUnknown;
    parse_error = ParseErrorKind::kNone;
    time_unix_ns = 0;
    time_text = {};
    host = {};
    declared_product = product;
    declared_category = category;
    declared_service = service;
    fields.clear();
  }
};

}  // namespace vigil
