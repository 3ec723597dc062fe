// Server logs: the W3C extended log (IIS and any "#Fields:" log) and Linux audit records.
#include <cstring>

#include "core/parse/parsers_internal.h"

namespace vigil::parse::internal {

// ---- W3C extended log -------------------------------------------------------------------------

namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }

// The name a W3C column is emitted under. Header columns "cs(User-Agent)", "sc(Content-Type)"
// become "cs-user-agent", "sc-content-type": the names the access-log parser and SigmaHQ's
// webserver rules use. Other identifiers (date, c-ip, cs-uri-stem, ...) keep their W3C name.
void append_w3c_name(std::string_view column, std::string* out) {
  const std::size_t open = column.find('(');
  if (open != std::string_view::npos && column.back() == ')' && open > 0) {
    out->append(column.substr(0, open));
    out->push_back('-');
    for (char c : column.substr(open + 1, column.size() - open - 2)) out->push_back(ascii_lower(c));
    return;
  }
  out->append(column);
}

bool fill_w3c_header(std::string_view fields, W3cHeader* header) {
  header->names_text.clear();
  header->names.clear();
  std::vector<std::size_t> ends;
  std::size_t p = 0;
  while (p < fields.size()) {
    while (p < fields.size() && is_space(fields[p])) ++p;
    const std::size_t start = p;
    while (p < fields.size() && !is_space(fields[p])) ++p;
    if (p == start) break;
    append_w3c_name(fields.substr(start, p - start), &header->names_text);
    ends.push_back(header->names_text.size());
  }
  std::size_t begin = 0;  // views are taken once names_text stops growing
  for (std::size_t end : ends) {
    header->names.emplace_back(header->names_text.data() + begin, end - begin);
    begin = end;
  }
  return !header->names.empty();
}

// IIS writes a '+' for each space of a header value (User-Agent, Referer, Cookie): decoded so
// that a rule's "Mozilla/5.0 (Windows" matches as it does on an access log. The URI fields are
// left as written ('+' is meaningful in a query).
bool is_plus_encoded_column(std::string_view name) {
  return name == "cs-user-agent" || name == "cs-referer" || name == "cs-cookie";
}

}  // namespace

bool parse_w3c_fields_directive(std::string_view line, W3cHeader* header) {
  if (line.substr(0, 8) != "#Fields:") return false;
  return fill_w3c_header(line.substr(8), header);
}

const W3cHeader& iis_default_w3c_header() {
  static const W3cHeader header = [] {
    W3cHeader h;
    fill_w3c_header(
        "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
        "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
        &h);
    return h;
  }();
  return header;
}

bool parse_w3c(std::string_view line, const W3cHeader& header, Event& event) {
  FieldView& f = event.fields;
  if (!line.empty() && line[0] == '#') {
    // #Software, #Version, #Date, #Fields, #Remark: kept searchable, never matched as a request.
    const std::size_t colon = line.find(':');
    f.add("w3c_directive", line.substr(1, colon == std::string_view::npos ? line.size() - 1 : colon - 1));
    f.add("message", line);
    return true;
  }
  // The names are copied into the event (one copy of them all): the parser's header changes
  // with the stream's next directive, and the event's fields must not change with it.
  const char* names_copy = f.arena().copy(header.names_text).data();
  const auto column_name = [&](std::size_t i) {
    return std::string_view(names_copy + (header.names[i].data() - header.names_text.data()), header.names[i].size());
  };
  std::string_view date, time, stem, query;
  bool has_query = false;
  std::size_t column = 0;
  std::size_t p = 0;
  const std::size_t n = line.size();
  while (p < n) {
    while (p < n && is_space(line[p])) ++p;
    if (p >= n) break;
    const std::size_t start = p;
    while (p < n && !is_space(line[p])) ++p;
    std::string_view value = line.substr(start, p - start);
    const std::size_t i = column++;
    if (i >= header.names.size()) continue;  // counted below
    const std::string_view name = column_name(i);
    if (value == "-") continue;  // W3C's "no value"
    if (name == "date") date = value;
    else if (name == "time") time = value;
    else if (name == "cs-uri-stem") stem = value;
    else if (name == "cs-uri-query") {
      query = value;
      has_query = true;
    }
    if (is_plus_encoded_column(name) && std::memchr(value.data(), '+', value.size()) != nullptr) {
      char* out = f.arena().allocate(value.size());
      for (std::size_t k = 0; k < value.size(); ++k) out[k] = value[k] == '+' ? ' ' : value[k];
      value = std::string_view(out, value.size());
    }
    const bool number = name == "sc-status" || name == "s-port" || name == "sc-bytes" ||
                        name == "cs-bytes" || name == "time-taken" || name == "sc-substatus" ||
                        name == "sc-win32-status";
    f.add(name, value, number ? ValueKind::kNumber : ValueKind::kString);
  }
  if (column == 0) return false;
  // The access-log parser's cs-uri is the request target as sent: stem '?' query.
  if (!stem.empty()) f.add("cs-uri", has_query ? compose(f.arena(), stem, '?', query) : stem);
  if (!date.empty() && !time.empty()) {
    const std::string_view text = compose(f.arena(), date, ' ', time);
    f.add("timestamp", text);
    event.time_text = text;
    std::int64_t ns = 0;
    if (match_iso8601(text, &ns) == text.size()) event.time_unix_ns = ns;  // W3C times are UTC
  }
  if (const Field* host = f.find("s-computername")) event.host = host->value;
  else if (const Field* site = f.find("cs-host")) event.host = site->value;
  if (column != header.names.size()) note_soft_error(event, ParseErrorKind::kFieldCount);
  return true;
}

