// JSON: one object per record, flattened with simdjson On-Demand into dotted field names, with
// the Windows event layouts (evtx_dump, Winlogbeat, NXLog/OTRF flat) mapped to Sigma's names.
//
// Speed matters here (the target is ~1 GB/s of JSON per core for the whole pipeline), so:
// values are taken as raw tokens and stay views into the record unless they contain a
// backslash; escaped strings and keys are decoded by our own word-at-a-time decoder straight
// into the event's arena (simdjson's get_string() would decode into its buffer, which the next
// document reuses, and cost a second copy); names are views into the record unless composed
// (dotted paths, Provider_X); no heap allocation per field once the buffers are warm.
// simdjson's stage 1 (the SIMD scan) is chosen at run time for the CPU; the On-Demand walk is
// compiled for the build's target, and uses little of it since we read raw tokens.
//
// The decoder and the backslash scan read whole 32-byte (AVX2 builds), 16-byte (SSE2) or 8-byte
// words, up to 31 bytes past a string's end: always inside the record's 64 padding bytes, which
// the caller guarantees for JSON.
//
// Selective parse (RecordParser::parse_selected): the same walk, but before a value is read its
// would-be name is looked up in the FieldSelection (one probe of its slot table; composed
// names "a.b" are looked up from their parts, never built to ask). A value that is neither
// wanted nor a time/host source is skipped from its raw token: scalars get a cheap syntax check,
// objects and arrays are left to the On-Demand iterator, except that objects in the Windows
// layouts are walked (their attributes carry names of their own). Top-level scalars, most of
// the fields of the flat layouts, are read straight from their token in both parses.
#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/parse/parser.h"
#include "core/parse/parsers_internal.h"
#include "core/utf8.h"

namespace vigil::parse::internal {

namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// Deeper values are skipped (not flattened): no Windows or security log nests this far, and it
// bounds the recursion whatever the input.
constexpr int kMaxDepth = 48;

// How the children of a JSON object are named.
enum class Mode : std::uint8_t {
  kTop,         // the root object: Windows layouts are recognised by their top-level keys
  kGeneric,     // "parent.child"
  kEvtxEvent,   // evtx_dump's "Event": System / EventData / UserData sections
  kWinSection,  // children of System / EventData / UserData.X / winlog.event_data: "child"
  kUserData,    // evtx "UserData": one wrapper object per event, whose children are the fields
  kWinNode,     // a named Windows value: "#text" is the value, "#attributes" are named alone
  kWinAttrs,    // the attributes of a node: "Provider_Name" for Provider, else "Name"
  kWinData,     // EventData "Data": {"#attributes":{"Name":"x"},"#text":"v"} -> x = v
  kWinlog,      // Winlogbeat 7+ "winlog": event_id, channel, computer_name, provider_name...
  kWazuhData,   // the Wazuh manager's "data" (archives.json, alerts.json): "win" is the agent's
                // Windows layout, anything else is named "data.child" as kGeneric names it
  kWazuhWin,    // the Wazuh agent's "win": "system" and "eventdata" sections
  kWazuhSection,  // children of win.system / win.eventdata: camelCase names -> Sigma's names
  kWazuhValue,  // a value in a Wazuh section: backslashes doubled by the agent are collapsed
};

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim_token(std::string_view tok) {
  while (!tok.empty() && is_json_space(tok.back())) tok.remove_suffix(1);
  return tok;
}

bool valid_number_token(std::string_view t) {
  if (t.empty() || !(t[0] == '-' || is_digit(t[0]))) return false;
  for (char c : t)
    if (!(is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) return false;
  return true;
}

// Is the record cut short (an unclosed string, object or array at its end) rather than wrong?
// Only run on the error path.
bool looks_truncated(std::string_view json) {
  int depth = 0;
  bool in_string = false;
  bool opened = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
      opened = true;
    } else if (c == '}' || c == ']') {
      if (--depth <= 0) return false;  // closed (or over-closed) before the end: not a cut
    }
  }
  return opened && (depth > 0 || in_string);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four hex digits at p (p + 4 <= end checked by the caller); -1 when not hex.
int read_hex4(const char* p) {
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    const int h = hex_value(p[i]);
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}


#if !defined(__SSE2__)
constexpr std::uint64_t kOnes = 0x0101010101010101ull;
constexpr std::uint64_t kHighs = 0x8080808080808080ull;
constexpr std::uint64_t kBackslashes = 0x5C5C5C5C5C5C5C5Cull;

// Bit 7 of each byte of w that equals '\\' (exact for the lowest such byte, which is all we use).
// Only the builds without SSE2 use it (clang's -Wunused-function rejects it in the others).
inline std::uint64_t backslash_bits(std::uint64_t w) {
  const std::uint64_t x = w ^ kBackslashes;
  return (x - kOnes) & ~x & kHighs;
}
#endif

// First backslash in [p, end), or end. Reads 32 (AVX2 builds), 16 (SSE2) or 8 bytes at a time
// and so up to 31 bytes past `end`: only for views inside the record, which has 64 readable
// padding bytes after it.
inline const char* find_backslash(const char* p, const char* end) {
#if defined(__AVX2__)
  // Built for x86-64-v3 (VIGIL_CPU): 32 bytes a step, so up to 31 past `end`.
  const __m256i backslashes = _mm256_set1_epi8('\\');
  while (p < end) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if (const unsigned m = static_cast<unsigned>(
            _mm256_movemask_epi8(_mm256_cmpeq_epi8(w, backslashes)))) {
      const char* hit = p + __builtin_ctz(m);
      return hit < end ? hit : end;
    }
    p += 32;
  }
  return end;
#elif defined(__SSE2__)
  const __m128i backslashes = _mm_set1_epi8('\\');
  while (p < end) {
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (const unsigned m = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_cmpeq_epi8(w, backslashes)))) {
      const char* hit = p + __builtin_ctz(m);
      return hit < end ? hit : end;
    }
    p += 16;
  }
  return end;
