// Text formats other than syslog: CEF, key=value (FortiGate style), combined access log, plain.
#include <cstring>

#include "core/parse/parsers_internal.h"
#include "core/parse/web_normalize.h"

namespace vigil::parse::internal {

namespace {

// True when the character at s[i] is preceded by an odd number of backslashes.
bool is_escaped(std::string_view s, std::size_t i) {
  std::size_t n = 0;
  while (i > 0 && s[i - 1] == '\\') {
    ++n;
    --i;
  }
  return (n & 1) != 0;
}

// Decodes backslash escapes: "\x" becomes decode(x) when decode(x) != 0, else stays "\x".
template <typename Decode>
std::string_view unescape(StringArena& arena, std::string_view v, Decode decode) {
  char* out = arena.allocate(v.size());
  std::size_t o = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      const char d = decode(v[i + 1]);
      if (d != 0) {
        out[o++] = d;
        ++i;
        continue;
      }
    }
    out[o++] = v[i];
  }
  return std::string_view(out, o);
}

bool has_backslash(std::string_view v) {
  return !v.empty() && std::memchr(v.data(), '\\', v.size()) != nullptr;
}

// ---- CEF ----------------------------------------------------------------------------------------

char decode_cef_header(char c) { return (c == '|' || c == '\\') ? c : 0; }
char decode_cef_ext(char c) {
  switch (c) {
    case '=': return '=';
    case '\\': return '\\';
    case 'n': return '\n';
    case 'r': return '\r';
    default: return 0;
  }
}

// The next extension key at or after `from`: returns the key's start (and `*eq` its '='), or
// npos. A key is [A-Za-z0-9_.-]+ directly before an unescaped '=', and starts at `from` (when
// allowed) or right after a space.
std::size_t next_cef_key(std::string_view s, std::size_t from, bool allow_at_from, std::size_t* eq) {
  std::size_t scan = from;
  while (scan < s.size()) {
    const std::size_t e = s.find('=', scan);
    if (e == std::string_view::npos) return std::string_view::npos;
    scan = e + 1;
    if (is_escaped(s, e)) continue;
    std::size_t k = e;
    while (k > from && is_kv_key_char(s[k - 1])) --k;
    if (k == e) continue;
    if ((k == from && allow_at_from) || (k > from && s[k - 1] == ' ')) {
      *eq = e;
      return k;
    }
  }
  return std::string_view::npos;
}

constexpr std::string_view kCefHeaderNames[7] = {
    "cef_version", "device_vendor", "device_product", "device_version",
    "signature_id", "name", "severity"};

}  // namespace

std::size_t find_cef_marker(std::string_view s, std::size_t window) {
  const std::size_t limit = s.size() < window ? s.size() : window;
  const std::string_view head = s.substr(0, limit + 3);  // "CEF:" must start before `limit`
  std::size_t pos = 0;
  while (pos < limit) {
    const std::size_t c = head.find("CEF:", pos);
    if (c == std::string_view::npos) return std::string_view::npos;
    std::size_t p = c + 4;
    while (p < s.size() && is_digit(s[p])) ++p;
    if (p > c + 4 && p < s.size() && s[p] == '|' && (c == 0 || !is_alpha(s[c - 1]))) return c;
    pos = c + 1;
  }
  return std::string_view::npos;
}

