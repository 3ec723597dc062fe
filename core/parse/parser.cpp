// RecordParser: record checks shared by every format, format detection, dispatch, and the
// small helpers (numbers, names) the per-format parsers share. Time stamps: core/time_text.h.
#include "core/parse/parser.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/evtx/event_tree.h"
#include "core/parse/parsers_internal.h"
#include "core/parse/web_normalize.h"

namespace vigil::parse {

using namespace internal;

namespace internal {

bool parse_uint(std::string_view s, std::uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

std::string_view compose(StringArena& arena, std::string_view a, char sep, std::string_view b) {
  const std::size_t n = a.size() + 1 + b.size();
  char* p = arena.allocate(n);
  if (!a.empty()) std::memcpy(p, a.data(), a.size());
  p[a.size()] = sep;
  if (!b.empty()) std::memcpy(p + a.size() + 1, b.data(), b.size());
  return std::string_view(p, n);
}

bool starts_with_pid_tag(std::string_view s) {
  std::size_t p = 0;
  while (p < s.size() && p < 64 && (is_alpha(s[p]) || is_digit(s[p]) || s[p] == '_' || s[p] == '-' || s[p] == '.' || s[p] == '/'))
    ++p;
  if (p == 0 || p >= s.size() || s[p] != '[') return false;
  std::size_t q = p + 1;
  while (q < s.size() && q - p <= 10 && is_digit(s[q])) ++q;
  if (q == p + 1 || q + 1 >= s.size() || s[q] != ']' || s[q + 1] != ':') return false;
  return q + 2 == s.size() || s[q + 2] == ' ';
}

}  // namespace internal

// ---- detection --------------------------------------------------------------------------------

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

std::string_view skip_bom_and_space(std::string_view s) {
  if (s.substr(0, 3) == kUtf8Bom) s.remove_prefix(3);
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n'))
    s.remove_prefix(1);
  return s;
}

// "<digits>" at the start: returns the offset after '>' or 0.
std::size_t match_pri(std::string_view s) {
  if (s.size() < 3 || s[0] != '<') return 0;
  std::size_t i = 1;
  while (i < s.size() && i <= 4 && is_digit(s[i])) ++i;
  if (i == 1 || i > 4 || i >= s.size() || s[i] != '>') return 0;
  return i + 1;
}

// After a timestamp: " host " then the message; true when the message is key=value.
// *msg is set to the message (after the host) when there is one.
bool header_then_kv(std::string_view rest, std::string_view* msg_out) {
  std::size_t p = 0;
  while (p < rest.size() && rest[p] == ' ') ++p;
  if (starts_with_kv_token(rest.substr(p))) {  // "<189>Jan 2 10:11:12 date=..." (no host)
    *msg_out = rest.substr(p);
    return count_kv_tokens(rest.substr(p), 3) >= 3;
  }
  const std::size_t host_end = rest.find(' ', p);
  if (host_end == std::string_view::npos) return false;
  std::string_view msg = rest.substr(host_end + 1);
  *msg_out = msg;
  return starts_with_kv_token(msg) && count_kv_tokens(msg, 3) >= 3;
}

// The device formats that arrive behind a syslog header, told apart by the message's first
// bytes (and a memchr for Cisco's '%'). `rest` follows the timestamp. Checked only after the
// key=value test, so common syslog lines pay one memchr and a few byte compares.
LogFormat classify_syslog_message(std::string_view rest) {
  std::string_view msg;
  if (header_then_kv(rest, &msg)) return looks_like_auditd(msg) ? LogFormat::kAuditd : LogFormat::kKeyValue;
  std::size_t p = 0;
  while (p < rest.size() && rest[p] == ' ') ++p;
  if (p < rest.size() && is_digit(rest[p]) && looks_like_panos(rest.substr(p))) return LogFormat::kPanos;
  if (!msg.empty()) {
    if (is_digit(msg[0]) && looks_like_panos(msg)) return LogFormat::kPanos;
    // Past a tag ("audispd: ", "dev01: "): LEEF and audit records start the message.
    for (int i = 0; i < 2 && !msg.empty(); ++i) {
      if (msg[0] == 'L' && msg.substr(0, 5) == "LEEF:") return LogFormat::kLeef;
      if ((msg[0] == 't' || msg[0] == 'n') && looks_like_auditd(msg)) return LogFormat::kAuditd;
      const std::size_t sp = msg.find(' ');
      if (sp == std::string_view::npos || sp == 0 || msg[sp - 1] != ':') break;
      msg = msg.substr(sp + 1);
      while (!msg.empty() && msg[0] == ' ') msg.remove_prefix(1);
    }
  }
  if (find_cisco_marker(rest, 256) != std::string_view::npos) return LogFormat::kCisco;
  return LogFormat::kRfc3164;
}

// Check Point's RFC 5424 records carry [key:"value"; ...] where structured data would be.
bool checkpoint_body(std::string_view rest) {
  const std::size_t open = rest.find(" [");
  if (open == std::string_view::npos) return false;
  std::size_t p = open + 2;
  while (p < rest.size() && is_kv_key_char(rest[p])) ++p;
  return p > open + 2 && p + 1 < rest.size() && rest[p] == ':' && rest[p + 1] == '"';
}

// "#Software:", "#Version:", "#Date:", "#Fields:", "#Remark:": the W3C extended log directives.
// Columns of a W3C data line: runs of non-space bytes (IIS writes a space inside a value as '+').
std::size_t space_separated_columns(std::string_view s) {
  std::size_t columns = 0;
  bool in_column = false;
  for (const char c : s) {
    const bool space = c == ' ' || c == '\t';
    columns += !space && !in_column;
    in_column = !space;
  }
  return columns;
}

bool is_w3c_directive(std::string_view s) {
  if (s.size() < 6 || s[0] != '#') return false;
  return s.substr(0, 8) == "#Fields:" || s.substr(0, 10) == "#Software:" || s.substr(0, 9) == "#Version:" ||
         s.substr(0, 6) == "#Date:" || s.substr(0, 8) == "#Remark:";
}

// A W3C data line with no directive seen: "yyyy-mm-dd hh:mm:ss " then an HTTP method and a path
// among the next columns (IIS puts the site, computer name and server address before them).
bool looks_like_w3c_data(std::string_view s) {
  if (s.size() < 30 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[19] != ' ') return false;
  std::size_t p = 20;
  for (int column = 0; column < 5 && p < s.size(); ++column) {
    const std::size_t end = s.find(' ', p);
    if (end == std::string_view::npos) return false;
    const std::string_view token = s.substr(p, end - p);
    if ((token == "GET" || token == "POST" || token == "HEAD" || token == "PUT" || token == "DELETE" ||
         token == "OPTIONS" || token == "PATCH" || token == "PROPFIND") &&
        end + 1 < s.size() && s[end + 1] == '/')
      return true;
    p = end + 1;
  }
  return false;
}

bool is_host_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_' || c == ':';
}

// "1.2.3.4 - frank [10/Oct/..." or "vhost:80 1.2.3.4 - - [..."
bool looks_like_access(std::string_view s) {
  std::size_t p = 0;
  for (int token = 0; token < 2; ++token) {
    const std::size_t start = p;
    while (p < s.size() && is_host_char(s[p])) ++p;
    if (p == start || p >= s.size() || s[p] != ' ') return false;
    ++p;
    if (s.substr(p, 2) == "- ") {
      p += 2;
      // the user (may be "-"), then " [" and a day digit
      while (p < s.size() && s[p] != ' ' && p < 300) ++p;
      return s.substr(p, 2) == " [" && p + 2 < s.size() && is_digit(s[p + 2]);
    }
  }
  return false;
}

}  // namespace

