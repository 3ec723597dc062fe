// Syslog: RFC 3164 (BSD, PRI optional, BSD or ISO timestamp, optional tag) and RFC 5424
// (with structured data). Both headers are shared with the CEF and key=value parsers, which
// often arrive behind one.
#include <cstring>

#include "core/parse/parsers_internal.h"

namespace vigil::parse::internal {

namespace {

constexpr std::string_view kNumbers[] = {"0",  "1",  "2",  "3",  "4",  "5",  "6",  "7",
                                         "8",  "9",  "10", "11", "12", "13", "14", "15",
                                         "16", "17", "18", "19", "20", "21", "22", "23"};

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// The token at s[pos] up to the next space (or the end); pos moves past one following space.
std::string_view next_token(std::string_view s, std::size_t* pos) {
  std::size_t p = *pos;
  if (p >= s.size()) return {};
  std::size_t end = s.find(' ', p);
  if (end == std::string_view::npos) end = s.size();
  *pos = end < s.size() ? end + 1 : end;
  return s.substr(p, end - p);
}

std::string_view nil_to_empty(std::string_view v) { return v == "-" ? std::string_view{} : v; }

void skip_spaces(std::string_view s, std::size_t* pos) {
  while (*pos < s.size() && s[*pos] == ' ') ++*pos;
}

// "tag:" or "tag[pid]:" (token without the trailing space). Fills program/pid.
bool split_tag(std::string_view token, std::string_view* program, std::string_view* pid) {
  if (token.size() < 2 || token.back() != ':') return false;
  token.remove_suffix(1);
  if (token.back() == ']') {
    const std::size_t open = token.find('[');
    if (open == std::string_view::npos || open == 0) return false;
    *program = token.substr(0, open);
    *pid = token.substr(open + 1, token.size() - open - 2);
    return true;
  }
  if (token.find_first_of("[]") != std::string_view::npos) return false;
  *program = token;
  *pid = {};
  return true;
}

// Walks RFC 5424 SD-ELEMENTs starting at s[0] == '['. With `event`, adds "sd-id.name" fields.
// Returns the offset just past the last ']', or npos when the data is malformed.
std::size_t walk_sd(std::string_view s, Event* event) {
  std::size_t p = 0;
  const std::size_t n = s.size();
  while (p < n && s[p] == '[') {
    ++p;
    const std::size_t id_start = p;
    while (p < n && s[p] != ' ' && s[p] != ']' && s[p] != '=' && s[p] != '"') ++p;
    const std::string_view id = s.substr(id_start, p - id_start);
    if (id.empty()) return std::string_view::npos;
    for (;;) {
      if (p >= n) return std::string_view::npos;
      if (s[p] == ']') {
        ++p;
        break;
      }
      if (s[p] != ' ') return std::string_view::npos;
      while (p < n && s[p] == ' ') ++p;
      if (p < n && s[p] == ']') continue;
      const std::size_t name_start = p;
      while (p < n && s[p] != '=' && s[p] != ' ' && s[p] != ']' && s[p] != '"') ++p;
      if (p == name_start || p + 1 >= n || s[p] != '=' || s[p + 1] != '"')
        return std::string_view::npos;
      const std::string_view name = s.substr(name_start, p - name_start);
      p += 2;
      const std::size_t value_start = p;
      bool escaped = false;
      p = find_closing_quote(s, p, &escaped);
      if (p >= n) return std::string_view::npos;
      std::string_view value = s.substr(value_start, p - value_start);
      ++p;  // closing quote
      if (event != nullptr) {
        StringArena& arena = event->fields.arena();
        if (escaped) {
          // RFC 5424 6.3.3: only \" \\ \] are escapes; any other backslash stays as written.
          char* out = arena.allocate(value.size());
          std::size_t o = 0;
          for (std::size_t i = 0; i < value.size(); ++i) {
            const char c = value[i];
            if (c == '\\' && i + 1 < value.size() &&
                (value[i + 1] == '"' || value[i + 1] == '\\' || value[i + 1] == ']')) {
              out[o++] = value[++i];
            } else {
              out[o++] = c;
            }
          }
          value = std::string_view(out, o);
        }
        event->fields.add(compose(arena, id, '.', name), value);
      }
    }
  }
  return p;
}

}  // namespace

bool parse_syslog_header(std::string_view line, SyslogHeader* h) {
  *h = SyslogHeader{};
  std::size_t pos = 0;
  if (line.size() >= 3 && line[0] == '<') {
    std::size_t i = 1;
    unsigned pri = 0;
    while (i < line.size() && i <= 3 && is_digit(line[i])) pri = pri * 10 + (line[i++] - '0');
    if (i > 1 && i < line.size() && line[i] == '>' && pri <= 191) {
      h->has_pri = true;
      h->pri = pri;
      h->facility = kNumbers[pri / 8];
      h->severity = kNumbers[pri % 8];
      pos = i + 1;
    }
  }

  // RFC 5424: VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
  if (h->has_pri && pos + 1 < line.size() && is_digit(line[pos]) &&
      (line[pos + 1] == ' ' || (pos + 2 < line.size() && is_digit(line[pos + 1]) &&
                                line[pos + 2] == ' '))) {
    h->is_5424 = true;
    h->version = next_token(line, &pos);
    h->timestamp = nil_to_empty(next_token(line, &pos));
    if (!h->timestamp.empty()) match_iso8601(h->timestamp, &h->time_unix_ns);
    h->host = nil_to_empty(next_token(line, &pos));
    h->program = nil_to_empty(next_token(line, &pos));
    h->pid = nil_to_empty(next_token(line, &pos));
    h->msgid = nil_to_empty(next_token(line, &pos));
    if (pos >= line.size()) return true;
    if (line[pos] == '-') {
      ++pos;
    } else if (line[pos] == '[') {
      const std::size_t end = walk_sd(line.substr(pos), nullptr);
      if (end != std::string_view::npos) {
        h->sd = line.substr(pos, end);
        pos += end;
      }
      // Malformed structured data: keep it in the message rather than lose it.
    }
    // MSG follows one space, but rsyslog's RFC 5424 templates (RSYSLOG_SyslogProtocol23Format,
    // RSYSLOG_ForwardFormat's %msg%) keep the space that followed the BSD tag, so the text
    // arrives as "-  Failed password ...". The message's meaning starts at its first character:
    // a rule's startswith must see the same text in BSD and RFC 5424 form.
    skip_spaces(line, &pos);
    std::string_view msg = line.substr(pos);
    if (msg.substr(0, 3) == kUtf8Bom) msg.remove_prefix(3);
    while (!msg.empty() && msg.front() == ' ') msg.remove_prefix(1);
    h->message = msg;
    h->has_message = true;
    return true;
  }

  // RFC 3164: [PRI]TIMESTAMP SP HOST SP [TAG[PID]: ]MSG
  std::string_view rest = line.substr(pos);
  std::size_t ts = match_bsd_timestamp(rest);
  if (ts == 0) {
    std::int64_t ns = 0;
    ts = match_iso8601(rest, &ns);
    // RFC 3339 only ('T' between date and time), then a space: rsyslog's precise format.
    if (ts != 0 && rest[10] == 'T' && (ts == rest.size() || rest[ts] == ' ')) h->time_unix_ns = ns;
    else ts = 0;
  }
  if (ts == 0 && !h->has_pri && !starts_with_pid_tag(rest)) return false;
  std::size_t p = pos;
  if (ts != 0) {
    h->timestamp = line.substr(pos, ts);
    p = pos + ts;
    skip_spaces(line, &p);
    std::size_t q = p;
    const std::string_view token = next_token(line, &q);
    std::string_view program, pid;
    if (!token.empty() && !split_tag(token, &program, &pid)) {
      h->host = token;
      p = q;
      skip_spaces(line, &p);
    }
  }
  {
    std::size_t q = p;
    const std::string_view token = next_token(line, &q);
    std::string_view program, pid;
    if (split_tag(token, &program, &pid)) {
      h->program = program;
      h->pid = pid;
      p = q;
    }
  }
  // One space separates the tag from the message; more are padding (sudo writes "sudo:   user :
  // ..."). The message starts at its first character, as in RFC 5424 form above, where the
  // padding cannot be told from rsyslog's kept space: the same text in both forms.
  skip_spaces(line, &p);
  h->message = line.substr(p);
  h->has_message = true;
  return true;
}

void emit_syslog_header(const SyslogHeader& h, Event& event, bool pri_prefix, bool with_message) {
  FieldView& f = event.fields;
  if (h.has_pri) {
    f.add(pri_prefix ? "syslog_facility" : "facility", h.facility, ValueKind::kNumber);
    f.add(pri_prefix ? "syslog_severity" : "severity", h.severity, ValueKind::kNumber);
  }
  if (!h.version.empty()) f.add("version", h.version, ValueKind::kNumber);
  if (!h.timestamp.empty()) {
    f.add("timestamp", h.timestamp);
    event.time_text = h.timestamp;
    event.time_unix_ns = h.time_unix_ns;
  }
  if (!h.host.empty()) {
    f.add("host", h.host);
    f.add("hostname", h.host);
    event.host = h.host;
  }
  if (h.is_5424) {
    // RFC 5424 names them APP-NAME and PROCID; the RFC 3164 names are given too, so a rule
    // written against `program` matches the same sshd line in either syslog format.
    if (!h.program.empty()) {
      f.add("app_name", h.program);
      f.add("program", h.program);
    }
    if (!h.pid.empty()) {
      f.add("procid", h.pid);
      f.add("pid", h.pid);
    }
    if (!h.msgid.empty()) f.add("msgid", h.msgid);
  } else {
    if (!h.program.empty()) f.add("program", h.program);
    if (!h.pid.empty()) f.add("pid", h.pid);
  }
  if (with_message && h.has_message) f.add("message", h.message);
}

void emit_structured_data(std::string_view sd, Event& event) {
  if (!sd.empty() && sd[0] == '[') walk_sd(sd, &event);
}

bool parse_rfc5424(std::string_view line, Event& event) {
  SyslogHeader h;
  if (!parse_syslog_header(line, &h) || !h.is_5424) return false;
  const bool cef = h.message.substr(0, 4) == "CEF:";
  emit_syslog_header(h, event, /*pri_prefix=*/cef, /*with_message=*/false);
  emit_structured_data(h.sd, event);
  if (cef) {
    emit_cef_body(h.message, event);
  } else {
    event.fields.add("message", h.message);
    add_server_message_fields(h.program, h.message, event);
  }
  return true;
}

bool parse_rfc3164(std::string_view line, Event& event) {
  SyslogHeader h;
  if (!parse_syslog_header(line, &h)) return false;
  if (h.is_5424) return parse_rfc5424(line, event);
  emit_syslog_header(h, event, /*pri_prefix=*/false, /*with_message=*/true);
  if (h.has_message) add_server_message_fields(h.program, h.message, event);
  return true;
}

}  // namespace vigil::parse::internal