// ---- Linux audit ------------------------------------------------------------------------------

namespace {

bool is_audit_separator(char c) { return c == ' ' || c == '\t' || c == '\x1d'; }

bool is_upper_hex(char c) { return is_digit(c) || (c >= 'A' && c <= 'F'); }
int hex_value(char c) { return is_digit(c) ? c - '0' : c - 'A' + 10; }

// Fields auditd writes hex-encoded when the value holds a space, a quote or a control byte
// (audit_log_untrustedstring / audit_log_n_untrustedstring in the kernel, and the user-space
// equivalents). Numbers elsewhere in a record (ses=4294967295, SYSCALL's a0=10) can look like
// hex and are never decoded.
bool may_be_hex_encoded(std::string_view key, bool execve) {
  if (execve && key.size() >= 2 && key[0] == 'a' && is_digit(key[1])) {
    for (std::size_t i = 2; i < key.size(); ++i)  // a0, a12, a1[3] (a long argument's piece)
      if (!is_digit(key[i]) && key[i] != '[' && key[i] != ']') return false;
    return true;
  }
  switch (key.size()) {
    case 3: return key == "cmd" || key == "exe" || key == "cwd" || key == "key" || key == "new" ||
                   key == "old";
    case 4: return key == "comm" || key == "name" || key == "data" || key == "acct" ||
                   key == "path";
    case 9: return key == "proctitle";
    default: return false;
  }
}

bool looks_hex_encoded(std::string_view v) {
  if (v.size() < 2 || (v.size() & 1) != 0) return false;
  for (char c : v)
    if (!is_upper_hex(c)) return false;
  return true;
}

// Decodes hex text; NUL bytes (proctitle's argument separators) become spaces, as ausearch -i
// shows them.
std::string_view decode_hex(StringArena& arena, std::string_view v) {
  char* out = arena.allocate(v.size() / 2);
  for (std::size_t i = 0; i + 1 < v.size(); i += 2) {
    const char c = static_cast<char>(hex_value(v[i]) << 4 | hex_value(v[i + 1]));
    out[i / 2] = c == '\0' ? ' ' : c;
  }
  std::size_t size = v.size() / 2;
  while (size > 0 && out[size - 1] == ' ') --size;  // proctitle ends with a NUL
  return std::string_view(out, size);
}

// Adds the key=value pairs of an audit record body. Values are bare, "double-quoted" (no
// escapes: auditd hex-encodes anything a quote would need) or 'single-quoted' (the msg='...' of
// user-space records, whose pairs are added as if they stood outside the quotes).
void emit_audit_pairs(std::string_view s, Event& event, bool execve, int depth) {
  FieldView& f = event.fields;
  std::size_t p = 0;
  const std::size_t n = s.size();
  while (p < n) {
    while (p < n && is_audit_separator(s[p])) ++p;
    const std::size_t key_start = p;
    while (p < n && s[p] != '=' && !is_audit_separator(s[p])) ++p;
    if (p >= n || s[p] != '=' || p == key_start) {
      while (p < n && !is_audit_separator(s[p])) ++p;  // a bare word ("user", "tty"): skip
      continue;
    }
    const std::string_view key = s.substr(key_start, p - key_start);
    ++p;
    if (p < n && s[p] == '\'' && depth == 0) {
      const std::size_t close = s.find('\'', p + 1);
      const std::size_t end = close == std::string_view::npos ? n : close;
      emit_audit_pairs(s.substr(p + 1, end - p - 1), event, execve, depth + 1);
      if (close == std::string_view::npos) note_soft_error(event, ParseErrorKind::kTruncatedRecord);
      p = end < n ? end + 1 : n;
      continue;
    }
    std::string_view value;
    if (p < n && s[p] == '"') {
      const std::size_t close = s.find('"', p + 1);
      const std::size_t end = close == std::string_view::npos ? n : close;
      value = s.substr(p + 1, end - p - 1);
      if (close == std::string_view::npos) note_soft_error(event, ParseErrorKind::kTruncatedRecord);
      p = end < n ? end + 1 : n;
    } else {
      const std::size_t start = p;
      while (p < n && !is_audit_separator(s[p])) ++p;
      value = s.substr(start, p - start);
      if (may_be_hex_encoded(key, execve) && looks_hex_encoded(value))
        value = decode_hex(f.arena(), value);
    }
    f.add(key, value);
  }
}

}  // namespace