LogFormat detect_format(std::string_view record) {
  std::string_view s = skip_bom_and_space(record);
  if (s.empty()) return LogFormat::kPlain;
  if (s[0] == '{') return LogFormat::kJson;
  if (s[0] == '<' && looks_like_win_xml(s)) return LogFormat::kWinXml;
  if (find_cef_marker(s, 200) != std::string_view::npos) return LogFormat::kCef;

  if (const std::size_t p = match_pri(s)) {
    std::string_view rest = s.substr(p);
    if (rest.size() >= 2 && rest[0] == '1' && rest[1] == ' ')
      return checkpoint_body(rest) ? LogFormat::kKeyValue : LogFormat::kRfc5424;
    if (starts_with_kv_token(rest)) return looks_like_auditd(rest) ? LogFormat::kAuditd : LogFormat::kKeyValue;
    if (const std::size_t t = match_bsd_timestamp(rest)) return classify_syslog_message(rest.substr(t));
    if (const std::size_t t = match_iso8601(rest, nullptr); t != 0 && rest[10] == 'T')
      return classify_syslog_message(rest.substr(t));
    // No timestamp: "<166>%ASA-..." or "<13>LEEF:..." or an ASA stamp with a year.
    if (rest.substr(0, 5) == "LEEF:") return LogFormat::kLeef;
    if (find_cisco_marker(rest, 256) != std::string_view::npos) return LogFormat::kCisco;
    return LogFormat::kRfc3164;
  }
  if (const std::size_t t = match_bsd_timestamp(s)) return classify_syslog_message(s.substr(t));
  if (const std::size_t t = match_iso8601(s, nullptr); t != 0 && s[10] == 'T') {
    // An RFC 3339 timestamp then a host: rsyslog's high-precision format. (Application logs
    // such as log4j's "2015-10-18 18:01:47,978 INFO ..." use a space and are plain text.)
    std::string_view rest = s.substr(t);
    if (rest.size() >= 2 && rest[0] == ' ' && is_host_char(rest[1])) return classify_syslog_message(rest);
  }
  // No stamp and no host, only the tag: "sshd[4242]: Failed password ..." (shippers that keep
  // the message part of a syslog line). The tag stands where the host would: the same tests.
  if (starts_with_pid_tag(s)) return classify_syslog_message(s);
  if (looks_like_access(s)) return LogFormat::kAccessLog;
  if (starts_with_kv_token(s)) {
    if ((s[0] == 't' || s[0] == 'n') && looks_like_auditd(s)) return LogFormat::kAuditd;
    if (count_kv_tokens(s.substr(0, 1024), 3) >= 3) return LogFormat::kKeyValue;
  }
  // The device formats with no syslog header, after every common format's test.
  switch (s[0]) {
    case '#':
      if (is_w3c_directive(s)) return LogFormat::kW3c;
      break;
    case 'L':
      if (s.substr(0, 5) == "LEEF:") return LogFormat::kLeef;
      break;
    default:
      if (is_digit(s[0])) {
        if (looks_like_panos(s)) return LogFormat::kPanos;
        if (looks_like_w3c_data(s)) return LogFormat::kW3c;
      }
      break;
  }
  // Bare "%ASA-..." or ASA's own "Apr 15 2013 09:36:50: %ASA-..." (a year in the stamp).
  if (find_cisco_marker(s, 256) != std::string_view::npos) return LogFormat::kCisco;
  return LogFormat::kPlain;
}