#else
  while (p < end) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if (const std::uint64_t m = backslash_bits(w)) {
      const char* hit = p + (__builtin_ctzll(m) >> 3);
      return hit < end ? hit : end;
    }
    p += 8;
  }
  return end;
#endif
}

// Decodes the JSON escapes of a string's content (between its quotes) straight into the arena:
// one pass, 16 (SSE2) or 8 bytes at a time between escapes, no intermediate buffer (decoded text
// is never longer than the escaped one; 16 bytes of slack absorb the wide writes). Same padding
// contract as find_backslash. A lone or mismatched UTF-16 surrogate becomes U+FFFD rather than
// failing the whole event; an escape JSON does not define is an error.
bool unescape_json(std::string_view in, StringArena& arena, std::string_view* out_view) {
  char* const out_start = arena.allocate(in.size() + 16);
  char* out = out_start;
  const char* p = in.data();
  const char* const end = p + in.size();
  while (p < end) {
#if defined(__SSE2__)
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), w);
    const unsigned m = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(w, _mm_set1_epi8('\\'))));
    const auto left = static_cast<std::size_t>(end - p);
    const std::size_t plain = m == 0 ? 16 : static_cast<std::size_t>(__builtin_ctz(m));
#else
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    std::memcpy(out, &w, 8);
    const std::uint64_t m = backslash_bits(w);
    const auto left = static_cast<std::size_t>(end - p);
    const std::size_t plain = m == 0 ? 8 : (__builtin_ctzll(m) >> 3);
#endif
    if (plain >= left) {
      out += left;
      break;
    }
    out += plain;
    p += plain;
    if (m == 0) continue;
    // p is at a backslash.
    if (p + 1 >= end) return false;
    const char e = p[1];
    p += 2;
    switch (e) {
      case '\\': *out++ = '\\'; break;  // the common one (Windows paths)
      case '"': *out++ = '"'; break;
      case '/': *out++ = '/'; break;
      case 'b': *out++ = '\b'; break;
      case 'f': *out++ = '\f'; break;
      case 'n': *out++ = '\n'; break;
      case 'r': *out++ = '\r'; break;
      case 't': *out++ = '\t'; break;
      case 'u': {
        if (end - p < 4) return false;
        const int unit = read_hex4(p);
        if (unit < 0) return false;
        p += 4;
        std::uint32_t cp = static_cast<std::uint32_t>(unit);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          int low = -1;
          if (end - p >= 6 && p[0] == '\\' && p[1] == 'u') low = read_hex4(p + 2);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(low) - 0xDC00);
            p += 6;
          } else {
            cp = 0xFFFD;
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          cp = 0xFFFD;
        }
        out += encode_utf8(cp, out);
        break;
      }
      default: return false;
    }
  }
  *out_view = std::string_view(out_start, static_cast<std::size_t>(out - out_start));
  return true;
}

}  // namespace

}  // namespace vigil::parse::internal

namespace vigil::parse {
bool decode_json_string(std::string_view escaped, StringArena& arena, std::string_view* out) {
  return internal::unescape_json(escaped, arena, out);
}
}  // namespace vigil::parse

