#pragma once
// Private to core/parse: the per-format parsers behind RecordParser and the helpers they share.
//
// Every function here reads only inside the view it is given (the JSON parser alone relies on
// the caller's 64 padding bytes), never throws, and adds fields to event.fields in document
// order. Values that are verbatim substrings of the record are views into event.raw; decoded
// values and composed names live in event.fields.arena().
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/time_text.h"  // the stamp readers every format shares

namespace vigil::parse {
class FieldSelection;
}
namespace vigil::evtx {
class EventTree;
}

namespace vigil::parse::internal {

// ---- characters -------------------------------------------------------------------------------

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_space(char c) { return c == ' ' || c == '\t'; }
// Key characters of key=value logs (FortiGate, CEF extensions): [A-Za-z0-9_.-].
inline bool is_kv_key_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
}

// The record without trailing CR/LF (the reader strips LF; Windows files leave a CR).
inline std::string_view strip_line_end(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

inline std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// From `p` (just after an opening '"'), the position of the closing quote, or s.size() when
// there is none; a backslash escapes the next byte. *escaped is set when one was seen (the
// value then needs decoding).
inline std::size_t find_closing_quote(std::string_view s, std::size_t p, bool* escaped) {
  const std::size_t n = s.size();
  while (p < n && s[p] != '"') {
    if (s[p] == '\\' && p + 1 < n) {
      *escaped = true;
      p += 2;
    } else {
      ++p;
    }
  }
  return p;
}

// Value of the decimal digits in s; false when s is empty, longer than 19 digits, or has a
// non-digit.
bool parse_uint(std::string_view s, std::uint64_t* out);

// `a` + sep + `b` in the event's arena.
std::string_view compose(StringArena& arena, std::string_view a, char sep, std::string_view b);

// ---- syslog tag --------------------------------------------------------------------------------

// True when s starts with a BSD tag that carries a process id and nothing before it
// ("sshd[4242]: ..."): a syslog message whose stamp and host a file shipper dropped. The [pid]
// tells it from prose that starts with a word and a colon.
bool starts_with_pid_tag(std::string_view s);

// ---- syslog header (RFC 3164 and RFC 5424) ----------------------------------------------------

struct SyslogHeader {
  bool has_pri = false;
  bool is_5424 = false;
  unsigned pri = 0;
  std::string_view facility;  // decimal text (static storage), only when has_pri
  std::string_view severity;
  std::string_view version;   // 5424
  std::string_view timestamp;
  std::int64_t time_unix_ns = 0;
  std::string_view host;
  std::string_view program;   // 3164 tag / 5424 APP-NAME
  std::string_view pid;       // 3164 [pid] / 5424 PROCID
  std::string_view msgid;     // 5424
  std::string_view sd;        // 5424 structured data as written ("" when nil)
  std::string_view message;   // everything after the header (may be empty)
  bool has_message = false;
};

// Parses an RFC 5424 header ("<PRI>1 ...") or an RFC 3164 one (PRI optional, BSD or ISO
// timestamp, host, optional tag[pid]:). Returns false when `line` has neither a PRI nor a
// timestamp (not syslog). Never emits fields.
bool parse_syslog_header(std::string_view line, SyslogHeader* h);

// Adds the header fields. `pri_prefix` names facility/severity "syslog_facility"/
// "syslog_severity" (used when a CEF payload has its own `severity`). `with_message` adds
// `message`. Also sets event.host / event.time_* when the header has them.
void emit_syslog_header(const SyslogHeader& h, Event& event, bool pri_prefix, bool with_message);

// Adds RFC 5424 structured-data params as "sd-id.name" fields. Stops at malformed data.
void emit_structured_data(std::string_view sd, Event& event);

// Full parsers. Each returns false when the record does not have its format's shape (the
// caller then reports kWrongFormat); `line` is the record without its line end.
bool parse_rfc3164(std::string_view line, Event& event);
bool parse_rfc5424(std::string_view line, Event& event);
bool parse_cef(std::string_view line, Event& event);
bool parse_kv(std::string_view line, Event& event);
// `derived`: which web views (web_normalize.h) to add; nullptr = all.
bool parse_access(std::string_view line, Event& event, const FieldSelection* derived);
void parse_plain(std::string_view line, Event& event);

// CEF from "CEF:" on: header fields and extension. False if `cef` does not start with "CEF:".
bool emit_cef_body(std::string_view cef, Event& event);
// Offset of a "CEF:<digits>|" marker within the first `window` bytes of s, or npos.
std::size_t find_cef_marker(std::string_view s, std::size_t window);
// True when s starts with a key=value token ([A-Za-z0-9_.-]+ then '=').
bool starts_with_kv_token(std::string_view s);
// Number of key=value tokens in s, counting at most `limit`.
std::size_t count_kv_tokens(std::string_view s, std::size_t limit);

// ---- device and server formats (device_parsers.cpp, server_parsers.cpp) ----------------------

// Sets a soft parse error (the record is still matched) unless one is already set.
inline void note_soft_error(Event& event, ParseErrorKind kind) {
  if (event.parse_error == ParseErrorKind::kNone) event.parse_error = kind;
}

// The field names a W3C extended log's "#Fields:" directive declares, owned: the directive's
// record is gone by the time its data lines arrive. Names are emitted as the access-log parser
// names them where the two overlap ("cs(User-Agent)" -> "cs-user-agent").
struct W3cHeader {
  std::string names_text;               // every emitted name back to back
  std::vector<std::string_view> names;  // views into names_text, one per column
  bool empty() const { return names.empty(); }
};
// True when `line` is a "#Fields:" directive; fills *header.
bool parse_w3c_fields_directive(std::string_view line, W3cHeader* header);
// IIS's default field set (IIS 8.5 and later), for W3C lines seen with no directive before them.
const W3cHeader& iis_default_w3c_header();
// A data line under `header`, or a '#' directive (kept as `w3c_directive` and `message`).
bool parse_w3c(std::string_view line, const W3cHeader& header, Event& event);

// Offset of a Cisco message marker ("%ASA-6-605004:", "%SEC_LOGIN-4-LOGIN_FAILED:") within the
// first `window` bytes of s, or npos.
std::size_t find_cisco_marker(std::string_view s, std::size_t window);
bool parse_cisco(std::string_view line, Event& event);
// Whether s (a syslog message or a bare record) starts with a PAN-OS CSV record:
// "<n>,<date>,<serial>,<TYPE>,".
bool looks_like_panos(std::string_view s);
bool parse_panos(std::string_view line, Event& event);
bool parse_leef(std::string_view line, Event& event);
// Whether s starts an audit record: "type=X msg=audit(" (optionally after "node=name ").
bool looks_like_auditd(std::string_view s);
bool parse_auditd(std::string_view line, Event& event);
// Whether an audit record may hold a hex-encoded value, whose decoded text a rule may test but
// the raw line does not contain.
bool auditd_may_have_hex_value(std::string_view s);
// Check Point's syslog body "[key:"value"; key:"value"]" (the RFC 5424 SD brackets without an
// SD-ID): adds the pairs. False when `s` is not that shape.
bool emit_checkpoint_pairs(std::string_view s, Event& event);
// SonicWall's "src=ip:port:interface" (and dst) also as src_ip, src_port, src_interface, for
// records that carry SonicWall's sn= and fw= keys.
void add_sonicwall_endpoints(Event& event);
// Fields from the message of a mail, FTP or database server, chosen by the syslog program
// (postfix/*, dovecot, vsftpd, mysqld/mariadbd; no program: a MySQL error-log line read as
// syslog): client_ip, user, action, ... (docs/logsource-mapping.md). Cheap on other programs: one
// switch on the program's first byte.
void add_server_message_fields(std::string_view program, std::string_view message, Event& event);
// vsftpd's own log ("Mon Dec  7 10:11:12 2026 [pid 1234] [user] FAIL LOGIN: Client ..."): false
// when `line` is not that shape.
bool add_vsftpd_log_fields(std::string_view line, Event& event);
// PostgreSQL's authentication messages (failed password/PAM/LDAP..., no pg_hba.conf entry, unknown
// role, log_connections): auth_method, user, database, client_ip. Also for syslog program postgres.
void add_postgresql_message_fields(std::string_view message, Event& event);
// A plain MySQL/MariaDB error-log line holding "Access denied for user": false when it holds none.
bool add_mysql_plain_fields(std::string_view line, Event& event);
// ---- Windows event XML (win_xml.cpp) -----------------------------------------------------------

enum class WinXmlError : std::uint8_t { kNone, kTruncated, kInvalid };
// Whether s (spaces and BOM already skipped) starts like a Windows event: "<Event" (after an
// optional XML declaration).
bool looks_like_win_xml(std::string_view s);
// Reads one event's XML into `tree` and appends it to `json` as evtx_dump JSON. On error
// `json` is unchanged.
WinXmlError win_xml_to_json(std::string_view xml, evtx::EventTree& tree, std::string& json);

// ---- JSON -------------------------------------------------------------------------------------

// Holds the reusable simdjson parser and scratch; one per RecordParser (per thread).
class JsonFlattener;
struct JsonFlattenerDeleter {
  void operator()(JsonFlattener* p) const;
};
std::unique_ptr<JsonFlattener, JsonFlattenerDeleter> make_json_flattener();

// Flattens the JSON object in `json` (which has SIMDJSON_PADDING readable bytes after its end)
// into event.fields, after whatever is already there. On failure returns the error kind
// (kTruncatedJson, kInvalidJson, kInvalidUtf8) and leaves partial fields for the caller to drop.
ParseErrorKind flatten_json(JsonFlattener& flattener, std::string_view json, Event& event);
// The same, adding only the fields whose name is in `wanted` (see RecordParser::parse_selected)
// and appending each added field's selection index to `ids`.
ParseErrorKind flatten_json_selected(JsonFlattener& flattener, std::string_view json,
                                     Event& event, const FieldSelection& wanted,
                                     std::vector<int>& ids, bool check_skipped_escapes,
                                     bool keep_escaped);
// The names note_time_or_host reads: parse_selected must read them even when not wanted.
extern const std::string_view kTimeHostNames[13];
// The top-level keys the Windows layouts map (JsonFlattener's Mode::kTop).
extern const std::string_view kTopLevelLayoutNames[12];

}  // namespace vigil::parse::internal