bool values_may_differ_from_raw(LogFormat format, std::string_view raw) {
  const auto has = [raw](char c) { return std::memchr(raw.data(), c, raw.size()) != nullptr; };
  switch (format) {
    case LogFormat::kCef:
    case LogFormat::kKeyValue:
    case LogFormat::kRfc5424: return has('\\');
    case LogFormat::kW3c: return has('+');
    case LogFormat::kAuditd: return auditd_may_have_hex_value(raw);
    default: return false;
  }
}

// ---- RecordParser -----------------------------------------------------------------------------

struct RecordParser::Impl {
  std::unique_ptr<JsonFlattener, JsonFlattenerDeleter> json = make_json_flattener();
  WinXmlConverter xml;
  std::string xml_json;
  Event scratch;  // parse_selected's full parse of a non-JSON record
  // The W3C "#Fields:" header of each stream (event.source) that sent one, most recent first.
  // Few streams write W3C logs at once; the oldest is dropped beyond kMaxW3cStreams.
  struct W3cStream {
    std::string source;
    W3cHeader header;
  };
  static constexpr std::size_t kMaxW3cStreams = 64;
  std::vector<W3cStream> w3c_streams;

  W3cStream* find_stream(std::string_view source) {
    for (std::size_t i = 0; i < w3c_streams.size(); ++i) {
      if (w3c_streams[i].source != source) continue;
      if (i != 0) std::rotate(w3c_streams.begin(), w3c_streams.begin() + static_cast<std::ptrdiff_t>(i),
                              w3c_streams.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return &w3c_streams.front();
    }
    return nullptr;
  }
  void remember(std::string_view source, std::string_view directive) {
    W3cStream* stream = find_stream(source);
    if (stream == nullptr) {
      if (w3c_streams.size() >= kMaxW3cStreams) w3c_streams.pop_back();
      w3c_streams.insert(w3c_streams.begin(), W3cStream{std::string(source), {}});
      stream = &w3c_streams.front();
    }
    if (!parse_w3c_fields_directive(directive, &stream->header)) w3c_streams.erase(w3c_streams.begin());
  }
};

RecordParser::RecordParser(ParserOptions options)
    : impl_(std::make_unique<Impl>()), options_(options) {}
RecordParser::~RecordParser() = default;

LogFormat RecordParser::detect(const Event& event, LogFormat forced) {
  if (forced != LogFormat::kUnknown && forced != LogFormat::kW3c) return forced;
  const std::string_view raw = event.raw;
  // The common case stays one test: no W3C stream known and no directive.
  if (impl_->w3c_streams.empty() && (raw.empty() || (raw[0] != '#' && raw[0] != '\xEF')))
    return forced != LogFormat::kUnknown ? forced : detect_format(raw);
  std::string_view line = raw;
  if (line.substr(0, 3) == kUtf8Bom) line.remove_prefix(3);
  line = strip_line_end(line);
  if (line.substr(0, 8) == "#Fields:") {
    impl_->remember(event.source, line);
    return LogFormat::kW3c;
  }
  if (forced == LogFormat::kW3c) return forced;
  if (!impl_->w3c_streams.empty()) {
    if (const Impl::W3cStream* stream = impl_->find_stream(event.source)) {
      // A line with the header's column count is the stream's; any other is a line of another
      // format in the same stream (a log appended to an IIS log, a relay mixing sources), unless
      // nothing else recognises it: then it is a damaged W3C line (counted as field_count).
      const LogFormat other = detect_format(raw);
      // A line whose own shape names another format (a syslog header, JSON, CEF, LEEF, a Cisco
      // message id, an audit record, Windows XML) is that format's even with the header's
      // column count: a W3C line starts with a field value, never with these. Readers of the
      // same stream starting at other points then agree on every such line.
      switch (other) {
        case LogFormat::kJson: case LogFormat::kRfc3164: case LogFormat::kRfc5424: case LogFormat::kCef:
        case LogFormat::kLeef: case LogFormat::kCisco: case LogFormat::kAuditd: case LogFormat::kWinXml:
          return other;
        default:
          break;
      }
      if (space_separated_columns(line) == stream->header.names.size()) return LogFormat::kW3c;
      return other == LogFormat::kPlain || other == LogFormat::kUnknown ? LogFormat::kW3c : other;
    }
  }
  return detect_format(raw);
}

void RecordParser::reset_streams() { impl_->w3c_streams.clear(); }

void RecordParser::set_w3c_fields(std::string_view source, std::string_view fields_directive) {
  impl_->remember(source, strip_line_end(fields_directive));
}

namespace {

void add_format_field(Event& event) {
  event.fields.add("_format", to_string(event.format));
}

// An unusable record: only `_format` and the reason are left. Always false.
bool fail_record(Event& event, ParseErrorKind err) {
  event.fields.clear();
  event.time_unix_ns = 0;
  event.time_text = {};
  event.host = {};
  add_format_field(event);
  event.parse_error = err;
  return false;
}

// NUL anywhere, or more than 1 in 10 bytes a control byte other than TAB, CR, LF, FF, ESC.
bool looks_binary(std::string_view s) {
  if (std::memchr(s.data(), 0, s.size()) != nullptr) return true;
  std::size_t controls = 0;
  for (unsigned char c : s)
    controls += (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b) ||
                c == 0x7f;
  return controls * 10 > s.size();
}

}  // namespace

// ---- FieldSelection ---------------------------------------------------------------------------

FieldSelection::FieldSelection(const std::vector<std::string>& names) : size_(names.size()) {
  std::size_t total = 0;
  for (const std::string& n : names) total += n.size();
  storage_ = std::make_unique<char[]>(total + 1);  // never reallocated: slots point into it
  std::vector<std::string_view> views;
  views.reserve(names.size());
  std::size_t at = 0;
  for (const std::string& n : names) {
    if (!n.empty()) std::memcpy(storage_.get() + at, n.data(), n.size());
    views.emplace_back(storage_.get() + at, n.size());
    at += n.size();
  }
  std::size_t capacity = 16;
  while (capacity < 4 * (names.size() + 16)) capacity *= 2;  // prefixes and time/host names too
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (std::size_t i = 0; i < views.size(); ++i)
    insert(views[i], static_cast<std::int32_t>(i), kWanted);
  for (const std::string_view name : kTimeHostNames) insert(name, -1, kTimeHost);
  for (const std::string_view name : kTopLevelLayoutNames) insert(name, -1, kTopLevelLayout);
  // Dotted prefixes: "a" and "a.b" for "a.b.c".
  const auto add_prefixes = [this](std::string_view name, std::uint32_t flag) {
    for (std::size_t dot = name.find('.'); dot != std::string_view::npos;
         dot = name.find('.', dot + 1))
      insert(name.substr(0, dot), -1, flag);
  };
  for (const std::string_view name : views) add_prefixes(name, kPrefix);
  for (const std::string_view name : kTimeHostNames) add_prefixes(name, kTimeHostPrefix);
}

void FieldSelection::insert(std::string_view name, std::int32_t index, std::uint32_t flags) {
  Slot* slot = nullptr;
  if (name.empty()) {
    slot = &empty_;
  } else {
    // Grow when 3/4 full (prefixes can outnumber the estimate). Slots point into storage_ or
    // static names, so rehashing only moves the slots.
    std::size_t used = 0;
    for (const Slot& s : slots_) used += s.data != nullptr;
    if (4 * (used + 1) > 3 * slots_.size()) {
      std::vector<Slot> old(2 * slots_.size(), Slot{});
      old.swap(slots_);
      mask_ = slots_.size() - 1;
      for (const Slot& s : old) {
        if (s.data == nullptr) continue;
        const std::uint32_t t = tag(s.size, s.data[0], s.data[s.size - 1]);
        std::size_t i = hash(t);
        while (slots_[i].tag != 0) i = (i + 1) & mask_;
        slots_[i] = s;
        slots_[i].tag = t;
      }
    }
    const std::uint32_t t = tag(name.size(), name[0], name.back());
    for (std::size_t i = hash(t);; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.tag == 0) {
        s.data = name.data();
        s.size = static_cast<std::uint32_t>(name.size());
        s.tag = t;
        slot = &s;
        break;
      }
      if (s.size == name.size() && std::memcmp(s.data, name.data(), name.size()) == 0) {
        slot = &s;
        break;
      }
    }
  }
  if (slot->data == nullptr) slot->data = name.data();  // the empty name: any non-null pointer
  if ((flags & kWanted) != 0 && slot->index < 0) slot->index = index;  // first occurrence wins
  slot->flags |= flags;
}