namespace vigil::parse::internal {
namespace {

// Top-level names that Winlogbeat 6, NXLog and Sentinel give Windows fields, with Sigma's
// name, which is added beside the original (only for a scalar value).
std::string_view top_level_alias(std::string_view key) {
  switch (key.size()) {
    case 8:
      if (key == "event_id") return "EventID";
      if (key == "log_name") return "Channel";
      if (key == "Provider") return "Provider_Name";  // Sentinel's WindowsEvent table
      if (key == "Hostname") return "Computer";       // NXLog (im_msvistalog), the OTRF captures
      break;
    case 10: if (key == "SourceName") return "Provider_Name"; break;
    case 11: if (key == "source_name") return "Provider_Name"; break;
    case 13: if (key == "computer_name") return "Computer"; break;
    default: break;
  }
  return {};
}

std::string_view winlog_name(std::string_view key) {
  if (key == "event_id") return "EventID";
  if (key == "channel") return "Channel";
  if (key == "computer_name") return "Computer";
  if (key == "provider_name") return "Provider_Name";
  if (key == "provider_guid") return "Provider_Guid";
  if (key == "record_id") return "EventRecordID";
  return {};
}

// Is every backslash escape in a string's content one that JSON defines? The check
// unescape_json makes, without decoding (for skipped values). With `short_only`, only the
// short canonical escapes count (\\ \" \b \f \n \r \t: not \/ or \uXXXX). Same padding
// contract.
bool valid_escapes(std::string_view in, bool short_only = false) {
  const char* p = in.data();
  const char* const end = p + in.size();
  while ((p = find_backslash(p, end)) != end) {
    if (p + 1 >= end) return false;
    switch (p[1]) {
      case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
        p += 2;
        break;
      case '/':
        if (short_only) return false;
        p += 2;
        break;
      case 'u':
        if (short_only || end - p < 6 || read_hex4(p + 2) < 0) return false;
        p += 6;
        break;
      default: return false;
    }
  }
  return true;
}

// The checks walk_value makes on a scalar token, without decoding it (for skipped values);
// a string's escapes only with `escapes`.
error_code check_skipped_scalar(std::string_view raw_token, bool escapes) {
  const std::string_view tok = trim_token(raw_token);
  if (tok.empty()) return simdjson::TAPE_ERROR;
  switch (tok[0]) {
    case '"':
      // Stage 1 has checked the string's extent, UTF-8 and control characters; its escapes
      // only on request (the scan costs ~10% of a selective parse of Windows events).
      if (tok.size() < 2 || tok.back() != '"' ||
          (escapes && !valid_escapes(tok.substr(1, tok.size() - 2))))
        return simdjson::STRING_ERROR;
      return simdjson::SUCCESS;
    case 't': return tok == "true" ? simdjson::SUCCESS : simdjson::T_ATOM_ERROR;
    case 'f': return tok == "false" ? simdjson::SUCCESS : simdjson::F_ATOM_ERROR;
    case 'n': return tok == "null" ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    default: return valid_number_token(tok) ? simdjson::SUCCESS : simdjson::NUMBER_ERROR;
  }
}

using Slot = FieldSelection::Slot;

// Must a value named `name` (its slot, or nullptr) be walked, given its first byte?
// Scalars: when wanted or a time/host source. Objects (whose fields are named "name.child"):
// when a prefix of such a name. Arrays (elements named like the array, or objects): either.
inline bool slot_relevant(const Slot* s, char first) {
  if (s == nullptr) return false;
  std::uint32_t need;
  if (first == '{') need = FieldSelection::kPrefix | FieldSelection::kTimeHostPrefix;
  else if (first == '[') need = ~0u;
  else need = FieldSelection::kWanted | FieldSelection::kTimeHost;
  return (s->flags & need) != 0;
}

}  // namespace

const std::string_view kTopLevelLayoutNames[12] = {
    "Event",    "winlog",     "event_data",  "user_data",     "event_id",
    "log_name", "Provider",   "SourceName",  "source_name",   "computer_name",
    "win",      "data"};

const std::string_view kTimeHostNames[13] = {
    "host",     "time",       "UtcTime",    "Computer",    "Hostname",
    "hostname", "host.name",  "timestamp",  "EventTime",   "SystemTime",
    "@timestamp", "TimeCreated", "TimeGenerated"};

// `name` with its spaces removed, in the arena ("Threat Name" -> "ThreatName").
std::string_view without_spaces(StringArena& arena, std::string_view name) {
  char* out = arena.allocate(name.size());
  std::size_t n = 0;
  for (char c : name)
    if (c != ' ') out[n++] = c;
  return std::string_view(out, n);
}

// The Windows name of a Wazuh eventchannel field. The agent writes Windows' names with their
// first letter lowered (EventID -> eventID, TargetUserName -> targetUserName, IpAddress ->
// ipAddress, ProcessId -> processId), and the Provider attributes as providerName and
// providerGuid, which Sigma calls Provider_Name and Provider_Guid. Windows names that begin
// in lower case are kept: paramN (services, System log) and the few SigmaHQ's rules read
// (BITS processPath, AppX subjectName, OpenSSH process, payload). BITS's processId is the
// word Sysmon's ProcessId becomes: walk_field gives it under both names.
std::string_view wazuh_name(StringArena& arena, std::string_view key) {
  if (key.empty() || key[0] < 'a' || key[0] > 'z') return key;
  switch (key.size()) {
    case 7:
      if (key == "process" || key == "payload") return key;
      break;
    case 11:
      if (key == "processPath" || key == "subjectName") return key;
      break;
    case 12:
      if (key == "providerName") return "Provider_Name";
      if (key == "providerGuid") return "Provider_Guid";
      break;
    default: break;
  }
  if (key.size() > 5 && key.substr(0, 5) == "param" && is_digit(key[5])) return key;
  char* out = arena.allocate(key.size());
  std::memcpy(out, key.data(), key.size());
  out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return std::string_view(out, key.size());
}

// The Wazuh agent escapes the backslashes of Windows values once more than JSON needs
// ("C:\\\\Windows" in the JSON text, "C:\\Windows" decoded): each doubled pair becomes one
// backslash again (a UNC path's leading "\\\\" so becomes "\\"). `s` is decoded text; the
// result is `s` itself when it has no pair, else a copy in the arena.
std::string_view collapse_doubled_backslashes(StringArena& arena, std::string_view s) {
  const std::size_t first = s.find("\\\\");
  if (first == std::string_view::npos) return s;
  char* out = arena.allocate(s.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    out[n++] = s[i];
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '\\') ++i;
  }
  return std::string_view(out, n);
}

class JsonFlattener {
 public:
  ParseErrorKind run(std::string_view json, Event& event, const FieldSelection* wanted,
                     std::vector<int>* ids, bool check_escapes, bool keep_escaped);