bool emit_cef_body(std::string_view cef, Event& event) {
  if (cef.substr(0, 4) != "CEF:") return false;
  FieldView& f = event.fields;
  StringArena& arena = f.arena();
  std::size_t p = 4;
  int i = 0;
  for (; i < 7 && p <= cef.size(); ++i) {
    std::size_t bar = p;
    while (bar < cef.size() && cef[bar] != '|') bar += (cef[bar] == '\\' && bar + 1 < cef.size()) ? 2 : 1;
    std::string_view v = cef.substr(p, bar - p);
    if (has_backslash(v)) v = unescape(arena, v, decode_cef_header);
    f.add(kCefHeaderNames[i], v, i == 0 ? ValueKind::kNumber : ValueKind::kString);
    p = bar + 1;
    if (bar >= cef.size()) break;
  }
  std::string_view rt, dvchost;
  if (i == 7 && p < cef.size()) {
    const std::string_view ext = cef.substr(p);
    std::size_t start = 0;
    while (start < ext.size() && ext[start] == ' ') ++start;
    std::size_t eq = 0;
    std::size_t key = next_cef_key(ext, start, /*allow_at_from=*/true, &eq);
    while (key != std::string_view::npos) {
      const std::string_view name = ext.substr(key, eq - key);
      const std::size_t vstart = eq + 1;
      std::size_t next_eq = 0;
      const std::size_t next = next_cef_key(ext, vstart, /*allow_at_from=*/false, &next_eq);
      const std::size_t vend = next == std::string_view::npos ? ext.size() : next - 1;
      std::string_view v = trim_right(ext.substr(vstart, vend - vstart));
      if (has_backslash(v)) v = unescape(arena, v, decode_cef_ext);
      f.add(name, v);
      if (name == "rt") rt = v;
      else if (name == "dvchost") dvchost = v;
      key = next;
      eq = next_eq;
    }
  }
  if (!rt.empty()) {
    // rt is epoch milliseconds or "MMM dd yyyy HH:mm:ss[.SSS][ zone]".
    std::int64_t ns = 0;
    if (parse_epoch(rt, &ns)) {
      event.time_text = rt;
      event.time_unix_ns = ns;
    } else if (rt.size() >= 20 && month_from_abbrev(rt) != 0 && rt[3] == ' ' && rt[6] == ' ' &&
               rt[11] == ' ') {
      // Rebuild as ISO and reuse that parser: yyyy-mm-ddThh:mm:ss
      char iso[20];
      const int mo = month_from_abbrev(rt);
      std::memcpy(iso, rt.data() + 7, 4);
      iso[4] = '-';
      iso[5] = static_cast<char>('0' + mo / 10);
      iso[6] = static_cast<char>('0' + mo % 10);
      iso[7] = '-';
      iso[8] = rt[4] == ' ' ? '0' : rt[4];
      iso[9] = rt[5];
      iso[10] = 'T';
      std::memcpy(iso + 11, rt.data() + 12, 8);
      if (match_iso8601(std::string_view(iso, 19), &ns) == 19) {
        event.time_text = rt;
        event.time_unix_ns = ns;
      }
    }
  }
  if (event.host.empty() && !dvchost.empty()) event.host = dvchost;
  return true;
}

bool parse_cef(std::string_view line, Event& event) {
  const std::size_t pos = find_cef_marker(line, 1024);
  if (pos == std::string_view::npos) return false;
  const std::string_view prefix = trim_right(line.substr(0, pos));
  if (!prefix.empty()) {
    SyslogHeader h;
    if (parse_syslog_header(prefix, &h)) {
      emit_syslog_header(h, event, /*pri_prefix=*/true, /*with_message=*/false);
      emit_structured_data(h.sd, event);
    }
  }
  return emit_cef_body(line.substr(pos), event);
}

// ---- key=value --------------------------------------------------------------------------------

bool starts_with_kv_token(std::string_view s) {
  std::size_t p = 0;
  while (p < s.size() && is_kv_key_char(s[p])) ++p;
  return p > 0 && p < s.size() && s[p] == '=';
}

std::size_t count_kv_tokens(std::string_view s, std::size_t limit) {
  std::size_t count = 0;
  std::size_t p = 0;
  while (p < s.size() && count < limit) {
    while (p < s.size() && is_space(s[p])) ++p;
    const std::size_t start = p;
    while (p < s.size() && is_kv_key_char(s[p])) ++p;
    if (p > start && p < s.size() && s[p] == '=') {
      ++count;
      ++p;
      if (p < s.size() && s[p] == '"') {  // skip the quoted value, spaces and all
        ++p;
        while (p < s.size() && s[p] != '"') p += (s[p] == '\\') ? 2 : 1;
        ++p;
        continue;
      }
    }
    while (p < s.size() && !is_space(s[p])) ++p;
  }
  return count;
}