// ---- RecordParser -----------------------------------------------------------------------------

bool RecordParser::parse(LogFormat format, Event& event, LogFormat detected,
                         const FieldSelection* derived) {
  event.fields.clear();
  event.parse_error = ParseErrorKind::kNone;
  event.time_unix_ns = 0;
  event.time_text = {};
  event.host = {};
  const std::string_view raw = event.raw;

  // A forced W3C format still goes through detect(): it is what remembers a "#Fields:" header.
  if (format == LogFormat::kW3c) event.format = detect(event, format);
  else if (format != LogFormat::kUnknown) event.format = format;
  else event.format = detected != LogFormat::kUnknown ? detected : detect(event);
  add_format_field(event);

  if (raw.size() > options_.max_record_bytes) {
    event.parse_error = ParseErrorKind::kOversize;
    return false;
  }
  if (event.format == LogFormat::kJson) return parse_json(event, nullptr, nullptr);
  if (event.format == LogFormat::kWinXml) return parse_win_xml(event, nullptr, nullptr, false);
  return parse_text(format, event, derived);
}

bool RecordParser::parse_selected(LogFormat format, Event& event, const FieldSelection& wanted,
                                  std::vector<int>& ids, bool keep_escaped) {
  ids.clear();
  const std::string_view raw = event.raw;
  const LogFormat detected = format == LogFormat::kUnknown ? detect(event) : format;
  if (detected == LogFormat::kJson || detected == LogFormat::kWinXml ||
      raw.size() > options_.max_record_bytes) {
    event.fields.clear();
    event.parse_error = ParseErrorKind::kNone;
    event.time_unix_ns = 0;
    event.time_text = {};
    event.host = {};
    event.format = detected;
    add_format_field(event);
    ids.push_back(-1);
    if (raw.size() > options_.max_record_bytes) {
      event.parse_error = ParseErrorKind::kOversize;
      return false;
    }
    const bool ok = detected == LogFormat::kWinXml ? parse_win_xml(event, &wanted, &ids, keep_escaped)
                                                   : parse_json(event, &wanted, &ids, keep_escaped);
    if (!ok) ids.assign(1, -1);  // only `_format` is left
    return ok;
  }

  // Text formats are cheap: parse all into the scratch event, then keep the selected fields.
  // Views into the scratch event's arena are copied (the scratch is reused).
  Event& full = impl_->scratch;
  full.raw = raw;
  full.source = event.source;
  full.record_no = event.record_no;
  full.source = event.source;
  const bool ok = parse(format, full, detected, &wanted);
  event.fields.clear();
  StringArena& arena = event.fields.arena();
  const auto keep = [&](std::string_view v) {
    const bool in_raw = v.data() >= raw.data() && v.data() + v.size() <= raw.data() + raw.size();
    return in_raw || v.empty() ? v : arena.copy(v);
  };
  const auto fields = full.fields.fields();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const Field& f = fields[i];
    const int index = i == 0 ? -1 : wanted.find(f.name);  // fields()[0] is `_format`
    if (i != 0 && index < 0) continue;
    event.fields.add(keep(f.name), keep(f.value), f.kind);
    ids.push_back(index);
  }
  event.format = full.format;
  event.parse_error = full.parse_error;
  event.time_unix_ns = full.time_unix_ns;
  event.time_text = keep(full.time_text);
  event.host = keep(full.host);
  return ok;
}