 private:
  // In a selective parse (and outside a full_ walk), may a value named `name` whose token
  // starts with `first` be skipped? The composed form avoids building "a.b" to ask.
  bool skip(std::string_view name, char first) const {
    return selective() && !slot_relevant(wanted_->lookup(name), first);
  }
  bool skip(std::string_view a, char sep, std::string_view b, char first) const {
    return selective() && !slot_relevant(wanted_->lookup(a, sep, b), first);
  }
  bool selective() const { return wanted_ != nullptr && !full_; }
  // A value that is not walked: scalars are still checked as walk_value would; objects and
  // arrays are left to the iterator, which skips them.
  error_code skipped(std::string_view value_token) const {
    const char c = value_token.empty() ? '\0' : value_token[0];
    return c == '{' || c == '[' ? simdjson::SUCCESS
                                : check_skipped_scalar(value_token, check_escapes_);
  }

  error_code walk_value(od::value v, std::string_view name, Mode mode, int depth,
                        bool checked = false);
  error_code walk_object(od::object obj, std::string_view name, Mode mode, int depth);
  __attribute__((noinline)) error_code walk_field(od::value value, std::string_view key,
                                                  std::string_view token, std::string_view name,
                                                  Mode mode, int depth);
  error_code walk_data_element(od::object obj, int depth);
  // `escaped` (when not null, and keep_escaped_): a string with escapes is given as written
  // and *escaped set, instead of decoded.
  error_code string_value(od::value& v, std::string_view* out, bool* escaped = nullptr);
  // The same from a string's trimmed token (quotes included).
  error_code string_content(std::string_view token, std::string_view* out, bool* escaped);
  inline error_code next_field(od::field& field, std::string_view* key,
                                                       std::string_view* value_token);
  void emit(std::string_view name, std::string_view value, ValueKind kind, bool escaped = false);
  void emit_indexed(std::string_view name, std::string_view value, ValueKind kind, int index,
                    bool time_or_host, bool escaped);
  error_code scalar_value(std::string_view token, std::string_view* out, ValueKind* kind,
                          bool* escaped);
  void note_time_or_host(std::string_view name, std::string_view value, ValueKind kind,
                         bool escaped);

  od::parser parser_;
  Event* event_ = nullptr;
  StringArena* arena_ = nullptr;
  // Data elements whose "#text" comes before their Name attribute wait here.
  bool capturing_ = false;
  std::vector<Field> pending_;
  // Best time / host candidates so far (lower rank wins).
  // Selective parse: the selection and where the indexes go (nullptr for a full parse); full_
  // suspends skipping (a top-level alias key, whose alias depends on every field under it).
  const FieldSelection* wanted_ = nullptr;
  std::vector<int>* ids_ = nullptr;
  bool full_ = false;
  bool check_escapes_ = false;
  // Selective parse for the matcher: strings with escapes are emitted as written (Field::escaped).
  bool keep_escaped_ = false;
  // Every emit, added or filtered out, and the last one (for the top-level aliases).
  std::size_t emit_count_ = 0;
  Field last_emit_;
  std::string_view time_, host_;
  ValueKind time_kind_ = ValueKind::kString;
  int time_rank_ = 0, host_rank_ = 0;
};

void JsonFlattenerDeleter::operator()(JsonFlattener* p) const { delete p; }

std::unique_ptr<JsonFlattener, JsonFlattenerDeleter> make_json_flattener() {
  return std::unique_ptr<JsonFlattener, JsonFlattenerDeleter>(new JsonFlattener());
}

ParseErrorKind flatten_json(JsonFlattener& flattener, std::string_view json, Event& event) {
  return flattener.run(json, event, nullptr, nullptr, false, false);
}

ParseErrorKind flatten_json_selected(JsonFlattener& flattener, std::string_view json,
                                     Event& event, const FieldSelection& wanted,
                                     std::vector<int>& ids, bool check_skipped_escapes,
                                     bool keep_escaped) {
  return flattener.run(json, event, &wanted, &ids, check_skipped_escapes, keep_escaped);
}

ParseErrorKind JsonFlattener::run(std::string_view json, Event& event,
                                  const FieldSelection* wanted, std::vector<int>* ids,
                                  bool check_escapes, bool keep_escaped) {
  check_escapes_ = check_escapes;
  keep_escaped_ = keep_escaped && wanted != nullptr;
  event_ = &event;
  wanted_ = wanted;
  ids_ = ids;
  full_ = false;
  emit_count_ = 0;
  arena_ = &event.fields.arena();
  capturing_ = false;
  pending_.clear();
  time_ = host_ = {};
  time_rank_ = host_rank_ = 1 << 30;

  od::document doc;
  error_code err =
      parser_.iterate(simdjson::padded_string_view(json.data(), json.size(),
                                                   json.size() + simdjson::SIMDJSON_PADDING))
          .get(doc);
  if (!err) {
    od::object root;
    err = doc.get_object().get(root);
    if (!err) err = walk_object(root, {}, Mode::kTop, 0);
    if (!err) {
      const char* loc = nullptr;
      // Anything after the root object (a second document, a stray brace) is an error.
      if (doc.current_location().get(loc) == simdjson::SUCCESS) err = simdjson::TRAILING_CONTENT;
    }
  }
  if (err) {
    if (err == simdjson::UTF8_ERROR) return ParseErrorKind::kInvalidUtf8;
    return looks_truncated(json) ? ParseErrorKind::kTruncatedJson : ParseErrorKind::kInvalidJson;
  }

  if (!time_.empty()) {
    event.time_text = time_;
    std::int64_t ns = 0;
    if (time_kind_ == ValueKind::kNumber ? parse_epoch(time_, &ns)
                                         : match_iso8601(time_, &ns) != 0)
      event.time_unix_ns = ns;
  }
  if (!host_.empty()) event.host = host_;
  return ParseErrorKind::kNone;
}

