// RecordParser: record checks shared by every format, format detection, dispatch, and the
// small helpers (numbers, names, timestamps) the per-format parsers share.
#include "core/parse/parser.h"

#include <simdjson.h>

#include <cstring>
#include <limits>

#include "core/parse/parsers_internal.h"

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

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int month_from_abbrev(std::string_view s) {
  if (s.size() < 3) return 0;
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    const char* m = kMonths[i];
    if ((s[0] == m[0] || s[0] == (m[0] | 0x20)) && (s[1] | 0x20) == m[1] && (s[2] | 0x20) == m[2])
      return i + 1;
  }
  return 0;
}

namespace {

// Reads exactly `n` digits at s[pos]; false if any is not a digit or s is too short.
bool read_digits(std::string_view s, std::size_t pos, std::size_t n, unsigned* out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (!is_digit(c)) return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *out = v;
  return true;
}

constexpr std::int64_t kNsPerSec = 1'000'000'000;
constexpr std::int64_t kMaxUnixSeconds = 9'000'000'000;

std::int64_t to_unix_ns(std::int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi,
                        unsigned sec, std::int64_t frac_ns, std::int64_t offset_sec) {
  const std::int64_t days = days_from_civil(y, mo, d);
  const std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_sec;
  // int64 nanoseconds cover 1677..2262; outside that the time is unknown (0), not garbage.
  if (secs <= -kMaxUnixSeconds || secs >= kMaxUnixSeconds) return 0;
  return secs * kNsPerSec + frac_ns;
}

bool valid_clock(unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned sec) {
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60;
}

// ".123456789" at s[pos]: advances pos, returns ns. Digits past 9 are read and ignored.
std::int64_t read_fraction(std::string_view s, std::size_t* pos) {
  std::size_t p = *pos;
  if (p >= s.size() || (s[p] != '.' && s[p] != ',')) return 0;
  ++p;
  std::int64_t ns = 0;
  int digits = 0;
  while (p < s.size() && is_digit(s[p])) {
    if (digits < 9) {
      ns = ns * 10 + (s[p] - '0');
      ++digits;
    }
    ++p;
  }
  if (digits == 0) return 0;  // a lone '.' is not part of the time
  for (int i = digits; i < 9; ++i) ns *= 10;
  *pos = p;
  return ns;
}

}  // namespace

std::size_t match_iso8601(std::string_view s, std::int64_t* unix_ns) {
  // YYYY-MM-DD[T ]hh:mm[:ss][.frac][Z|+hh:mm|+hhmm|+hh]
  unsigned y, mo, d, h, mi, sec = 0;
  if (!read_digits(s, 0, 4, &y) || s.size() < 16 || s[4] != '-' || !read_digits(s, 5, 2, &mo) ||
      s[7] != '-' || !read_digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') ||
      !read_digits(s, 11, 2, &h) || s[13] != ':' || !read_digits(s, 14, 2, &mi))
    return 0;
  std::size_t pos = 16;
  if (pos + 3 <= s.size() && s[pos] == ':' && read_digits(s, pos + 1, 2, &sec)) pos += 3;
  if (!valid_clock(mo, d, h, mi, sec)) return 0;
  const std::int64_t frac = read_fraction(s, &pos);
  std::int64_t offset = 0;
  if (pos < s.size()) {
    const char c = s[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      unsigned oh, om = 0;
      if (read_digits(s, pos + 1, 2, &oh)) {
        std::size_t q = pos + 3;
        if (q < s.size() && s[q] == ':' && read_digits(s, q + 1, 2, &om)) {
          q += 3;
        } else if (read_digits(s, q, 2, &om)) {
          q += 2;
        }
        if (oh <= 23 && om <= 59) {
          offset = static_cast<std::int64_t>(oh * 3600 + om * 60) * (c == '-' ? -1 : 1);
          pos = q;
        }
      }
    }
  }
  if (unix_ns) *unix_ns = to_unix_ns(y, mo, d, h, mi, sec, frac, offset);
  return pos;
}