struct WinXmlConverter::Impl {
  evtx::EventTree tree;
};
WinXmlConverter::WinXmlConverter() : impl_(std::make_unique<Impl>()) {}
WinXmlConverter::~WinXmlConverter() = default;

ParseErrorKind WinXmlConverter::convert(std::string_view xml, std::string& json) {
  json.clear();
  if (looks_binary(xml)) return ParseErrorKind::kBinary;
  switch (win_xml_to_json(strip_line_end(skip_bom_and_space(xml)), impl_->tree, json)) {
    case WinXmlError::kNone: break;
    case WinXmlError::kTruncated: return ParseErrorKind::kTruncatedXml;
    case WinXmlError::kInvalid: return ParseErrorKind::kInvalidXml;
  }
  json.append(simdjson::SIMDJSON_PADDING, '\0');
  return ParseErrorKind::kNone;
}

// The XML is written as evtx_dump JSON into the event's arena (field values are views into it,
// so it must live as long as the event's fields) and flattened as JSON: one Windows mapping.
bool RecordParser::parse_win_xml(Event& event, const FieldSelection* wanted, std::vector<int>* ids,
                                 bool keep_escaped) {
  std::string& json = impl_->xml_json;
  ParseErrorKind err = impl_->xml.convert(event.raw, json);
  if (err == ParseErrorKind::kNone) {
    char* copy = event.fields.arena().allocate(json.size());
    std::memcpy(copy, json.data(), json.size());
    const std::string_view body(copy, json.size() - simdjson::SIMDJSON_PADDING);
    err = wanted == nullptr ? flatten_json(*impl_->json, body, event)
                            : flatten_json_selected(*impl_->json, body, event, *wanted, *ids,
                                                    options_.check_skipped_escapes, keep_escaped);
    // The JSON is ours and valid; only the XML's own bytes can fail it (invalid UTF-8).
    if (err == ParseErrorKind::kTruncatedJson || err == ParseErrorKind::kInvalidJson)
      err = ParseErrorKind::kInvalidXml;
  }
  return err == ParseErrorKind::kNone || fail_record(event, err);
}