void JsonFlattener::note_time_or_host(std::string_view name, std::string_view value,
                                      ValueKind kind, bool escaped) {
  int time_rank = -1, host_rank = -1;
  switch (name.size()) {
    case 4:
      if (name == "host") host_rank = 3;
      else if (name == "time") time_rank = 5;
      break;
    case 7: if (name == "UtcTime") time_rank = 3; break;
    case 8:
      if (name == "Computer") host_rank = 0;
      else if (name == "Hostname") host_rank = 1;
      else if (name == "hostname") host_rank = 4;
      break;
    case 9:
      if (name == "host.name") host_rank = 2;
      else if (name == "timestamp") time_rank = 4;
      else if (name == "EventTime") time_rank = 7;  // NXLog, Azure Syslog table
      break;
    case 10:
      if (name == "SystemTime") time_rank = 0;
      else if (name == "@timestamp") time_rank = 2;
      break;
    case 11: if (name == "TimeCreated") time_rank = 1; break;
    case 13: if (name == "TimeGenerated") time_rank = 6; break;  // Azure Monitor / Sentinel
    default: return;
  }
  if (value.empty()) return;
  // Kept escaped for the matcher: the event's time and host are decoded here (a bad escape
  // leaves them unset; the value itself is checked when a rule decodes it).
  if (escaped && ((time_rank >= 0 && time_rank < time_rank_) || (host_rank >= 0 && host_rank < host_rank_)) &&
      !unescape_json(value, *arena_, &value))
    return;
  if (time_rank >= 0 && time_rank < time_rank_ &&
      (kind == ValueKind::kString || kind == ValueKind::kNumber)) {
    time_rank_ = time_rank;
    time_ = value;
    time_kind_ = kind;
  }
  if (host_rank >= 0 && host_rank < host_rank_ && kind == ValueKind::kString) {
    host_rank_ = host_rank;
    host_ = value;
  }
}

// emit() for a name whose selection index (or -1) and time/host role are known.
void JsonFlattener::emit_indexed(std::string_view name, std::string_view value, ValueKind kind,
                                 int index, bool time_or_host, bool escaped) {
  ++emit_count_;
  last_emit_ = Field{name, value, kind, escaped};
  if (index >= 0) {
    event_->fields.add(name, value, kind, escaped);
    ids_->push_back(index);
  }
  if (time_or_host) note_time_or_host(name, value, kind, escaped);
}

// A scalar from its raw token, checked and decoded as walk_value does.
error_code JsonFlattener::scalar_value(std::string_view token, std::string_view* out,
                                       ValueKind* kind, bool* escaped) {
  const std::string_view tok = trim_token(token);
  if (tok.empty()) return simdjson::TAPE_ERROR;
  *escaped = false;
  switch (tok[0]) {
    case '"':
      *kind = ValueKind::kString;
      return string_content(tok, out, escaped);
    case 't':
    case 'f':
      if (tok != "true" && tok != "false") return simdjson::T_ATOM_ERROR;
      *out = tok;
      *kind = ValueKind::kBool;
      return simdjson::SUCCESS;
    case 'n':
      if (tok != "null") return simdjson::N_ATOM_ERROR;
      *out = {};
      *kind = ValueKind::kNull;
      return simdjson::SUCCESS;
    default:
      if (!valid_number_token(tok)) return simdjson::NUMBER_ERROR;
      *out = tok;
      *kind = ValueKind::kNumber;
      return simdjson::SUCCESS;
  }
}

void JsonFlattener::emit(std::string_view name, std::string_view value, ValueKind kind,
                         bool escaped) {
  if (capturing_) {
    pending_.push_back(Field{name, value, kind, escaped});
    return;
  }
  ++emit_count_;
  last_emit_ = Field{name, value, kind, escaped};
  if (wanted_ == nullptr) {
    event_->fields.add(name, value, kind, escaped);
  } else if (const int index = wanted_->find(name); index >= 0) {
    event_->fields.add(name, value, kind, escaped);
    ids_->push_back(index);
  }
  note_time_or_host(name, value, kind, escaped);
}

error_code JsonFlattener::string_value(od::value& v, std::string_view* out, bool* escaped) {
  return string_content(trim_token(v.raw_json_token()), out, escaped);
}

error_code JsonFlattener::string_content(std::string_view tok, std::string_view* out, bool* escaped) {
  if (tok.size() < 2 || tok.front() != '"' || tok.back() != '"') return simdjson::STRING_ERROR;
  // The content as pointer and size in registers: a string_view whose address went to
  // unescape_json lived on the stack, and copying it out as one 16-byte load right after two
  // 8-byte stores missed store forwarding on every value (~3% of matching Windows events).
  const char* const data = tok.data() + 1;
  const std::size_t size = tok.size() - 2;
  if (escaped) *escaped = false;
  if (find_backslash(data, data + size) != data + size) {
    if (escaped && keep_escaped_) {
      *escaped = true;
    } else {
      std::string_view decoded;
      if (!unescape_json(std::string_view(data, size), *arena_, &decoded)) return simdjson::STRING_ERROR;
      *out = decoded;
      return simdjson::SUCCESS;
    }
  }
  *out = std::string_view(data, size);
  return simdjson::SUCCESS;
}