bool looks_like_auditd(std::string_view s) {
  if (s.substr(0, 5) == "node=") {  // auditd's name_format adds the node first
    const std::size_t sp = s.find(' ');
    if (sp == std::string_view::npos) return false;
    s = s.substr(sp + 1);
  }
  if (s.substr(0, 5) != "type=") return false;
  const std::size_t sp = s.find(' ', 5);
  return sp != std::string_view::npos && s.substr(sp + 1, 10) == "msg=audit(";
}

bool auditd_may_have_hex_value(std::string_view s) {
  // True exactly when the parser would decode a value: a key auditd hex-encodes followed by an
  // unquoted value of even length in upper-case hex. (Testing only the first three digits, as
  // this once did, missed values such as proctitle=7368... whose first digits are decimal.)
  const std::size_t type_at = s.find("type=");
  const bool execve = type_at != std::string_view::npos && s.substr(type_at + 5, 7) == "EXECVE ";
  for (std::size_t eq = s.find('='); eq != std::string_view::npos; eq = s.find('=', eq + 1)) {
    std::size_t key_start = eq;
    while (key_start > 0 && !is_audit_separator(s[key_start - 1]) && s[key_start - 1] != '\'') --key_start;
    if (!may_be_hex_encoded(s.substr(key_start, eq - key_start), execve)) continue;
    std::size_t end = eq + 1;
    while (end < s.size() && !is_audit_separator(s[end]) && s[end] != '\'') ++end;
    if (looks_hex_encoded(s.substr(eq + 1, end - eq - 1))) return true;
  }
  return false;
}

bool parse_auditd(std::string_view line, Event& event) {
  std::string_view body = line;
  if (!looks_like_auditd(line)) {
    // Forwarded by audispd's syslog plugin or rsyslog's imfile: a syslog header first.
    SyslogHeader h;
    if (!parse_syslog_header(line, &h)) return false;
    std::string_view msg = h.message;
    while (!msg.empty() && msg.front() == ' ') msg.remove_prefix(1);
    if (!looks_like_auditd(msg)) return false;
    emit_syslog_header(h, event, /*pri_prefix=*/true, /*with_message=*/false);
    body = msg;
  }
  FieldView& f = event.fields;
  std::size_t type_at = 0;
  if (body.substr(0, 5) == "node=") {
    const std::size_t sp = body.find(' ');
    f.add("node", body.substr(5, sp - 5));
    event.host = body.substr(5, sp - 5);
    type_at = sp + 1;
  }
  const std::size_t type_end = body.find(' ', type_at);
  const std::string_view type = body.substr(type_at + 5, type_end - type_at - 5);
  f.add("type", type);
  // msg=audit(<seconds.millis>:<serial>):
  const std::size_t open = type_end + 1 + 10;
  const std::size_t close = body.find(')', open);
  if (close == std::string_view::npos) {
    note_soft_error(event, ParseErrorKind::kTruncatedRecord);
    return true;
  }
  const std::string_view stamp = body.substr(open, close - open);
  f.add("msg", body.substr(open - 6, close + 1 - (open - 6)));  // "audit(...)", as written
  const std::size_t colon = stamp.find(':');
  const std::string_view seconds = stamp.substr(0, colon);
  std::int64_t ns = 0;
  if (colon == std::string_view::npos || !parse_epoch(seconds, &ns)) {
    note_soft_error(event, ParseErrorKind::kTruncatedRecord);
  } else {
    f.add("audit_timestamp", seconds, ValueKind::kNumber);
    f.add("audit_serial", stamp.substr(colon + 1), ValueKind::kNumber);
    event.time_text = seconds;
    event.time_unix_ns = ns;
  }
  std::size_t p = close + 1;
  if (p < body.size() && body[p] == ':') ++p;
  emit_audit_pairs(body.substr(p), event, type == "EXECVE", 0);
  return true;
}

}  // namespace vigil::parse::internal