namespace {

char decode_kv(char c) { return (c == '"' || c == '\\') ? c : 0; }

struct KvTimeHints {
  std::string_view date, time, eventtime, tz, timestamp, devname;
};

std::size_t emit_kv_pairs(std::string_view s, Event& event, KvTimeHints* hints) {
  FieldView& f = event.fields;
  std::size_t count = 0;
  std::size_t p = 0;
  const std::size_t n = s.size();
  while (p < n) {
    while (p < n && is_space(s[p])) ++p;
    const std::size_t key_start = p;
    while (p < n && is_kv_key_char(s[p])) ++p;
    if (p == key_start || p >= n || s[p] != '=') {
      while (p < n && !is_space(s[p])) ++p;  // not a pair: skip the token
      continue;
    }
    const std::string_view key = s.substr(key_start, p - key_start);
    ++p;
    std::string_view value;
    if (p < n && s[p] == '"') {
      ++p;
      const std::size_t vstart = p;
      bool escaped = false;
      p = find_closing_quote(s, p, &escaped);
      value = s.substr(vstart, (p < n ? p : n) - vstart);
      if (p < n) ++p;
      if (escaped) value = unescape(f.arena(), value, decode_kv);
    } else {
      const std::size_t vstart = p;
      while (p < n && !is_space(s[p])) ++p;
      value = s.substr(vstart, p - vstart);
    }
    f.add(key, value);
    ++count;
    switch (key.size()) {
      case 2: if (key == "tz") hints->tz = value; break;
      case 4:
        if (key == "date") hints->date = value;
        else if (key == "time") hints->time = value;
        break;
      case 7: if (key == "devname") hints->devname = value; break;
      case 9:
        if (key == "eventtime") hints->eventtime = value;
        else if (key == "timestamp") hints->timestamp = value;
        break;
      default: break;
    }
  }
  return count;
}

// "+0700", "+07:00", "-05" -> seconds east of UTC; 0 when not that shape.
std::int64_t parse_tz_offset(std::string_view tz) {
  if (tz.size() < 3 || (tz[0] != '+' && tz[0] != '-') || !is_digit(tz[1]) || !is_digit(tz[2]))
    return 0;
  std::int64_t h = (tz[1] - '0') * 10 + (tz[2] - '0');
  std::int64_t m = 0;
  std::size_t p = 3;
  if (p < tz.size() && tz[p] == ':') ++p;
  if (p + 2 <= tz.size() && is_digit(tz[p]) && is_digit(tz[p + 1]))
    m = (tz[p] - '0') * 10 + (tz[p + 1] - '0');
  return (h * 3600 + m * 60) * (tz[0] == '-' ? -1 : 1);
}

}  // namespace

bool parse_kv(std::string_view line, Event& event) {
  std::string_view body = line;
  if (!starts_with_kv_token(line)) {
    SyslogHeader h;
    if (parse_syslog_header(line, &h)) {
      emit_syslog_header(h, event, /*pri_prefix=*/false, /*with_message=*/false);
      emit_structured_data(h.sd, event);
      body = h.message;
    }
  }
  KvTimeHints hints;
  if (!body.empty() && body[0] == '[') {
    // Check Point: [key:"value"; ...] where RFC 5424 structured data would be.
    if (!emit_checkpoint_pairs(body, event)) return false;
    if (const Field* t = event.fields.find("time")) hints.eventtime = t->value;
  } else if (emit_kv_pairs(body, event, &hints) == 0) {
    return false;
  }
  add_sonicwall_endpoints(event);

  std::int64_t ns = 0;
  if (!hints.date.empty() && !hints.time.empty()) {
    const std::string_view text = compose(event.fields.arena(), hints.date, ' ', hints.time);
    event.time_text = text;
    event.time_unix_ns = 0;
    if (match_iso8601(text, &ns) == text.size())
      event.time_unix_ns = ns - parse_tz_offset(hints.tz) * 1'000'000'000;
  } else if (!hints.eventtime.empty() && parse_epoch(hints.eventtime, &ns)) {
    event.time_text = hints.eventtime;
    event.time_unix_ns = ns;
  } else {
    for (std::string_view t : {hints.timestamp, hints.time}) {
      if (!t.empty() && match_iso8601(t, &ns) == t.size()) {
        event.time_text = t;
        event.time_unix_ns = ns;
        break;
      }
    }
  }
  if (!hints.devname.empty()) event.host = hints.devname;
  return true;
}

// ---- combined / common access log ---------------------------------------------------------------