bool RecordParser::parse_json(Event& event, const FieldSelection* wanted, std::vector<int>* ids,
                              bool keep_escaped) {
  const std::string_view raw = event.raw;
  std::string_view body = raw;
  if (body.substr(0, 3) == kUtf8Bom) body.remove_prefix(3);
  std::string_view trimmed = skip_bom_and_space(body);
  if (trimmed.empty() || (trimmed[0] != '{' && trimmed[0] != '[')) {
    if (looks_binary(raw)) {
      event.parse_error = ParseErrorKind::kBinary;
      return false;
    }
    event.parse_error = ParseErrorKind::kWrongFormat;  // forced json on a text line
    return true;
  }
  // A NUL byte is never valid JSON (not even inside a string, where control characters must
  // be escaped), so the parser rejects any record holding one; only then is it looked for, to
  // count the record as binary rather than as broken JSON.
  ParseErrorKind err = wanted == nullptr
                           ? flatten_json(*impl_->json, body, event)
                           : flatten_json_selected(*impl_->json, body, event, *wanted, *ids,
                                                   options_.check_skipped_escapes, keep_escaped);
  if (err != ParseErrorKind::kNone && std::memchr(raw.data(), 0, raw.size()) != nullptr)
    err = ParseErrorKind::kBinary;
  return err == ParseErrorKind::kNone || fail_record(event, err);
}