// The key of `field` as a view into the record (or the arena when it has escapes).
inline error_code JsonFlattener::next_field(od::field& field, std::string_view* key,
                                      std::string_view* value_token) {
  // The key starts after its opening quote; its closing quote is the last '"' before the ':'
  // that precedes the value, so walk back from the value's first byte.
  const char* start = field.key().raw();
  *value_token = field.value().raw_json_token();
  const char* p = value_token->data() - 1;
  if (p[0] == ':' && p[-1] == '"' && p - 1 >= start) {  // "key":value, the usual case
    const std::size_t n = static_cast<std::size_t>(p - 1 - start);
    if (find_backslash(start, start + n) == start + n) {
      *key = std::string_view(start, n);
      return simdjson::SUCCESS;
    }
  }
  while (p > start && is_json_space(*p)) --p;
  if (p <= start || *p != ':') return simdjson::TAPE_ERROR;
  --p;
  while (p > start && is_json_space(*p)) --p;
  if (p < start || *p != '"') return simdjson::TAPE_ERROR;
  std::string_view k(start, static_cast<std::size_t>(p - start));
  if (find_backslash(k.data(), k.data() + k.size()) != k.data() + k.size() &&
      !unescape_json(k, *arena_, &k))
    return simdjson::STRING_ERROR;
  *key = k;
  return simdjson::SUCCESS;
}