namespace {

// A double-quoted field at s[*pos] (Apache escapes '"' inside as \"). Returns its content and
// moves *pos past the closing quote and one space. Without a closing quote, runs to the end.
std::string_view quoted_field(std::string_view s, std::size_t* pos) {
  std::size_t p = *pos;
  if (p >= s.size() || s[p] != '"') return {};
  ++p;
  const std::size_t start = p;
  while (p < s.size()) {
    if (s[p] == '\\' && p + 1 < s.size()) {
      p += 2;
      continue;
    }
    if (s[p] == '"' && (p + 1 == s.size() || s[p + 1] == ' ')) break;
    ++p;
  }
  const std::string_view v = s.substr(start, (p < s.size() ? p : s.size()) - start);
  if (p < s.size()) ++p;
  while (p < s.size() && s[p] == ' ') ++p;
  *pos = p;
  return v;
}

std::string_view bare_field(std::string_view s, std::size_t* pos) {
  std::size_t p = *pos;
  const std::size_t start = p;
  while (p < s.size() && s[p] != ' ') ++p;
  const std::string_view v = s.substr(start, p - start);
  while (p < s.size() && s[p] == ' ') ++p;
  *pos = p;
  return v;
}

bool is_method(std::string_view m) {
  if (m.empty() || m.size() > 32) return false;
  for (char c : m)
    if (!((c >= 'A' && c <= 'Z') || c == '_' || c == '-')) return false;
  return true;
}

}  // namespace

bool parse_access(std::string_view line, Event& event, const FieldSelection* derived) {
  FieldView& f = event.fields;
  // Up to 4 tokens before the bracketed time: [vhost[:port]] client ident user
  std::string_view tokens[4];
  std::size_t count = 0;
  std::size_t p = 0;
  while (p < line.size() && line[p] != '[') {
    if (count == 4) return false;
    tokens[count++] = bare_field(line, &p);
  }
  if (count < 3 || p >= line.size()) return false;
  const std::size_t close = line.find(']', p);
  if (close == std::string_view::npos) return false;
  const std::string_view time = line.substr(p + 1, close - p - 1);

  std::string_view vhost, client = tokens[count - 3], user = tokens[count - 1];
  if (count == 4) vhost = tokens[0];
  if (!vhost.empty()) {
    const std::size_t colon = vhost.rfind(':');
    if (colon != std::string_view::npos && colon + 1 < vhost.size() &&
        vhost.find(':') == colon) {  // host:port (not an IPv6 address)
      f.add("cs-host", vhost.substr(0, colon));
      f.add("s-port", vhost.substr(colon + 1), ValueKind::kNumber);
    } else {
      f.add("cs-host", vhost);
    }
    event.host = vhost.substr(0, colon);
  }
  f.add("c-ip", client);
  if (user != "-") f.add("cs-username", user);
  f.add("timestamp", time);
  event.time_text = time;
  std::int64_t ns = 0;
  if (parse_apache_time(time, &ns)) event.time_unix_ns = ns;

  p = close + 1;
  while (p < line.size() && line[p] == ' ') ++p;
  WebRequestParts web;
  // The views go after the record's own fields, in the same order with or without a selection.
  const auto finish = [&]() {
    emit_web_views(f, web, derived);
    return true;
  };
  if (p >= line.size()) return finish();
  if (line[p] == '"') {
    const std::string_view request = quoted_field(line, &p);
    const std::size_t sp1 = request.find(' ');
    if (sp1 != std::string_view::npos && is_method(request.substr(0, sp1))) {
      f.add("cs-method", request.substr(0, sp1));
      std::string_view target = request.substr(sp1 + 1);
      std::string_view version;
      const std::size_t sp2 = target.rfind(' ');
      if (sp2 != std::string_view::npos && target.substr(sp2 + 1, 5) == "HTTP/") {
        version = target.substr(sp2 + 1);
        target = target.substr(0, sp2);
      }
      f.add("cs-uri", target);
      const std::size_t q = target.find('?');
      f.add("cs-uri-stem", target.substr(0, q));
      if (q != std::string_view::npos) f.add("cs-uri-query", target.substr(q + 1));
      web.has_target = true;
      web.uri_stem = target.substr(0, q);
      web.has_query = q != std::string_view::npos;
      if (web.has_query) web.uri_query = target.substr(q + 1);
      if (!version.empty()) f.add("cs-version", version);
    }
  } else {
    bare_field(line, &p);  // a request without quotes: nothing reliable in it
  }
  const std::string_view status = bare_field(line, &p);
  if (!status.empty() && status != "-") f.add("sc-status", status, ValueKind::kNumber);
  const std::string_view bytes = bare_field(line, &p);
  if (!bytes.empty() && bytes != "-") f.add("sc-bytes", bytes, ValueKind::kNumber);
  if (p < line.size() && line[p] == '"') {
    const std::string_view referer = quoted_field(line, &p);
    if (!referer.empty() && referer != "-") {
      f.add("cs-referer", referer);
      web.referer = referer;
    }
    if (p < line.size() && line[p] == '"') {
      const std::string_view agent = quoted_field(line, &p);
      if (!agent.empty() && agent != "-") {
        f.add("cs-user-agent", agent);
        web.user_agent = agent;
      }
    }
  }
  return finish();
}