bool RecordParser::parse_text(LogFormat format, Event& event, const FieldSelection* derived) {
  const std::string_view raw = event.raw;
  if (looks_binary(raw)) {
    event.parse_error = ParseErrorKind::kBinary;
    return false;
  }
  if (!simdjson::validate_utf8(raw.data(), raw.size()))
    event.parse_error = ParseErrorKind::kInvalidUtf8;

  const std::string_view line = strip_line_end(raw);
  bool fits = true;
  switch (event.format) {
    case LogFormat::kRfc3164: fits = parse_rfc3164(line, event); break;
    case LogFormat::kRfc5424: fits = parse_rfc5424(line, event); break;
    case LogFormat::kCef: fits = parse_cef(line, event); break;
    case LogFormat::kKeyValue: fits = parse_kv(line, event); break;
    case LogFormat::kAccessLog: fits = parse_access(line, event, derived); break;
    case LogFormat::kW3c: {
      const Impl::W3cStream* stream = impl_->w3c_streams.empty() ? nullptr : impl_->find_stream(event.source);
      fits = parse_w3c(line, stream != nullptr ? stream->header : iis_default_w3c_header(), event);
      if (fits) {
        // The same decoded request views as the combined access log, so one web pack serves both.
        WebRequestParts web;
        const auto part = [&](std::string_view name, std::string_view* out) {
          const Field* f = event.fields.find(name);
          if (f != nullptr) *out = f->value;
          return f != nullptr;
        };
        web.has_target = part("cs-uri-stem", &web.uri_stem);
        web.has_query = part("cs-uri-query", &web.uri_query);
        web.has_target = web.has_target || web.has_query;
        part("cs-user-agent", &web.user_agent);
        part("cs-referer", &web.referer);
        emit_web_views(event.fields, web, derived);
      }
      break;
    }
    case LogFormat::kCisco: fits = parse_cisco(line, event); break;
    case LogFormat::kPanos: fits = parse_panos(line, event); break;
    case LogFormat::kLeef: fits = parse_leef(line, event); break;
    case LogFormat::kAuditd: fits = parse_auditd(line, event); break;
    case LogFormat::kFormatCount:
    case LogFormat::kPlain:
    case LogFormat::kWinXml:
    case LogFormat::kJson:
    case LogFormat::kUnknown: parse_plain(line, event); break;
  }
  if (!fits) {
    // Drop whatever the parser added before it gave up.
    event.fields.clear();
    event.time_unix_ns = 0;
    event.time_text = {};
    event.host = {};
    if (format == LogFormat::kUnknown) {
      // Detection only looks at the first bytes; a record it misjudged is plain text.
      event.format = LogFormat::kPlain;
      add_format_field(event);
      parse_plain(line, event);
    } else {
      add_format_field(event);  // a forced format that does not fit: pseudo-fields only
      event.parse_error = ParseErrorKind::kWrongFormat;
    }
  }
  return true;
}

}  // namespace vigil::parse