std::size_t match_bsd_timestamp(std::string_view s) {
  // "Mmm dd hh:mm:ss" or "Mmm  d hh:mm:ss", optional ".frac"
  if (s.size() < 15 || month_from_abbrev(s) == 0 || s[3] != ' ') return 0;
  const char d0 = s[4], d1 = s[5];
  if (!((d0 == ' ' || is_digit(d0)) && is_digit(d1)) || s[6] != ' ') return 0;
  unsigned h, mi, sec;
  if (!read_digits(s, 7, 2, &h) || s[9] != ':' || !read_digits(s, 10, 2, &mi) || s[12] != ':' ||
      !read_digits(s, 13, 2, &sec) || h > 23 || mi > 59 || sec > 60)
    return 0;
  std::size_t pos = 15;
  read_fraction(s, &pos);
  return pos;
}

bool parse_apache_time(std::string_view s, std::int64_t* unix_ns) {
  // 10/Oct/2000:13:55:36 -0700
  unsigned d, y, h, mi, sec;
  if (s.size() < 20 || !read_digits(s, 0, 2, &d) || s[2] != '/') return false;
  const int mo = month_from_abbrev(s.substr(3));
  if (mo == 0 || s[6] != '/' || !read_digits(s, 7, 4, &y) || s[11] != ':' ||
      !read_digits(s, 12, 2, &h) || s[14] != ':' || !read_digits(s, 15, 2, &mi) || s[17] != ':' ||
      !read_digits(s, 18, 2, &sec) || !valid_clock(static_cast<unsigned>(mo), d, h, mi, sec))
    return false;
  std::int64_t offset = 0;
  if (s.size() >= 26 && s[20] == ' ' && (s[21] == '+' || s[21] == '-')) {
    unsigned oh, om;
    if (read_digits(s, 22, 2, &oh) && read_digits(s, 24, 2, &om))
      offset = static_cast<std::int64_t>(oh * 3600 + om * 60) * (s[21] == '-' ? -1 : 1);
  }
  *unix_ns = to_unix_ns(y, static_cast<unsigned>(mo), d, h, mi, sec, 0, offset);
  return true;
}