namespace {

// The levels web servers write between brackets; anything else is not an error log.
bool is_error_log_level(std::string_view v) {
  static constexpr std::string_view kLevels[] = {"emerg", "alert", "crit", "error", "warn", "notice",
                                                 "info", "debug"};
  for (std::string_view l : kLevels)
    if (v == l) return true;
  return v.size() == 6 && v.substr(0, 5) == "trace" && is_digit(v[5]);  // Apache trace1..trace8
}

// The value after `key` in nginx's ", client: 1.2.3.4, server: x, request: "GET / HTTP/1.1""
// tail: up to the next ", " (or the closing quote of a quoted value).
std::string_view nginx_tail_value(std::string_view line, std::string_view key) {
  const std::size_t at = line.find(key);
  if (at == std::string_view::npos) return {};
  std::size_t p = at + key.size();
  if (p < line.size() && line[p] == '"') {
    const std::size_t close = line.find('"', p + 1);
    return close == std::string_view::npos ? std::string_view() : line.substr(p + 1, close - p - 1);
  }
  const std::size_t end = line.find(", ", p);
  return line.substr(p, (end == std::string_view::npos ? line.size() : end) - p);
}

// nginx: "2016/10/25 14:49:34 [error] 54053#0: *1 open() "..." failed (2: ...), client:
// 127.0.0.1, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "localhost:8080"".
bool add_nginx_error_fields(std::string_view line, FieldView& f) {
  if (line.size() < 24 || line[4] != '/' || line[7] != '/' || line[10] != ' ' || line[13] != ':' ||
      line[19] != ' ' || line[20] != '[' || !is_digit(line[0]))
    return false;
  const std::size_t close = line.find(']', 21);
  if (close == std::string_view::npos || !is_error_log_level(line.substr(21, close - 21))) return false;
  f.add("level", line.substr(21, close - 21));
  std::size_t p = close + 2;
  const std::size_t pid_start = p;
  while (p < line.size() && is_digit(line[p])) ++p;
  if (p > pid_start && p < line.size() && line[p] == '#') f.add("pid", line.substr(pid_start, p - pid_start), ValueKind::kNumber);
  struct Key {
    std::string_view text, name;
  };
  static constexpr Key kKeys[] = {{", client: ", "client_ip"}, {", server: ", "server"},
                                  {", request: ", "request"},  {", upstream: ", "upstream"},
                                  {", host: ", "request_host"}, {", referrer: ", "referrer"}};
  for (const Key& k : kKeys)
    if (std::string_view v = nginx_tail_value(line, k.text); !v.empty()) f.add(k.name, v);
  return true;
}

// Apache 2.4: "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 43] [client
// 72.15.99.187:5432] AH00128: File does not exist: ..."; Apache 2.2: "[Mon Dec 26 16:22:08 2016]
// [error] [client 192.168.33.1] File does not exist: ...".
bool add_apache_error_fields(std::string_view line, FieldView& f) {
  if (line.size() < 30 || line[0] != '[') return false;
  std::size_t close = line.find(']');
  if (close == std::string_view::npos || close > 40 || line.substr(close, 3) != "] [") return false;
  std::size_t p = close + 3;
  close = line.find(']', p);
  if (close == std::string_view::npos) return false;
  std::string_view level = line.substr(p, close - p);
  std::string_view module;
  if (const std::size_t colon = level.find(':'); colon != std::string_view::npos) {
    module = level.substr(0, colon);
    level = level.substr(colon + 1);
  }
  if (!is_error_log_level(level)) return false;
  f.add("level", level);
  if (!module.empty()) f.add("module", module);
  p = close + 1;
  while (p + 1 < line.size() && line[p] == ' ' && line[p + 1] == '[') {
    close = line.find(']', p + 2);
    if (close == std::string_view::npos) break;
    const std::string_view item = line.substr(p + 2, close - p - 2);
    if (item.substr(0, 4) == "pid ") {
      std::string_view pid = item.substr(4);
      pid = pid.substr(0, pid.find(':'));
      f.add("pid", pid, ValueKind::kNumber);
    } else if (item.substr(0, 7) == "client ") {
      std::string_view client = item.substr(7);
      // "1.2.3.4:5678", "[2001:db8::1]:5678" or just the address (2.2).
      const std::size_t colon = client.rfind(':');
      if (colon != std::string_view::npos && client.find('.') != std::string_view::npos) {
        f.add("client_ip", client.substr(0, colon));
        f.add("client_port", client.substr(colon + 1), ValueKind::kNumber);
      } else {
        f.add("client_ip", client);
      }
    }
    p = close + 1;
  }
  while (p < line.size() && line[p] == ' ') ++p;
  // "AH00128: ..." names the message in Apache's message catalogue.
  if (line.size() >= p + 8 && line.substr(p, 2) == "AH" && line[p + 7] == ':') f.add("error_code", line.substr(p, 7));
  return true;
}

// PostgreSQL's default stderr prefix "%m [%p] " and the common "%m [%p] %u@%d ":
// "2019-07-23 12:06:24.406 UTC [25] LOG:  00000: ..." / "... [9701] postgres@app FATAL:  ...".
bool add_postgresql_fields(std::string_view line, FieldView& f) {
  if (line.size() < 30 || line[4] != '-' || line[7] != '-' || line[10] != ' ' || !is_digit(line[0])) return false;
  const std::size_t open = line.find(" [", 19);
  if (open == std::string_view::npos || open > 40) return false;
  const std::size_t close = line.find("] ", open);
  if (close == std::string_view::npos) return false;
  const std::string_view pid = line.substr(open + 2, close - open - 2);
  for (char c : pid)
    if (!is_digit(c)) return false;
  std::size_t p = close + 2;
  std::string_view user_db;
  const std::size_t colon = line.find(":  ", p);
  if (colon == std::string_view::npos) return false;
  std::string_view head = line.substr(p, colon - p);  // "LOG" or "postgres@app FATAL"
  if (const std::size_t sp = head.rfind(' '); sp != std::string_view::npos) {
    user_db = head.substr(0, sp);
    head = head.substr(sp + 1);
  }
  static constexpr std::string_view kLevels[] = {"LOG", "FATAL", "ERROR", "WARNING", "PANIC", "STATEMENT",
                                                 "DETAIL", "HINT", "NOTICE", "INFO", "DEBUG", "LOCATION", "CONTEXT"};
  bool known = false;
  for (std::string_view l : kLevels) known |= head == l;
  if (!known) return false;
  f.add("pid", pid, ValueKind::kNumber);
  f.add("level", head);
  if (const std::size_t at = user_db.find('@'); at != std::string_view::npos && at > 0) {
    f.add("user", user_db.substr(0, at));
    if (at + 1 < user_db.size()) f.add("database", user_db.substr(at + 1));
  }
  return true;
}

}  // namespace

// A plain line is its `message`; when it has the shape of a web server's error log, of
// PostgreSQL's or MySQL's log or of vsftpd's own log, it also gives fields (level, pid,
// client_ip, user...) so that rules and correlations can group by them. The whole line stays
// the message: rules written for plain text keep working.
void parse_plain(std::string_view line, Event& event) {
  FieldView& f = event.fields;
  f.add("message", line);
  if (line.empty()) return;
  if (line[0] == '[') {
    add_apache_error_fields(line, f);
  } else if (is_digit(line[0]) && line.size() > 10) {
    if (line[4] == '/') add_nginx_error_fields(line, f);
    else if (line[4] == '-' && add_postgresql_fields(line, f)) add_postgresql_message_fields(line, event);
    else add_mysql_plain_fields(line, event);
  } else if (is_alpha(line[0])) {
    add_vsftpd_log_fields(line, event);
  }
}

}  // namespace vigil::parse::internal
