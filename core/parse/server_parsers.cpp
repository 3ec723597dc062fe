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

// ---- mail, FTP and database servers (Postfix, Dovecot, vsftpd, MySQL) -------------------------
//
// These add fields from a message whose program (or, for plain files, whose line shape) says
// which server wrote it; the message itself stays whole, so rules written for its text keep
// working. A message that starts like one of these shapes but breaks off (no closing ']', '"',
// '\'' or ')') keeps the fields it has and is counted as kTruncatedRecord. Formats are as the
// servers' sources write them: Postfix smtpd's namaddr "host[addr]" (":port" with
// smtpd_client_port_logging) and smtpd_check's "reject: CMD from namaddr: reply; from=<>
// to=<> proto= helo=<>"; Dovecot's login-process "Event (reason): key=value, ..." list and its
// auth "passdb(user,rip[,<session>]): reason"; vsftpd's "[pid N] [user] OK|FAIL VERB: Client
// \"addr\", ..." (syslog_enable drops the date and pid); MySQL's "Access denied for user
// 'user'@'host' (using password: YES|NO)".

namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Digits, hex letters, '.', ':' only, with a '.' or ':': an IPv4 or IPv6 address as written.
bool looks_like_address(std::string_view s) {
  if (s.empty() || s.size() > 45) return false;
  bool sep = false;
  for (char c : s) {
    if (c == '.' || c == ':') sep = true;
    else if (!is_digit(c) && !((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return sep;
}

// "::ffff:203.0.113.5" (an IPv4 client on an IPv6 socket) as the IPv4 address.
std::string_view strip_v4_mapped(std::string_view ip) {
  if ((starts_with(ip, "::ffff:") || starts_with(ip, "::FFFF:")) && ip.find('.') != std::string_view::npos)
    return ip.substr(7);
  return ip;
}

// Postfix's namaddr at the start of s: "host[addr]" or "host[addr]:port". Adds client_host,
// client_ip (and client_port) and returns the length read, 0 when s is not that shape.
std::size_t add_postfix_client(std::string_view s, Event& event) {
  const std::size_t open = s.find('[');
  if (open == 0 || open == std::string_view::npos || open > 255) return 0;
  for (std::size_t i = 0; i < open; ++i)
    if (s[i] == ' ' || s[i] == ',') return 0;
  const std::size_t close = s.find(']', open + 1);
  if (close == std::string_view::npos) {
    note_soft_error(event, ParseErrorKind::kTruncatedRecord);
    return 0;
  }
  FieldView& f = event.fields;
  f.add("client_host", s.substr(0, open));
  f.add("client_ip", strip_v4_mapped(s.substr(open + 1, close - open - 1)));
  std::size_t p = close + 1;
  if (p < s.size() && s[p] == ':' && p + 1 < s.size() && is_digit(s[p + 1])) {
    const std::size_t start = ++p;
    while (p < s.size() && is_digit(s[p])) ++p;
    f.add("client_port", s.substr(start, p - start), ValueKind::kNumber);
  }
  return p;
}

// The text between "<key><" and the next '>' in s ("from=<a@b>"), or nothing.
void add_angle_value(std::string_view s, std::string_view key, std::string_view name, FieldView& f) {
  const std::size_t at = s.find(key);
  if (at == std::string_view::npos) return;
  const std::size_t start = at + key.size();
  const std::size_t end = s.find('>', start);
  if (end != std::string_view::npos && end > start) f.add(name, s.substr(start, end - start));
}

// Postfix smtpd/submission/smtps/postscreen messages.
void add_postfix_fields(std::string_view msg, Event& event) {
  FieldView& f = event.fields;
  // "warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
  if (starts_with(msg, "warning: ")) {
    const std::string_view rest = msg.substr(9);
    const std::size_t n = add_postfix_client(rest, event);
    if (n == 0 || rest.substr(n, 2) != ": ") return;
    const std::string_view what = rest.substr(n + 2);
    if (!starts_with(what, "SASL ")) return;
    const std::size_t sp = what.find(' ', 5);
    if (sp == std::string_view::npos || what.substr(sp, 22) != " authentication failed") return;
    f.add("sasl_method", what.substr(5, sp - 5));
    if (what.substr(sp + 22, 2) == ": ") {
      std::string_view reason = what.substr(sp + 24);
      // Postfix 3.x appends the name the client gave: "..., sasl_username=user@example.com".
      if (const std::size_t u = reason.rfind(", sasl_username="); u != std::string_view::npos) {
        f.add("sasl_username", reason.substr(u + 16));
        reason = reason.substr(0, u);
      }
      if (!reason.empty()) f.add("reason", reason);
    }
    return;
  }
  // "connect from host[addr]", "lost connection after AUTH from host[addr]", ...
  static constexpr std::string_view kSessionEvents[] = {"connect from ", "disconnect from ", "lost connection after ",
                                                        "timeout after ", "too many errors after "};
  for (std::string_view e : kSessionEvents) {
    if (!starts_with(msg, e)) continue;
    const std::size_t from = msg.find("from ");
    if (from != std::string_view::npos) add_postfix_client(msg.substr(from + 5), event);
    return;
  }
  // A queue id ("4F9D195432C", long ids "4bVRnB0kHnz9y3") or NOQUEUE, then ": ".
  std::size_t id_end = 0;
  while (id_end < msg.size() && id_end < 32 && (is_digit(msg[id_end]) || is_alpha(msg[id_end]))) ++id_end;
  if (id_end < 7 || msg.substr(id_end, 2) != ": ") return;  // NOQUEUE is 7
  const std::string_view queue_id = msg.substr(0, id_end);
  const std::string_view rest = msg.substr(id_end + 2);
  // "client=host[addr], sasl_method=PLAIN, sasl_username=user": a successful SMTP AUTH.
  if (starts_with(rest, "client=")) {
    f.add("queue_id", queue_id);
    const std::size_t n = add_postfix_client(rest.substr(7), event);
    if (n == 0) return;
    const std::string_view tail = rest.substr(7 + n);
    if (const std::size_t m = tail.find(", sasl_method="); m != std::string_view::npos) {
      const std::size_t end = tail.find(',', m + 14);
      f.add("sasl_method", tail.substr(m + 14, (end == std::string_view::npos ? tail.size() : end) - m - 14));
    }
    if (const std::size_t u = tail.find(", sasl_username="); u != std::string_view::npos) {
      const std::size_t end = tail.find(',', u + 16);
      f.add("sasl_username", tail.substr(u + 16, (end == std::string_view::npos ? tail.size() : end) - u - 16));
    }
    return;
  }
  // "reject: RCPT from host[addr]: 554 5.7.1 <rcpt>: Relay access denied; from=<s> to=<r>
  // proto=ESMTP helo=<h>" (also defer, warn, hold, discard, filter, redirect).
  const std::size_t colon = rest.find(": ");
  if (colon == std::string_view::npos || colon > 10) return;
  const std::string_view action = rest.substr(0, colon);
  for (char c : action)
    if (c < 'a' || c > 'z') return;
  const std::size_t from = rest.find(" from ", colon + 2);
  if (from == std::string_view::npos || from > colon + 2 + 20) return;
  f.add("queue_id", queue_id);
  f.add("action", action);
  f.add("smtp_command", rest.substr(colon + 2, from - colon - 2));
  const std::string_view client = rest.substr(from + 6);
  const std::size_t n = add_postfix_client(client, event);
  if (n == 0 || client.substr(n, 2) != ": ") return;
  std::string_view reply = client.substr(n + 2);
  std::string_view envelope;
  if (const std::size_t semi = reply.rfind("; from=<"); semi != std::string_view::npos) {
    envelope = reply.substr(semi + 2);
    reply = reply.substr(0, semi);
  }
  if (reply.size() >= 4 && is_digit(reply[0]) && is_digit(reply[1]) && is_digit(reply[2]) && reply[3] == ' ') {
    f.add("reply_code", reply.substr(0, 3), ValueKind::kNumber);
    reply = reply.substr(4);
    if (reply.size() >= 6 && is_digit(reply[0]) && reply[1] == '.') {  // enhanced status "5.7.1"
      const std::size_t sp = reply.find(' ');
      f.add("dsn", reply.substr(0, sp));
      reply = sp == std::string_view::npos ? std::string_view() : reply.substr(sp + 1);
    }
  }
  if (!reply.empty()) f.add("reason", reply);
  if (!envelope.empty()) {
    add_angle_value(envelope, "from=<", "sender", f);
    add_angle_value(envelope, " to=<", "recipient", f);
    add_angle_value(envelope, " helo=<", "helo", f);
  }
}

// Dovecot: "imap-login: Disconnected (auth failed, 3 attempts in 15 secs): user=<x>,
// method=PLAIN, rip=1.2.3.4, lip=10.0.0.2, TLS, session=<abc>" and "auth-worker(8301):
// pam(admin,203.0.113.73,<abc>): pam_authenticate() failed: Authentication failure".
void add_dovecot_fields(std::string_view msg, Event& event) {
  FieldView& f = event.fields;
  const std::size_t colon = msg.find(": ");
  if (colon == std::string_view::npos || colon > 64) return;
  const std::string_view process = msg.substr(0, colon);
  std::string_view rest = msg.substr(colon + 2);
  // Dovecot's own log file (log_path) puts the level after the process name.
  for (std::string_view level : {"Info: ", "Warning: ", "Error: ", "Fatal: ", "Panic: ", "Debug: "})
    if (starts_with(rest, level)) {
      rest.remove_prefix(level.size());
      break;
    }
  if (process.size() > 6 && process.substr(process.size() - 6) == "-login") {
    // "Event (reason): key=value, key=value, FLAG, ..."
    const std::size_t list = rest.find("): ");
    const std::size_t plain = rest.find(": ");
    std::size_t kv_at;
    if (list != std::string_view::npos && list <= plain + 1) {
      const std::size_t open = rest.find(" (");
      if (open == std::string_view::npos || open > list) return;
      f.add("action", rest.substr(0, open));
      f.add("reason", rest.substr(open + 2, list - open - 2));
      kv_at = list + 3;
    } else if (plain != std::string_view::npos && plain < 40) {
      f.add("action", rest.substr(0, plain));
      kv_at = plain + 2;
    } else {
      return;
    }
    std::string_view kv = rest.substr(kv_at);
    while (!kv.empty()) {
      const std::size_t eq = kv.find('=');
      const std::size_t comma = kv.find(", ");
      std::size_t next = comma == std::string_view::npos ? kv.size() : comma;
      if (eq != std::string_view::npos && eq < next) {
        const std::string_view key = kv.substr(0, eq);
        std::string_view value = kv.substr(eq + 1, next - eq - 1);
        if (!value.empty() && value[0] == '<') {
          // "<...>" may hold ", ": the value runs to its '>'.
          const std::size_t gt = kv.find('>', eq + 1);
          if (gt == std::string_view::npos) {
            note_soft_error(event, ParseErrorKind::kTruncatedRecord);
            return;
          }
          value = kv.substr(eq + 2, gt - eq - 2);
          next = kv.find(", ", gt);
          if (next == std::string_view::npos) next = kv.size();
        }
        if (key == "user") f.add("user", value);
        else if (key == "method") f.add("auth_method", value);
        else if (key == "rip") f.add("client_ip", strip_v4_mapped(value));
        else if (key == "lip") f.add("server_ip", strip_v4_mapped(value));
        else if (key == "session") f.add("session", value);
      }
      kv = next + 2 <= kv.size() ? kv.substr(next + 2) : std::string_view();
    }
    return;
  }
  if (starts_with(process, "auth")) {
    // "passdb(user,rip[,<session>]): reason"
    std::size_t p = 0;
    while (p < rest.size() && (is_alpha(rest[p]) || rest[p] == '-' || rest[p] == '_')) ++p;
    if (p == 0 || p >= rest.size() || rest[p] != '(') return;
    const std::size_t close = rest.find("): ", p);
    if (close == std::string_view::npos) {
      if (rest.find(')', p) == std::string_view::npos) note_soft_error(event, ParseErrorKind::kTruncatedRecord);
      return;
    }
    f.add("passdb", rest.substr(0, p));
    std::string_view args = rest.substr(p + 1, close - p - 1);
    std::string_view parts[3];
    for (std::string_view& part : parts) {
      const std::size_t comma = args.find(',');
      part = args.substr(0, comma);
      args = comma == std::string_view::npos ? std::string_view() : args.substr(comma + 1);
      if (args.empty()) break;
    }
    if (!parts[0].empty() && parts[0] != "?") f.add("user", parts[0]);
    if (looks_like_address(parts[1])) f.add("client_ip", strip_v4_mapped(parts[1]));
    if (parts[2].size() > 2 && parts[2].front() == '<' && parts[2].back() == '>')
      f.add("session", parts[2].substr(1, parts[2].size() - 2));
    if (close + 3 < rest.size()) f.add("reason", rest.substr(close + 3));
  }
}

// vsftpd's line after its date and pid: "[user] FAIL LOGIN: Client "1.2.3.4"" / "CONNECT:
// Client "1.2.3.4"" / "[ftp] OK UPLOAD: Client "1.2.3.4", "/incoming/x.php", 2114 bytes, ...".
void add_vsftpd_body(std::string_view body, Event& event) {
  FieldView& f = event.fields;
  std::size_t p = 0;
  std::string_view user;
  if (!body.empty() && body[0] == '[') {
    const std::size_t close = body.find("] ");
    if (close == std::string_view::npos) {
      note_soft_error(event, ParseErrorKind::kTruncatedRecord);
      return;
    }
    user = body.substr(1, close - 1);
    p = close + 2;
  }
  const std::size_t client = body.find(": Client \"", p);
  if (client == std::string_view::npos || client - p > 20) return;
  const std::string_view action = body.substr(p, client - p);
  if (!starts_with(action, "OK ") && !starts_with(action, "FAIL ") && action != "CONNECT" &&
      !starts_with(action, "FTP ") && action != "DEBUG")
    return;
  if (!user.empty()) f.add("user", user);
  f.add("action", action);
  const std::size_t ip_at = client + 10;
  const std::size_t ip_end = body.find('"', ip_at);
  if (ip_end == std::string_view::npos) {
    note_soft_error(event, ParseErrorKind::kTruncatedRecord);
    return;
  }
  f.add("client_ip", strip_v4_mapped(body.substr(ip_at, ip_end - ip_at)));
  // Transfers and file operations name the path next, transfers then the byte count.
  const std::size_t verb = action.find(' ');
  if (verb == std::string_view::npos || starts_with(action, "FTP ")) return;
  std::string_view tail = body.substr(ip_end + 1);
  if (!starts_with(tail, ", \"")) return;
  const std::size_t path_end = tail.find('"', 3);
  if (path_end == std::string_view::npos) {
    note_soft_error(event, ParseErrorKind::kTruncatedRecord);
    return;
  }
  f.add("path", tail.substr(3, path_end - 3));
  tail = tail.substr(path_end + 1);
  if (starts_with(tail, ", ")) {
    std::size_t q = 2;
    while (q < tail.size() && is_digit(tail[q])) ++q;
    if (q > 2 && tail.substr(q, 6) == " bytes") f.add("bytes", tail.substr(2, q - 2), ValueKind::kNumber);
  }
}

// MySQL/MariaDB: "... Access denied for user 'root'@'203.0.113.82' (using password: YES)".
void add_mysql_fields(std::string_view msg, Event& event) {
  static constexpr std::string_view kDenied = "Access denied for user '";
  const std::size_t at = msg.find(kDenied);
  if (at == std::string_view::npos) return;
  FieldView& f = event.fields;
  const std::size_t user_at = at + kDenied.size();
  const std::size_t user_end = msg.find("'@'", user_at);
  if (user_end == std::string_view::npos) {
    note_soft_error(event, ParseErrorKind::kTruncatedRecord);
    return;
  }
  f.add("user", msg.substr(user_at, user_end - user_at));
  const std::size_t host_at = user_end + 3;
  const std::size_t host_end = msg.find('\'', host_at);
  if (host_end == std::string_view::npos) {
    note_soft_error(event, ParseErrorKind::kTruncatedRecord);
    return;
  }
  const std::string_view host = msg.substr(host_at, host_end - host_at);
  f.add("client_host", host);
  if (looks_like_address(host)) f.add("client_ip", strip_v4_mapped(host));
  if (msg.substr(host_end + 1, 18) == " (using password: ") {
    const std::size_t v = host_end + 19;
    const std::size_t close = msg.find(')', v);
    if (close != std::string_view::npos) f.add("using_password", msg.substr(v, close - v));
  }
}

// The text between the first '"' after `at` and the next '"', or nothing.
std::string_view quoted_after(std::string_view s, std::size_t at) {
  const std::size_t open = s.find('"', at);
  if (open == std::string_view::npos) return {};
  const std::size_t close = s.find('"', open + 1);
  return close == std::string_view::npos ? std::string_view() : s.substr(open + 1, close - open - 1);
}

// PostgreSQL's authentication messages (src/backend/libpq/auth.c, postinit.c): "<method>
// authentication failed for user \"x\"", "no pg_hba.conf entry for host \"1.2.3.4\", user \"x\",
// database \"y\", SSL off", "role \"x\" does not exist", and with log_connections
// "connection received: host=1.2.3.4 port=5432" / "connection authorized: user=x database=y".
// `user` and `database` are not repeated when the line prefix (%u@%d) gave them.
void add_postgresql_auth_fields(std::string_view msg, Event& event) {
  FieldView& f = event.fields;
  const auto add_once = [&](std::string_view name, std::string_view value) {
    if (!value.empty() && f.find(name) == nullptr) f.add(name, value);
  };
  if (const std::size_t at = msg.find(" authentication failed for user \""); at != std::string_view::npos) {
    std::size_t m = at;
    while (m > 0 && msg[m - 1] != ' ') --m;
    // "password" (md5, scram-sha-256 and password alike), "PAM", "LDAP", "Ident", "RADIUS"...
    if (at > m) f.add("auth_method", msg.substr(m, at - m));
    add_once("user", quoted_after(msg, at + 30));
    return;
  }
  if (const std::size_t at = msg.find("no pg_hba.conf entry for host \""); at != std::string_view::npos) {
    const std::string_view host = quoted_after(msg, at + 29);
    if (looks_like_address(host)) f.add("client_ip", host);
    else if (!host.empty()) f.add("client_host", host);
    if (const std::size_t u = msg.find(", user \"", at); u != std::string_view::npos)
      add_once("user", quoted_after(msg, u + 7));
    if (const std::size_t d = msg.find(", database \"", at); d != std::string_view::npos)
      add_once("database", quoted_after(msg, d + 11));
    return;
  }
  if (const std::size_t at = msg.find("role \"");
      at != std::string_view::npos && msg.find("\" does not exist", at) != std::string_view::npos) {
    add_once("user", quoted_after(msg, at + 4));
    return;
  }
  if (const std::size_t at = msg.find("connection received: host="); at != std::string_view::npos) {
    const std::size_t start = at + 26;
    std::size_t end = start;
    while (end < msg.size() && msg[end] != ' ') ++end;
    const std::string_view host = msg.substr(start, end - start);
    if (looks_like_address(host)) f.add("client_ip", host);
    else if (!host.empty()) f.add("client_host", host);
    if (msg.substr(end, 6) == " port=") {
      std::size_t q = end + 6;
      while (q < msg.size() && is_digit(msg[q])) ++q;
      if (q > end + 6) f.add("client_port", msg.substr(end + 6, q - end - 6), ValueKind::kNumber);
    }
    return;
  }
  if (const std::size_t at = msg.find("connection authorized: user="); at != std::string_view::npos) {
    const std::size_t start = at + 28;
    std::size_t end = start;
    while (end < msg.size() && msg[end] != ' ') ++end;
    add_once("user", msg.substr(start, end - start));
    if (msg.substr(end, 10) == " database=") {
      const std::size_t d = end + 10;
      std::size_t e = d;
      while (e < msg.size() && msg[e] != ' ') ++e;
      add_once("database", msg.substr(d, e - d));
    }
  }
}

}  // namespace

void add_postgresql_message_fields(std::string_view message, Event& event) {
  add_postgresql_auth_fields(message, event);
}

void add_server_message_fields(std::string_view program, std::string_view message, Event& event) {
  if (program.empty()) {
    // MySQL 5.7+/8 error-log lines ("2026-12-07T10:33:00.123456Z 12 [Note] ...") read as syslog
    // with host "12" and no program.
    if (!message.empty() && message[0] == '[') add_mysql_fields(message, event);
    return;
  }
  switch (program[0]) {
    case 'p':
      if (starts_with(program, "postfix")) add_postfix_fields(message, event);
      else if (starts_with(program, "postgres")) add_postgresql_auth_fields(message, event);
      break;
    case 'd':
      if (starts_with(program, "dovecot")) add_dovecot_fields(message, event);
      break;
    case 'v':
      if (program == "vsftpd") add_vsftpd_body(message, event);
      break;
    case 'm':
      if (program == "mysqld" || program == "mariadbd" || program == "mysql" || program == "mariadb")
        add_mysql_fields(message, event);
      break;
    default: break;
  }
}

bool add_vsftpd_log_fields(std::string_view line, Event& event) {
  // "Mon Dec  7 10:11:12 2026 [pid 1234] ...": the date is ctime's 24 characters.
  if (line.size() < 32 || line.substr(24, 6) != " [pid " || line[3] != ' ' || line[7] != ' ' ||
      line[13] != ':' || line[16] != ':')
    return false;
  const std::size_t close = line.find("] ", 30);
  if (close == std::string_view::npos || close > 42) {
    note_soft_error(event, ParseErrorKind::kTruncatedRecord);
    return true;
  }
  const std::string_view pid = line.substr(30, close - 30);
  if (pid.empty()) return false;
  for (char c : pid)
    if (!is_digit(c)) return false;
  event.fields.add("pid", pid, ValueKind::kNumber);
  add_vsftpd_body(line.substr(close + 2), event);
  return true;
}

bool add_mysql_plain_fields(std::string_view line, Event& event) {
  const std::size_t before = event.fields.size();
  add_mysql_fields(line, event);
  return event.fields.size() != before;
}

}  // namespace vigil::parse::internal