bool parse_epoch(std::string_view s, std::int64_t* unix_ns) {
  std::size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::uint64_t v;
  if (!parse_uint(whole, &v)) return false;
  std::int64_t frac = 0;
  if (dot != std::string_view::npos) {
    std::size_t pos = dot;
    frac = read_fraction(s, &pos);
    if (pos != s.size()) return false;
  }
  if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
  const auto iv = static_cast<std::int64_t>(v);
  std::int64_t scale = kNsPerSec;                       // seconds
  if (v >= 100'000'000'000'000'000ull) scale = 1;       // ns
  else if (v >= 100'000'000'000'000ull) scale = 1000;   // us
  else if (v >= 100'000'000'000ull) scale = 1'000'000;  // ms
  std::int64_t ns = 0;
  if (__builtin_mul_overflow(iv, scale, &ns)) return false;
  if (scale == kNsPerSec && __builtin_add_overflow(ns, frac, &ns)) return false;
  *unix_ns = ns;
  return true;
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
bool header_then_kv(std::string_view rest) {
  std::size_t p = 0;
  while (p < rest.size() && rest[p] == ' ') ++p;
  const std::size_t host_end = rest.find(' ', p);
  if (host_end == std::string_view::npos) return false;
  std::string_view msg = rest.substr(host_end + 1);
  if (starts_with_kv_token(rest.substr(p)))  // "<189>Jan 2 10:11:12 date=..." (no host)
    return count_kv_tokens(rest.substr(p), 3) >= 3;
  return starts_with_kv_token(msg) && count_kv_tokens(msg, 3) >= 3;
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
  if (find_cef_marker(s, 200) != std::string_view::npos) return LogFormat::kCef;

  if (const std::size_t p = match_pri(s)) {
    std::string_view rest = s.substr(p);
    if (rest.size() >= 2 && rest[0] == '1' && rest[1] == ' ') return LogFormat::kRfc5424;
    if (starts_with_kv_token(rest)) return LogFormat::kKeyValue;
    if (const std::size_t t = match_bsd_timestamp(rest))
      return header_then_kv(rest.substr(t)) ? LogFormat::kKeyValue : LogFormat::kRfc3164;
    if (const std::size_t t = match_iso8601(rest, nullptr); t != 0 && rest[10] == 'T')
      return header_then_kv(rest.substr(t)) ? LogFormat::kKeyValue : LogFormat::kRfc3164;
    return LogFormat::kRfc3164;
  }
  if (const std::size_t t = match_bsd_timestamp(s))
    return header_then_kv(s.substr(t)) ? LogFormat::kKeyValue : LogFormat::kRfc3164;
  if (const std::size_t t = match_iso8601(s, nullptr); t != 0 && s[10] == 'T') {
    // An RFC 3339 timestamp then a host: rsyslog's high-precision format. (Application logs
    // such as log4j's "2015-10-18 18:01:47,978 INFO ..." use a space and are plain text.)
    std::string_view rest = s.substr(t);
    if (rest.size() >= 2 && rest[0] == ' ' && is_host_char(rest[1]))
      return header_then_kv(rest) ? LogFormat::kKeyValue : LogFormat::kRfc3164;
  }
  if (looks_like_access(s)) return LogFormat::kAccessLog;
  if (starts_with_kv_token(s) && count_kv_tokens(s.substr(0, 1024), 3) >= 3)
    return LogFormat::kKeyValue;
  return LogFormat::kPlain;
}

// ---- RecordParser -----------------------------------------------------------------------------

struct RecordParser::Impl {
  std::unique_ptr<JsonFlattener, JsonFlattenerDeleter> json = make_json_flattener();
  Event scratch;  // parse_selected's full parse of a non-JSON record
};

RecordParser::RecordParser(ParserOptions options)
    : impl_(std::make_unique<Impl>()), options_(options) {}
RecordParser::~RecordParser() = default;

namespace {

void add_format_field(Event& event) {
  event.fields.add("_format", to_string(event.format));
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

  if (format != LogFormat::kUnknown) event.format = format;
  else event.format = detected != LogFormat::kUnknown ? detected : detect_format(raw);
  add_format_field(event);

  if (raw.size() > options_.max_record_bytes) {
    event.parse_error = ParseErrorKind::kOversize;
    return false;
  }
  if (event.format == LogFormat::kJson) return parse_json(event, nullptr, nullptr);
  return parse_text(format, event, derived);
}

bool RecordParser::parse_selected(LogFormat format, Event& event, const FieldSelection& wanted,
                                  std::vector<int>& ids, bool keep_escaped) {
  ids.clear();
  const std::string_view raw = event.raw;
  const LogFormat detected = format == LogFormat::kUnknown ? detect_format(raw) : format;
  if (detected == LogFormat::kJson || raw.size() > options_.max_record_bytes) {
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
    const bool ok = parse_json(event, &wanted, &ids, keep_escaped);
    if (!ok) ids.assign(1, -1);  // only `_format` is left
    return ok;
  }

  // Text formats are cheap: parse all into the scratch event, then keep the selected fields.
  // Views into the scratch event's arena are copied (the scratch is reused).
  Event& full = impl_->scratch;
  full.raw = raw;
  full.source = event.source;
  full.record_no = event.record_no;
  const bool ok = parse(format, full, LogFormat::kUnknown, &wanted);
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
  if (err != ParseErrorKind::kNone) {
    event.fields.clear();
    event.time_unix_ns = 0;
    event.time_text = {};
    event.host = {};
    add_format_field(event);
    event.parse_error = err;
    return false;
  }
  return true;
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
    case LogFormat::kPlain:
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