error_code JsonFlattener::walk_value(od::value v, std::string_view name, Mode mode, int depth,
                                     bool checked) {
  if (depth > kMaxDepth) return simdjson::SUCCESS;  // left unconsumed: the parent skips it
  if (!checked && selective()) {
    // Array elements and Data elements' values: a scalar nobody wants is checked, not decoded.
    const std::string_view tok = v.raw_json_token();
    if (!tok.empty() && tok[0] != '{' && tok[0] != '[' && skip(name, tok[0]))
      return check_skipped_scalar(tok, check_escapes_);
  }
  od::json_type type;
  if (error_code e = v.type().get(type)) return e;
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (error_code e = v.get_object().get(obj)) return e;
      if (mode == Mode::kWinData && !capturing_) return walk_data_element(obj, depth + 1);
      return walk_object(obj, name, mode == Mode::kWinData ? Mode::kWinNode : mode, depth + 1);
    }
    case od::json_type::array: {
      od::array arr;
      if (error_code e = v.get_array().get(arr)) return e;
      for (auto element : arr) {
        od::value ev;
        if (error_code e = std::move(element).get(ev)) return e;
        // On-Demand does not check what follows a string element: ["t","x":"a"}] passed as
        // the two elements "t" and "x". A string element is followed by ',' or ']'.
        if (const std::string_view tok = ev.raw_json_token(); !tok.empty() && tok[0] == '"') {
          const char* after = tok.data() + tok.size();
          while (is_json_space(*after)) ++after;
          if (*after != ',' && *after != ']') return simdjson::TAPE_ERROR;
        }
        if (error_code e = walk_value(ev, name, mode, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view s;
      bool escaped;
      if (mode == Mode::kWazuhValue) {
        // Decoded (never kept escaped): the doubled backslashes are collapsed after decoding.
        if (error_code e = string_value(v, &s)) return e;
        emit(name, collapse_doubled_backslashes(*arena_, s), ValueKind::kString);
        return simdjson::SUCCESS;
      }
      if (error_code e = string_value(v, &s, &escaped)) return e;
      emit(name, s, ValueKind::kString, escaped);
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      const std::string_view tok = trim_token(v.raw_json_token());
      if (!valid_number_token(tok)) return simdjson::NUMBER_ERROR;
      emit(name, tok, ValueKind::kNumber);
      return simdjson::SUCCESS;
    }
    case od::json_type::boolean: {
      const std::string_view tok = trim_token(v.raw_json_token());
      if (tok != "true" && tok != "false") return simdjson::T_ATOM_ERROR;
      emit(name, tok, ValueKind::kBool);
      return simdjson::SUCCESS;
    }
    case od::json_type::null: {
      if (trim_token(v.raw_json_token()) != "null") return simdjson::N_ATOM_ERROR;
      emit(name, {}, ValueKind::kNull);
      return simdjson::SUCCESS;
    }
  }
  return simdjson::TAPE_ERROR;
}

error_code JsonFlattener::walk_object(od::object obj, std::string_view name, Mode mode,
                                      int depth) {
  const bool top_selective = mode == Mode::kTop && selective();
  for (auto result : obj) {
    if (error_code e = result.error()) return e;
    od::field& field = result.value_unsafe();
    std::string_view key, token;
    if (error_code e = next_field(field, &key, &token)) return e;
    const char first = token.empty() ? '\0' : token[0];
    const bool scalar = first != '{' && first != '[';
    if (top_selective) {
      // The common case first: one probe rejects a top-level key that is neither wanted nor a
      // time/host source, a prefix of one, or a key the Windows layouts treat specially.
      const Slot* s = wanted_->lookup(key);
      if (s == nullptr ||
          ((s->flags & FieldSelection::kTopLevelLayout) == 0 && !slot_relevant(s, first))) {
        if (scalar) {
          if (error_code e = check_skipped_scalar(token, check_escapes_)) return e;
        }
        continue;
      }
      if (scalar && (s->flags & FieldSelection::kTopLevelLayout) == 0) {
        // A plain top-level scalar (flat layouts: most wanted fields): read from its token.
        std::string_view v;
        ValueKind kind;
        bool escaped;
        if (error_code e = scalar_value(token, &v, &kind, &escaped)) return e;
        emit_indexed(key, v, kind, s->index, (s->flags & FieldSelection::kTimeHost) != 0, escaped);
        // A time/host source with a Sigma name too (NXLog's Hostname is Computer): parse() adds
        // the alias after it.
        if ((s->flags & FieldSelection::kTimeHost) != 0)
          if (const std::string_view alias = top_level_alias(key); !alias.empty())
            if (const Slot* a = wanted_->lookup(alias); a != nullptr && slot_relevant(a, first))
              emit_indexed(alias, v, kind, a->index, (a->flags & FieldSelection::kTimeHost) != 0, escaped);
        continue;
      }
    } else if (mode == Mode::kTop && scalar && !capturing_ && top_level_alias(key).empty()) {
      std::string_view v;
      ValueKind kind;
      bool escaped;
      if (error_code e = scalar_value(token, &v, &kind, &escaped)) return e;
      emit(key, v, kind, escaped);
      continue;
    }
    if (error_code e = walk_field(field.value(), key, token, name, mode, depth)) return e;
  }
  return simdjson::SUCCESS;
}

// One field of an object named `name` walked in `mode`: names the child by the layout rules
// and walks its value (or skips it, in a selective parse, when nothing under it is wanted).
error_code JsonFlattener::walk_field(od::value value, std::string_view key,
                                     std::string_view token, std::string_view name, Mode mode,
                                     int depth) {
  const char first = token.empty() ? '\0' : token[0];
  std::string_view child = key;
  Mode child_mode = Mode::kGeneric;
  switch (mode) {
    case Mode::kTop: {
      if (key == "Event") {
        child_mode = Mode::kEvtxEvent;
      } else if (key == "winlog") {
        child_mode = Mode::kWinlog;
      } else if (key == "event_data" || key == "user_data") {
        child_mode = Mode::kWinSection;  // Winlogbeat 6
      } else if (key == "win") {
        child_mode = Mode::kWazuhWin;  // the Wazuh agent's layout
      } else if (key == "data") {
        child_mode = Mode::kWazuhData;  // the Wazuh manager's: "win" may be inside
      } else if (const std::string_view alias = top_level_alias(key); !alias.empty()) {
        // The alias is added when the value gave exactly one field, named `key`: walk all of
        // it (emit filters) so that the count is parse()'s.
        if (skip(key, first) && skip(alias, first)) {
          if (error_code e = skipped(token)) return e;
          return simdjson::SUCCESS;
        }
        const bool was_full = full_;
        full_ = true;
        const std::size_t before = emit_count_;
        const error_code e = walk_value(value, key, Mode::kGeneric, depth, true);
        full_ = was_full;
        if (e) return e;
        if (emit_count_ == before + 1 && last_emit_.name == key)
          emit(alias, last_emit_.value, last_emit_.kind, last_emit_.escaped);
        return simdjson::SUCCESS;
      }
      if (child_mode == Mode::kGeneric && skip(key, first)) {
        if (error_code e = skipped(token)) return e;
        return simdjson::SUCCESS;
      }
      break;
    }
    case Mode::kGeneric:
      if (skip(name, '.', key, first)) {
        if (error_code e = skipped(token)) return e;
        return simdjson::SUCCESS;
      }
      child = compose(*arena_, name, '.', key);
      break;
    case Mode::kEvtxEvent:
      if (key == "System" || key == "EventData") child_mode = Mode::kWinSection;
      else if (key == "UserData") child_mode = Mode::kUserData;
      else if (key == "#attributes") child_mode = Mode::kWinAttrs, child = name;
      else child_mode = Mode::kWinNode;
      break;
    case Mode::kWinSection:
      if (key == "Data") child_mode = Mode::kWinData;
      else if (key == "#attributes") child_mode = Mode::kWinAttrs;  // EventData Name=, xmlns=
      else if (key == "#text") child = "Data", child_mode = Mode::kWinNode;
      else {
        child_mode = Mode::kWinNode;
        // Some providers name EventData items with spaces ("Threat Name"); Sigma writes
        // Windows field names without them (ThreatName), as the specification says.
        if (key.find(' ') != std::string_view::npos) child = without_spaces(*arena_, key);
        // Objects in Windows modes are walked (their attributes have names of their own);
        // a scalar nobody wants is skipped here.
        if (first != '{' && first != '[' && skip(child, first)) {
          if (error_code e = skipped(token)) return e;
          return simdjson::SUCCESS;
        }
      }
      break;
    case Mode::kUserData:
      child_mode = Mode::kWinSection;
      break;
    case Mode::kWinNode:
    case Mode::kWinData:
      child_mode = Mode::kWinNode;
      if (key == "#text") {
        child = name;
      } else if (key == "#attributes") {
        child_mode = Mode::kWinAttrs, child = name;
      } else {
        if (first != '{' && first != '[' && skip(name, '.', key, first)) {
          if (error_code e = skipped(token)) return e;
          return simdjson::SUCCESS;
        }
        child = compose(*arena_, name, '.', key);
      }
      break;
    case Mode::kWinAttrs:
      child_mode = Mode::kWinNode;
      if (name == "Provider") {
        if (first != '{' && first != '[' && skip(name, '_', key, first)) {
          if (error_code e = skipped(token)) return e;
          return simdjson::SUCCESS;
        }
        child = compose(*arena_, name, '_', key);
      }
      break;
    case Mode::kWazuhData:
      if (key == "win") {
        child = "data.win";
        child_mode = Mode::kWazuhWin;
        break;
      }
      if (skip(name, '.', key, first)) {
        if (error_code e = skipped(token)) return e;
        return simdjson::SUCCESS;
      }
      child = compose(*arena_, name, '.', key);
      break;
    case Mode::kWazuhWin:
      if (key == "system" || key == "eventdata") {
        child_mode = Mode::kWazuhSection;
        break;
      }
      if (skip(name, '.', key, first)) {
        if (error_code e = skipped(token)) return e;
        return simdjson::SUCCESS;
      }
      child = compose(*arena_, name, '.', key);
      break;
    case Mode::kWazuhSection:
      child = wazuh_name(*arena_, key);
      child_mode = Mode::kWazuhValue;
      if (key == "processId" && first != '{' && first != '[') {
        // Sysmon's ProcessId lowered by the agent, or BITS-Client's own processId (SigmaHQ's
        // bits-client rules read that name): both names, the value once.
        std::string_view v;
        ValueKind kind;
        bool escaped;
        if (error_code e = scalar_value(token, &v, &kind, &escaped)) return e;
        emit(child, v, kind, escaped);
        emit(key, v, kind, escaped);
        return simdjson::SUCCESS;
      }
      if (first != '{' && first != '[' && skip(child, first)) {
        if (error_code e = skipped(token)) return e;
        return simdjson::SUCCESS;
      }
      break;
    case Mode::kWazuhValue:  // an object inside a value: named as kGeneric names it
      if (skip(name, '.', key, first)) {
        if (error_code e = skipped(token)) return e;
        return simdjson::SUCCESS;
      }
      child = compose(*arena_, name, '.', key);
      child_mode = Mode::kWazuhValue;
      break;
    case Mode::kWinlog:
      if (key == "event_data" || key == "user_data") {
        child_mode = Mode::kWinSection;
      } else if (const std::string_view sigma = winlog_name(key); !sigma.empty()) {
        child = sigma;
        child_mode = Mode::kWinNode;
      } else {
        if (skip(name, '.', key, first)) {
          if (error_code e = skipped(token)) return e;
          return simdjson::SUCCESS;
        }
        child = compose(*arena_, name, '.', key);
      }
      break;
  }
  return walk_value(value, child, child_mode, depth);
}

// {"#attributes":{"Name":"x"},"#text":"v"} -> x = v ("Data" when there is no Name).
error_code JsonFlattener::walk_data_element(od::object obj, int depth) {
  std::string_view data_name;
  bool has_text = false;
  pending_.clear();
  for (auto result : obj) {
    od::field field;
    if (error_code e = std::move(result).get(field)) return e;
    std::string_view key, token;
    if (error_code e = next_field(field, &key, &token)) return e;
    od::value value = field.value();
    if (key == "#attributes") {
      od::json_type type;
      if (error_code e = value.type().get(type)) return e;
      if (type != od::json_type::object) continue;  // skipped by the iterator
      od::object attrs;
      if (error_code e = value.get_object().get(attrs)) return e;
      for (auto attr_result : attrs) {
        od::field attr;
        if (error_code e = std::move(attr_result).get(attr)) return e;
        std::string_view attr_key, attr_token;
        if (error_code e = next_field(attr, &attr_key, &attr_token)) return e;
        od::value attr_value = attr.value();
        od::json_type attr_type;
        if (error_code e = attr_value.type().get(attr_type)) return e;
        if (attr_key == "Name" && attr_type == od::json_type::string) {
          if (error_code e = string_value(attr_value, &data_name)) return e;
          if (data_name.find(' ') != std::string_view::npos)
            data_name = without_spaces(*arena_, data_name);
        } else if (error_code e = walk_value(attr_value, attr_key, Mode::kWinNode, depth + 1)) {
          return e;
        }
      }
    } else if (key == "#text") {
      has_text = true;
      if (!data_name.empty()) {
        if (error_code e = walk_value(value, data_name, Mode::kWinNode, depth)) return e;
      } else {
        // Captured whatever its name turns out to be; emit() filters when it is known.
        capturing_ = true;
        const bool was_full = full_;
        full_ = true;
        const error_code e = walk_value(value, "Data", Mode::kWinNode, depth);
        full_ = was_full;
        capturing_ = false;
        if (e) return e;
      }
    } else if (error_code e = walk_value(value, key, Mode::kWinNode, depth)) {
      return e;
    }
  }
  for (const Field& f : pending_)
    emit(data_name.empty() ? f.name : data_name, f.value, f.kind, f.escaped);
  pending_.clear();
  if (!has_text && !data_name.empty()) emit(data_name, {}, ValueKind::kNull);
  return simdjson::SUCCESS;
}

}  // namespace vigil::parse::internal

namespace vigil::parse {
bool has_only_short_escapes(std::string_view escaped) {
  return internal::valid_escapes(escaped, /*short_only=*/true);
}
}  // namespace vigil::parse
