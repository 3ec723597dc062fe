// Network device formats: Cisco ASA/FTD/PIX and IOS messages, Palo Alto PAN-OS CSV, LEEF, and
// Check Point's syslog body. Device key=value formats (SonicWall, Sophos) need no code of their
// own: the key=value parser reads them (see docs/logsource-mapping.md).
//
// Field names follow Sigma's firewall taxonomy where one exists (src_ip, src_port, dst_ip,
// dst_port, action, user), so that category: firewall rules read every device without renames.
#include <cstring>

#include "core/parse/parsers_internal.h"

namespace vigil::parse::internal {

namespace {

bool is_upper_or_digit(char c) { return (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return trim_right(s);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

// ---- Cisco marker -------------------------------------------------------------------------------

struct CiscoMarker {
  std::string_view facility;     // "ASA", "FTD", "SEC_LOGIN"
  std::string_view subfacility;  // "session" (%ASA-session-5-106100), "SW1" (%PIM-SW1-6-...)
  std::string_view severity;     // "0".."7"
  std::string_view mnemonic;     // "605004", "LOGIN_FAILED"
  std::size_t text_start = 0;    // the message text after "...: "
};

// "%FACILITY[-SUB]-SEV-MNEMONIC" at s[pos] ('%'), followed by ':' or a space (ASA 302016 is
// sometimes logged without the colon).
bool read_cisco_marker(std::string_view s, std::size_t pos, CiscoMarker* m) {
  std::size_t p = pos + 1;
  const std::size_t n = s.size();
  const std::size_t fac_start = p;
  if (p >= n || !(s[p] >= 'A' && s[p] <= 'Z')) return false;
  while (p < n && is_upper_or_digit(s[p])) ++p;
  m->facility = s.substr(fac_start, p - fac_start);
  m->subfacility = {};
  for (int part = 0; part < 3; ++part) {
    if (p >= n || s[p] != '-') return false;
    ++p;
    const std::size_t start = p;
    while (p < n && (is_alpha(s[p]) || is_digit(s[p]) || s[p] == '_')) ++p;
    const std::string_view token = s.substr(start, p - start);
    if (token.size() == 1 && token[0] >= '0' && token[0] <= '7' && p < n && s[p] == '-') {
      m->severity = token;
      ++p;
      const std::size_t mn = p;
      while (p < n && is_upper_or_digit(s[p])) ++p;
      if (p == mn) return false;
      m->mnemonic = s.substr(mn, p - mn);
      if (p < n && s[p] != ':' && s[p] != ' ') return false;
      if (p < n && s[p] == ':') ++p;
      while (p < n && s[p] == ' ') ++p;
      m->text_start = p;
      return true;
    }
    if (token.empty() || part == 2) return false;
    m->subfacility = token;
  }
  return false;
}

bool is_asa_family(std::string_view facility) {
  return facility == "ASA" || facility == "FTD" || facility == "PIX" || facility == "FWSM" ||
         facility == "NGIPS";
}

// ---- message templates --------------------------------------------------------------------------

// A message layout from Cisco's syslog message guides: literal text with {name} captures. A
// capture runs to the next literal (or to the end when last) and is trimmed. {src} and {dst}
// are endpoints split into <side>_interface, <side>_ip, <side>_port; {*} is read and dropped.
struct CiscoTemplate {
  std::string_view id;      // ASA message number, or "FACILITY-MNEMONIC" for IOS; "716*" = prefix
  std::string_view action;  // emitted as `action` unless the layout captures one
  std::string_view layout;
};

constexpr CiscoTemplate kCiscoTemplates[] = {
    // Denies (106xxx)
    {"106001", "deny", "{direction} {protocol} connection denied from {src} to {dst} flags {tcp_flags} on interface {src_interface}"},
    {"106006", "deny", "Deny {direction} {protocol} from {src} to {dst} on interface {src_interface}"},
    {"106007", "deny", "Deny {direction} {protocol} from {src} to {dst} due to {reason}"},
    {"106014", "deny", "Deny {direction} {protocol} src {src} dst {dst}"},
    {"106015", "deny", "Deny {protocol} (no connection) from {src} to {dst} flags {tcp_flags} on interface {src_interface}"},
    {"106021", "deny", "Deny {protocol} reverse path check from {src} to {dst} on interface {src_interface}"},
    {"106023", "deny", "Deny {protocol} src {src} dst {dst} by access-group \"{access_list}\""},
    {"106023", "deny", "Deny {protocol} src {src} dst {dst}"},
    {"106100", "", "access-list {access_list} {action} {protocol} for user {user} {src} -> {dst} hit-cnt {*}"},
    {"106100", "", "access-list {access_list} {action} {protocol} {src} -> {dst} hit-cnt {*}"},
    {"106102", "", "access-list {access_list} {action} {protocol} for user {user} {src} -> {dst} hit-cnt {*}"},
    {"106103", "", "access-list {access_list} {action} {protocol} for user {user} {src} -> {dst} hit-cnt {*}"},
    // Connections built and torn down (302xxx)
    {"302013", "built", "Built {direction} {protocol} connection {connection_id} for {src} {*} to {dst} {*}"},
    {"302015", "built", "Built {direction} {protocol} connection {connection_id} for {src} {*} to {dst} {*}"},
    {"302014", "teardown", "Teardown {protocol} connection {connection_id} for {src} to {dst} duration {duration} bytes {bytes} {reason}"},
    {"302014", "teardown", "Teardown {protocol} connection {connection_id} for {src} to {dst} duration {duration} bytes {bytes}"},
    {"302016", "teardown", "Teardown {protocol} connection {connection_id} for {src} to {dst} duration {duration} bytes {bytes}"},
    {"302020", "built", "Built {direction} {protocol} connection for faddr {src} gaddr {*} laddr {dst}"},
    {"302021", "teardown", "Teardown {protocol} connection for faddr {src} gaddr {*} laddr {dst}"},
    // Address translation (305xxx)
    {"305011", "built", "Built {translation} {protocol} translation from {src} to {dst}"},
    {"305012", "teardown", "Teardown {translation} {protocol} translation from {src} to {dst} duration {duration}"},
    // Management logins and commands
    {"605004", "deny", "Login denied from {src} to {dst} for user \"{user}\""},
    {"605005", "permit", "Login permitted from {src} to {dst} for user \"{user}\""},
    {"111008", "", "User '{user}' executed the '{command}' command."},
    {"111009", "", "User '{user}' executed cmd: {command}"},
    {"111010", "", "User '{user}', running '{application}' from IP {src_ip}, executed '{command}'"},
    {"502103", "", "User priv level changed: Uname: {user} From: {old_privilege} To: {new_privilege}"},
    {"611101", "success", "User authentication succeeded: IP address: {src_ip}, Uname: {user}"},
    {"611102", "failure", "User authentication failed: IP address: {src_ip}, Uname: {user}"},
    {"611103", "logout", "User logged out: Uname: {user}"},
    // AAA (113xxx)
    {"113004", "success", "AAA user {aaa_type} Successful : server = {server} : user = {user}"},
    {"113005", "failure", "AAA user {aaa_type} Rejected : reason = {reason} : server = {server} : user = {user} : user IP = {src_ip}"},
    {"113005", "failure", "AAA user {aaa_type} Rejected : reason = {reason} : server = {server} : user = {user}"},
    {"113015", "failure", "AAA user {aaa_type} Rejected : reason = {reason} : local database : user = {user} : user IP = {src_ip}"},
    {"113015", "failure", "AAA user {aaa_type} Rejected : reason = {reason} : local database : user = {user}"},
    {"113019", "disconnect", "Group = {group}, Username = {user}, IP = {src_ip}, Session disconnected. Session Type: {session_type}, Duration: {duration}, Bytes xmt: {bytes_sent}, Bytes rcv: {bytes_received}, Reason: {reason}"},
    {"113039", "", "Group <{group}> User <{user}> IP <{src_ip}> {*}"},
    // VPN: WebVPN / AnyConnect sessions
    {"722051", "", "Group <{group}> User <{user}> IP <{src_ip}> IPv4 Address <{assigned_ip}> {*}"},
    {"722*", "", "Group <{group}> User <{user}> IP <{src_ip}> {*}"},
    {"716*", "", "Group <{group}> User <{user}> IP <{src_ip}> {*}"},
    {"716*", "", "Group {group} User {user} IP {src_ip} {*}"},
    // Threat detection and IPS
    {"733100", "", "[{threat_object}] drop rate-{*}"},
    {"4000*", "", "IPS:{signature_id} {signature} from {src_ip} to {dst_ip} on interface {src_interface}"},
    {"710003", "deny", "{protocol} access denied by ACL from {src} to {dst}"},
    // IOS
    {"SYS-CONFIG_I", "", "Configured from {config_source} by {user} on {line} ({src_ip})"},
    {"SYS-CONFIG_I", "", "Configured from {config_source} by {user}"},
    {"SYS-LOGOUT", "logout", "User {user} has exited tty session {line}({src_ip})"},
    {"LINK-UPDOWN", "", "Interface {interface}, changed state to {state}"},
    {"LINK-CHANGED", "", "Interface {interface}, changed state to {state}"},
    {"LINEPROTO-UPDOWN", "", "Line protocol on Interface {interface}, changed state to {state}"},
    {"PARSER-CFGLOG_LOGGEDCMD", "", "User:{user} logged command:{command}"},
    {"SEC-IPACCESSLOGP", "", "list {access_list} {action} {protocol} {src} -> {dst}, {*}"},
    {"SEC-IPACCESSLOGDP", "", "list {access_list} {action} {protocol} {src} -> {dst} {*}"},
    {"SEC-IPACCESSLOGRP", "", "list {access_list} {action} {protocol} {src} -> {dst}, {*}"},
    {"SEC-IPACCESSLOGSP", "", "list {access_list} {action} {protocol} {src} -> {dst} {*}"},
    {"SEC-IPACCESSLOGNP", "", "list {access_list} {action} {protocol} {src} -> {dst}, {*}"},
    {"IPV6-ACCESSLOGP", "", "list {access_list} {action} {protocol} {src} -> {dst}, {*}"},
};

bool template_applies(std::string_view id, std::string_view key) {
  if (!id.empty() && id.back() == '*') return key.substr(0, id.size() - 1) == id.substr(0, id.size() - 1);
  return id == key;
}

struct Capture {
  std::string_view name, value;
};

// Matches `text` against `layout`; fills up to 16 captures. Literal text must match exactly.
bool match_layout(std::string_view layout, std::string_view text, Capture* captures, int* count) {
  *count = 0;
  std::size_t l = 0, t = 0;
  while (l < layout.size()) {
    if (layout[l] != '{') {
      const std::size_t next = layout.find('{', l);
      const std::string_view literal = layout.substr(l, (next == std::string_view::npos ? layout.size() : next) - l);
      if (text.substr(t, literal.size()) != literal) return false;
      t += literal.size();
      l += literal.size();
      continue;
    }
    const std::size_t close = layout.find('}', l);
    const std::string_view name = layout.substr(l + 1, close - l - 1);
    l = close + 1;
    std::size_t end = text.size();
    if (l < layout.size()) {
      const std::size_t next = layout.find('{', l);
      const std::string_view literal = layout.substr(l, (next == std::string_view::npos ? layout.size() : next) - l);
      end = text.find(literal, t);
      if (end == std::string_view::npos) return false;
    }
    const std::string_view value = trim(text.substr(t, end - t));
    if (value.empty()) return false;
    if (name != "*" && *count < 16) captures[(*count)++] = Capture{name, value};
    t = end;
  }
  return true;
}

// "Deny", "denied" -> "deny"; "permitted" -> "permit"; others lower-cased as written.
std::string_view normalise_action(StringArena& arena, std::string_view a) {
  if (a == "Deny" || a == "denied" || a == "deny") return "deny";
  if (a == "permitted" || a == "Permit" || a == "permit") return "permit";
  char* out = arena.allocate(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] | 0x20) : a[i];
  return std::string_view(out, a.size());
}

// A segment that is an interface name rather than the first group of an IPv6 address.
bool is_interface_name(std::string_view s) {
  if (s.empty()) return false;
  if (s.size() > 4) return true;
  for (char c : s)
    if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return true;
  return false;
}

// Endpoints as ASA and IOS write them: "iface:ip/port", "ip/port", "iface/ip(port)", "ip(port)",
// "iface:ip", "ip"; a "(DOMAIN\user)" after it names the user (identity firewall).
void emit_endpoint(std::string_view v, std::string_view side, Event& event) {
  FieldView& f = event.fields;
  StringArena& arena = f.arena();
  const std::size_t space = v.find(' ');
  if (space != std::string_view::npos) v = v.substr(0, space);
  std::string_view iface, ip, port;
  const std::size_t paren = v.find('(');
  std::string_view head = v.substr(0, paren);
  std::string_view paren_text;
  if (paren != std::string_view::npos) {
    const std::size_t close = v.find(')', paren);
    paren_text = v.substr(paren + 1, (close == std::string_view::npos ? v.size() : close) - paren - 1);
    // A user in parentheses anywhere after the address: "(LOCAL\alice)".
    for (std::size_t p = paren; p != std::string_view::npos; p = v.find('(', p + 1)) {
      const std::size_t c = v.find(')', p);
      const std::string_view inner = v.substr(p + 1, (c == std::string_view::npos ? v.size() : c) - p - 1);
      if (inner.find('\\') != std::string_view::npos && f.find("user") == nullptr) f.add("user", inner);
    }
  }
  if (all_digits(paren_text)) {
    const std::size_t slash = head.find('/');
    if (slash != std::string_view::npos) {
      iface = head.substr(0, slash);
      ip = head.substr(slash + 1);
    } else {
      ip = head;
    }
    port = paren_text;
  } else {
    const std::size_t colon = head.find(':');
    if (colon != std::string_view::npos && is_interface_name(head.substr(0, colon))) {
      iface = head.substr(0, colon);
      head = head.substr(colon + 1);
    }
    const std::size_t slash = head.rfind('/');
    ip = head.substr(0, slash);
    if (slash != std::string_view::npos) port = head.substr(slash + 1);
  }
  if (!iface.empty()) f.add(compose(arena, side, '_', "interface"), iface);
  if (!ip.empty()) f.add(compose(arena, side, '_', "ip"), ip);
  if (!port.empty()) f.add(compose(arena, side, '_', "port"), port, all_digits(port) ? ValueKind::kNumber : ValueKind::kString);
}

void emit_captures(const CiscoTemplate& t, const Capture* captures, int count, Event& event) {
  FieldView& f = event.fields;
  bool has_action = false;
  for (int i = 0; i < count; ++i) {
    const Capture& c = captures[i];
    if (c.name == "src" || c.name == "dst") {
      emit_endpoint(c.value, c.name, event);
    } else if (c.name == "action") {
      f.add("action", normalise_action(f.arena(), c.value));
      has_action = true;
    } else {
      f.add(c.name, c.value, all_digits(c.value) ? ValueKind::kNumber : ValueKind::kString);
    }
  }
  if (!has_action && !t.action.empty()) f.add("action", t.action);
}

// Firepower intrusion and connection events (430001-430005): "Key: value, Key: value".
void emit_firepower_pairs(std::string_view text, Event& event) {
  FieldView& f = event.fields;
  std::size_t p = 0;
  while (p < text.size()) {
    const std::size_t colon = text.find(": ", p);
    if (colon == std::string_view::npos) break;
    const std::string_view key = trim(text.substr(p, colon - p));
    std::size_t end = text.find(", ", colon + 2);
    // A value may hold ", " (Message: ...); the next key is one word then ": ".
    while (end != std::string_view::npos) {
      const std::size_t next_colon = text.find(": ", end + 2);
      const std::size_t next_space = text.find(' ', end + 2);
      if (next_colon != std::string_view::npos && next_colon <= next_space) break;
      end = text.find(", ", end + 2);
    }
    const std::string_view value = text.substr(colon + 2, (end == std::string_view::npos ? text.size() : end) - colon - 2);
    if (key.empty() || key.find(' ') != std::string_view::npos) break;
    f.add(key, value);
    if (key == "SrcIP") f.add("src_ip", value);
    else if (key == "DstIP") f.add("dst_ip", value);
    else if (key == "SrcPort") f.add("src_port", value, ValueKind::kNumber);
    else if (key == "DstPort") f.add("dst_port", value, ValueKind::kNumber);
    else if (key == "Protocol") f.add("protocol", value);
    else if (key == "IngressInterface") f.add("src_interface", value);
    else if (key == "EgressInterface") f.add("dst_interface", value);
    else if (key == "User") f.add("user", value);
    else if (key == "AccessControlRuleAction") f.add("action", normalise_action(f.arena(), value));
    if (end == std::string_view::npos) break;
    p = end + 2;
  }
}

// IOS login messages: "Login failed [user: admin] [Source: 10.0.0.1] [localport: 22] ...".
void emit_ios_brackets(std::string_view text, Event& event) {
  FieldView& f = event.fields;
  for (std::size_t p = text.find('['); p != std::string_view::npos; p = text.find('[', p + 1)) {
    const std::size_t close = text.find(']', p);
    if (close == std::string_view::npos) break;
    const std::string_view inner = text.substr(p + 1, close - p - 1);
    const std::size_t colon = inner.find(": ");
    if (colon == std::string_view::npos) continue;
    const std::string_view key = inner.substr(0, colon), value = inner.substr(colon + 2);
    if (key == "user") f.add("user", value);
    else if (key == "Source") f.add("src_ip", value);
    else if (key == "localport") f.add("dst_port", value, ValueKind::kNumber);
    else if (key == "Reason") f.add("reason", value);
  }
}

}  // namespace

std::size_t find_cisco_marker(std::string_view s, std::size_t window) {
  const std::size_t limit = s.size() < window ? s.size() : window;
  CiscoMarker m;
  for (const char* p = static_cast<const char*>(std::memchr(s.data(), '%', limit)); p != nullptr;) {
    const std::size_t at = static_cast<std::size_t>(p - s.data());
    if ((at == 0 || s[at - 1] == ' ' || s[at - 1] == ':') && read_cisco_marker(s, at, &m)) return at;
    if (at + 1 >= limit) break;
    p = static_cast<const char*>(std::memchr(s.data() + at + 1, '%', limit - at - 1));
  }
  return std::string_view::npos;
}

bool parse_cisco(std::string_view line, Event& event) {
  const std::size_t at = find_cisco_marker(line, 1024);
  if (at == std::string_view::npos) return false;
  CiscoMarker m;
  read_cisco_marker(line, at, &m);
  FieldView& f = event.fields;

  // The header before the marker: a syslog header ("<166>May  5 17:51:17 dev01: "), or ASA's
  // own "Apr 15 2013 09:36:50 [host] : " (a year in the stamp, which syslog headers lack), or
  // IOS's "seq: *Mar 24 12:09:35.367 UTC: " after a syslog header.
  std::string_view prefix = line.substr(0, at);
  while (!prefix.empty() && (prefix.back() == ' ' || prefix.back() == ':')) prefix.remove_suffix(1);
  if (!prefix.empty()) {
    SyslogHeader h;
    if (parse_syslog_header(prefix, &h)) {
      if (all_digits(h.program)) h.program = {};  // IOS's sequence number, not a program
      if (h.host.empty() && !h.message.empty() && h.message.find(' ') == std::string_view::npos)
        h.host = h.message;  // "May  5 17:51:17 dev01:" : the host ends with a colon
      emit_syslog_header(h, event, /*pri_prefix=*/true, /*with_message=*/false);
    } else if (month_from_abbrev(prefix) != 0 && prefix.size() >= 20) {
      // "Mmm dd yyyy hh:mm:ss[ ZONE][ host]"
      const std::string_view stamp = prefix.substr(0, 20);
      std::string_view host;
      if (prefix.size() > 21 && prefix[20] == ' ') {
        const std::size_t end = prefix.find(' ', 21);
        const std::string_view word = prefix.substr(21, end == std::string_view::npos ? prefix.size() - 21 : end - 21);
        const bool zone = !word.empty() && word.size() <= 4 && word[0] >= 'A' && word[0] <= 'Z' &&
                          end != std::string_view::npos;
        host = trim(zone ? prefix.substr(end) : word);
        if (zone && host.empty()) host = {};
        if (!zone && end == std::string_view::npos && word.size() <= 4 && word[0] >= 'A' && word[0] <= 'Z' &&
            word.find_first_of("0123456789-.") == std::string_view::npos)
          host = {};  // "... 09:34:34 EDT": a zone, no host
      }
      f.add("timestamp", stamp);
      event.time_text = stamp;
      if (!host.empty()) {
        f.add("host", host);
        event.host = host;
      }
    }
  }

  const std::string_view text = trim_right(line.substr(m.text_start));
  const bool asa = is_asa_family(m.facility);
  f.add("facility", m.facility);
  if (!m.subfacility.empty()) f.add("subfacility", m.subfacility);
  f.add("severity", m.severity, ValueKind::kNumber);
  if (asa) f.add("message_id", m.mnemonic, ValueKind::kNumber);
  else f.add("mnemonic", m.mnemonic);
  f.add("message", text);
  if (text.empty()) {
    note_soft_error(event, ParseErrorKind::kTruncatedRecord);
    return true;
  }

  if (asa && m.mnemonic.substr(0, 4) == "4300") {
    emit_firepower_pairs(text, event);
    return true;
  }
  if (m.facility == "SEC_LOGIN") {
    emit_ios_brackets(text, event);
    return true;
  }
  // The template key: the ASA number, or FACILITY-MNEMONIC for IOS.
  char key_buf[96];
  std::string_view key = m.mnemonic;
  if (!asa && m.facility.size() + 1 + m.mnemonic.size() <= sizeof key_buf) {
    std::memcpy(key_buf, m.facility.data(), m.facility.size());
    key_buf[m.facility.size()] = '-';
    std::memcpy(key_buf + m.facility.size() + 1, m.mnemonic.data(), m.mnemonic.size());
    key = std::string_view(key_buf, m.facility.size() + 1 + m.mnemonic.size());
  }
  Capture captures[16];
  int count = 0;
  for (const CiscoTemplate& t : kCiscoTemplates) {
    if (!template_applies(t.id, key) || !match_layout(t.layout, text, captures, &count)) continue;
    emit_captures(t, captures, count, event);
    break;
  }
  return true;
}

// ---- Palo Alto PAN-OS ---------------------------------------------------------------------------

namespace {

// Column names per log type, from the PAN-OS syslog field descriptions (the leading
// "FUTURE_USE" columns are kept by position and not emitted). THREAT: column 31 is "URL/Filename"
// (`url`), column 32 "Threat/Content Name" (`threat_content_name`, e.g. "Microsoft Exchange ...
// Vulnerability(91368)"); the number in its parentheses is also given as `threat_id`. Only the columns up to the ones
// every PAN-OS version since 8.0 writes are named; later columns are added as `column_<n>`.
constexpr std::string_view kPanTraffic[] = {
    "", "receive_time", "serial", "type", "subtype", "", "generated_time", "src_ip", "dst_ip",
    "nat_src_ip", "nat_dst_ip", "rule", "src_user", "dst_user", "application", "vsys",
    "src_zone", "dst_zone", "src_interface", "dst_interface", "log_action", "", "session_id",
    "repeat_count", "src_port", "dst_port", "nat_src_port", "nat_dst_port", "flags", "protocol",
    "action", "bytes", "bytes_sent", "bytes_received", "packets", "start_time", "elapsed_time",
    "category", "", "sequence_number", "action_flags", "src_location", "dst_location", "",
    "packets_sent", "packets_received", "session_end_reason"};
constexpr std::string_view kPanThreat[] = {
    "", "receive_time", "serial", "type", "subtype", "", "generated_time", "src_ip", "dst_ip",
    "nat_src_ip", "nat_dst_ip", "rule", "src_user", "dst_user", "application", "vsys",
    "src_zone", "dst_zone", "src_interface", "dst_interface", "log_action", "", "session_id",
    "repeat_count", "src_port", "dst_port", "nat_src_port", "nat_dst_port", "flags", "protocol",
    "action", "url", "threat_content_name", "category", "severity", "direction",
    "sequence_number", "action_flags", "src_location", "dst_location", "", "content_type",
    "pcap_id", "file_digest", "cloud", "url_index", "user_agent", "file_type", "x_forwarded_for",
    "referer", "sender", "subject", "recipient", "report_id"};
constexpr std::string_view kPanSystem[] = {
    "", "receive_time", "serial", "type", "subtype", "", "generated_time", "vsys", "event_id",
    "object", "", "", "module", "severity", "description", "sequence_number", "action_flags"};
constexpr std::string_view kPanConfig[] = {
    "", "receive_time", "serial", "type", "subtype", "", "generated_time", "host", "vsys",
    "command", "admin", "client", "result", "configuration_path", "sequence_number",
    "action_flags", "before_change_detail", "after_change_detail"};
constexpr std::string_view kPanGlobalProtect[] = {
    "", "receive_time", "serial", "type", "log_subtype", "", "generated_time", "vsys",
    "event_id", "stage", "auth_method", "tunnel_type", "src_user", "src_region", "machine_name",
    "public_ip", "public_ipv6", "private_ip", "private_ipv6", "host_id", "serial_number",
    "client_ver", "client_os", "client_os_ver", "repeat_count", "reason", "error", "description",
    "status", "location", "login_duration", "connect_method", "error_code", "portal",
    "sequence_number", "action_flags"};

struct PanType {
  std::string_view name;
  const std::string_view* columns;
  std::size_t count;
  std::size_t min_columns;  // fewer means a truncated or foreign record
};
constexpr PanType kPanTypes[] = {
    {"TRAFFIC", kPanTraffic, std::size(kPanTraffic), 34},
    {"THREAT", kPanThreat, std::size(kPanThreat), 36},
    {"SYSTEM", kPanSystem, std::size(kPanSystem), 15},
    {"CONFIG", kPanConfig, std::size(kPanConfig), 13},
    {"GLOBALPROTECT", kPanGlobalProtect, std::size(kPanGlobalProtect), 30},
};

const PanType* find_pan_type(std::string_view type) {
  for (const PanType& t : kPanTypes)
    if (t.name == type) return &t;
  return nullptr;
}

// Known log types without a column table here: recognised, emitted as column_<n>.
bool is_other_pan_type(std::string_view type) {
  return type == "HIPMATCH" || type == "USERID" || type == "DECRYPTION" || type == "AUTH" ||
         type == "CORRELATION" || type == "IPTAG" || type == "GTP" || type == "SCTP" ||
         type == "TUNNEL";
}

// The next CSV column at s[*p]: PAN-OS quotes a column that holds a comma, doubling any quote.
std::string_view next_csv_column(std::string_view s, std::size_t* p, StringArena& arena, bool* more) {
  std::size_t i = *p;
  std::string_view v;
  if (i < s.size() && s[i] == '"') {
    const std::size_t start = ++i;
    bool doubled = false;
    while (i < s.size()) {
      if (s[i] == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') {
          doubled = true;
          i += 2;
          continue;
        }
        break;
      }
      ++i;
    }
    v = s.substr(start, i - start);
    if (doubled) {
      char* out = arena.allocate(v.size());
      std::size_t o = 0;
      for (std::size_t k = 0; k < v.size(); ++k) {
        out[o++] = v[k];
        if (v[k] == '"' && k + 1 < v.size() && v[k + 1] == '"') ++k;
      }
      v = std::string_view(out, o);
    }
    if (i < s.size()) ++i;  // closing quote
  } else {
    const std::size_t start = i;
    while (i < s.size() && s[i] != ',') ++i;
    v = s.substr(start, i - start);
  }
  *more = i < s.size() && s[i] == ',';
  *p = *more ? i + 1 : s.size();
  return v;
}

// The 4th column (log type) of a PAN-OS record, or "" when `s` does not start like one:
// "<digits>,<yyyy/mm/dd or yyyy-mm-dd...>,<serial>,<TYPE>,".
std::string_view panos_type(std::string_view s) {
  std::size_t p = 0;
  while (p < s.size() && is_digit(s[p])) ++p;
  if (p == 0 || p >= s.size() || s[p] != ',') return {};
  ++p;
  if (p + 11 > s.size() || !is_digit(s[p]) || !is_digit(s[p + 3]) || (s[p + 4] != '/' && s[p + 4] != '-'))
    return {};
  const std::size_t c1 = s.find(',', p);
  if (c1 == std::string_view::npos) return {};
  const std::size_t c2 = s.find(',', c1 + 1);
  if (c2 == std::string_view::npos || c2 - c1 > 64) return {};
  const std::size_t c3 = s.find(',', c2 + 1);
  if (c3 == std::string_view::npos || c3 - c2 > 24) return {};
  const std::string_view type = s.substr(c2 + 1, c3 - c2 - 1);
  return find_pan_type(type) != nullptr || is_other_pan_type(type) ? type : std::string_view{};
}

// The PAN-OS record inside a syslog message: "Oct 30 09:46:12 1,2012/..." (no host) or
// "Nov 30 16:44:36 PA-220 1,2018/...".
std::size_t panos_start(std::string_view line, SyslogHeader* h, bool* has_header) {
  *has_header = false;
  if (!panos_type(line).empty()) return 0;
  if (!parse_syslog_header(line, h)) return std::string_view::npos;
  *has_header = true;
  std::string_view msg = h->message;
  if (!h->host.empty() && panos_type(msg).empty()) {
    // The record's first column may have been read as the host ("Oct 30 09:46:12 1,2012/...").
    const std::size_t at = static_cast<std::size_t>(h->host.data() - line.data());
    if (!panos_type(line.substr(at)).empty()) {
      h->host = {};
      h->program = {};
      h->pid = {};
      return at;
    }
  }
  if (panos_type(msg).empty()) return std::string_view::npos;
  return static_cast<std::size_t>(msg.data() - line.data());
}

}  // namespace

bool looks_like_panos(std::string_view s) { return !panos_type(s).empty(); }

bool parse_panos(std::string_view line, Event& event) {
  SyslogHeader h;
  bool has_header = false;
  std::size_t start = panos_start(line, &h, &has_header);
  if (start == std::string_view::npos) return false;
  FieldView& f = event.fields;
  if (has_header) emit_syslog_header(h, event, /*pri_prefix=*/true, /*with_message=*/false);
  while (start < line.size() && line[start] == ' ') ++start;
  const std::string_view csv = line.substr(start);
  const std::string_view type = panos_type(csv);
  const PanType* table = find_pan_type(type);
  std::size_t p = 0, column = 0;
  bool more = true;
  std::string_view generated, receive, device_name, threat_name;
  while (more) {
    const std::string_view v = next_csv_column(csv, &p, f.arena(), &more);
    const std::size_t i = column++;
    if (v.empty()) continue;
    std::string_view name;
    if (table != nullptr && i < table->count) {
      name = table->columns[i];
      if (name.empty()) continue;  // FUTURE_USE
    } else {
      char buf[24];
      std::memcpy(buf, "column_", 7);
      std::size_t len = 7;
      char digits[20];
      std::size_t nd = 0;
      for (std::size_t k = i; nd == 0 || k > 0; k /= 10) digits[nd++] = static_cast<char>('0' + k % 10);
      while (nd > 0) buf[len++] = digits[--nd];
      name = f.arena().copy(std::string_view(buf, len));
    }
    f.add(name, v, all_digits(v) ? ValueKind::kNumber : ValueKind::kString);
    if (name == "generated_time") generated = v;
    else if (name == "receive_time") receive = v;
    else if (name == "device_name") device_name = v;
    else if (name == "threat_content_name") threat_name = v;
  }
  // The threat ID PAN-OS appends to the name, "...(91368)": rules and Palo Alto's advisories
  // name threats by it.
  if (threat_name.size() > 2 && threat_name.back() == ')') {
    const std::size_t open = threat_name.rfind('(');
    const std::string_view id =
        open == std::string_view::npos ? std::string_view() : threat_name.substr(open + 1, threat_name.size() - open - 2);
    if (!id.empty() && all_digits(id)) f.add("threat_id", id, ValueKind::kNumber);
  }
  if (table != nullptr && column < table->min_columns) note_soft_error(event, ParseErrorKind::kFieldCount);
  // PAN-OS times are "yyyy/mm/dd hh:mm:ss" in the firewall's zone (taken as UTC here), or
  // RFC 3339 in newer formats.
  const std::string_view when = !generated.empty() ? generated : receive;
  if (!when.empty()) {
    event.time_text = when;
    std::int64_t ns = 0;
    if (when.size() >= 19 && when[4] == '/' && when[7] == '/') {
      char iso[19];
      std::memcpy(iso, when.data(), 19);
      iso[4] = iso[7] = '-';
      if (match_iso8601(std::string_view(iso, 19), &ns) == 19) event.time_unix_ns = ns;
    } else if (match_iso8601(when, &ns) != 0) {
      event.time_unix_ns = ns;
    }
  }
  if (!device_name.empty() && event.host.empty()) event.host = device_name;
  return true;
}

// ---- LEEF ---------------------------------------------------------------------------------------

namespace {

// LEEF 2.0's delimiter: one character, or "0x09" / "x09" hex notation.
char leef_delimiter(std::string_view spec) {
  if (spec.size() == 1) return spec[0];
  std::string_view hex = spec;
  if (hex.substr(0, 2) == "0x" || hex.substr(0, 2) == "0X") hex.remove_prefix(2);
  else if (!hex.empty() && (hex[0] == 'x' || hex[0] == 'X')) hex.remove_prefix(1);
  if (hex.empty() || hex.size() > 2) return 0;
  int v = 0;
  for (char c : hex) {
    const char l = static_cast<char>(c | 0x20);
    if (is_digit(c)) v = v * 16 + (c - '0');
    else if (l >= 'a' && l <= 'f') v = v * 16 + (l - 'a' + 10);
    else return 0;
  }
  return static_cast<char>(v);
}

constexpr std::string_view kLeefHeaderNames[5] = {"leef_version", "device_vendor", "device_product",
                                                  "device_version", "event_id"};

}  // namespace

bool parse_leef(std::string_view line, Event& event) {
  std::size_t at = line.substr(0, 1024).find("LEEF:");
  if (at == std::string_view::npos) return false;
  FieldView& f = event.fields;
  if (at > 0) {
    SyslogHeader h;
    if (parse_syslog_header(trim_right(line.substr(0, at)), &h))
      emit_syslog_header(h, event, /*pri_prefix=*/true, /*with_message=*/false);
  }
  const std::string_view leef = line.substr(at + 5);
  // Header: Version|Vendor|Product|Version|EventID|  (2.0 adds DelimiterCharacter|)
  std::size_t p = 0;
  std::string_view header[6];
  std::size_t fields = 0;
  const bool v2 = leef.substr(0, 1) == "2";
  const std::size_t want = v2 ? 6 : 5;
  while (fields < want) {
    const std::size_t bar = leef.find('|', p);
    if (bar == std::string_view::npos) {
      if (p < leef.size()) header[fields++] = leef.substr(p);  // a header cut short: keep its last column
      p = leef.size();
      break;
    }
    header[fields++] = leef.substr(p, bar - p);
    p = bar + 1;
  }
  for (std::size_t i = 0; i < fields && i < 5; ++i)
    f.add(kLeefHeaderNames[i], header[i], i == 0 ? ValueKind::kNumber : ValueKind::kString);
  if (fields < want) {
    // LEEF 2.0 without the delimiter column (allowed: tab by default) still has 5 bars.
    if (!(v2 && fields == 5)) {
      note_soft_error(event, ParseErrorKind::kTruncatedRecord);
      return true;
    }
  }
  char delimiter = '\t';
  if (v2 && fields == 6) {
    delimiter = header[5].empty() ? '\t' : leef_delimiter(header[5]);
    if (delimiter == 0) {
      note_soft_error(event, ParseErrorKind::kTruncatedRecord);
      return true;
    }
  }
  // Attributes: key=value separated by the delimiter (LEEF 1.0: tab). Values may hold '='.
  const std::string_view attrs = leef.substr(p);
  std::string_view dev_time;
  std::size_t a = 0;
  while (a < attrs.size()) {
    std::size_t end = attrs.find(delimiter, a);
    if (end == std::string_view::npos) end = attrs.size();
    const std::string_view pair = attrs.substr(a, end - a);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && eq > 0) {
      const std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
      f.add(key, value);
      if (key == "devTime") dev_time = value;
      else if (key == "identHostName" && event.host.empty()) event.host = value;
    }
    a = end + 1;
  }
  if (!dev_time.empty()) {
    event.time_text = dev_time;
    std::int64_t ns = 0;
    if (parse_epoch(dev_time, &ns) || match_iso8601(dev_time, &ns) == dev_time.size()) event.time_unix_ns = ns;
  }
  return true;
}

// ---- SonicWall ------------------------------------------------------------------------------------

void add_sonicwall_endpoints(Event& event) {
  FieldView& f = event.fields;
  if (f.find("sn") == nullptr || f.find("fw") == nullptr) return;
  // "src=2.2.2.2:36701:WAN": address, port and interface in one value.
  for (std::string_view side : {std::string_view("src"), std::string_view("dst")}) {
    const Field* v = f.find(side);
    if (v == nullptr) continue;
    const std::string_view value = v->value;
    const std::size_t c1 = value.find(':');
    if (c1 == std::string_view::npos || value.find(':', c1 + 1) == std::string_view::npos) continue;
    const std::size_t c2 = value.find(':', c1 + 1);
    StringArena& arena = f.arena();
    f.add(compose(arena, side, '_', "ip"), value.substr(0, c1));
    f.add(compose(arena, side, '_', "port"), value.substr(c1 + 1, c2 - c1 - 1), ValueKind::kNumber);
    if (c2 + 1 < value.size()) f.add(compose(arena, side, '_', "interface"), value.substr(c2 + 1));
  }
}

// ---- Check Point --------------------------------------------------------------------------------

bool emit_checkpoint_pairs(std::string_view s, Event& event) {
  s = trim(s);
  if (s.size() < 2 || s.front() != '[' || s.back() != ']' || s.find(":\"") == std::string_view::npos)
    return false;
  s = s.substr(1, s.size() - 2);
  FieldView& f = event.fields;
  std::size_t p = 0;
  while (p < s.size()) {
    while (p < s.size() && (s[p] == ' ' || s[p] == ';')) ++p;
    const std::size_t colon = s.find(":\"", p);
    if (colon == std::string_view::npos) break;
    const std::string_view key = s.substr(p, colon - p);
    bool escaped = false;
    const std::size_t close = find_closing_quote(s, colon + 2, &escaped);
    std::string_view value = s.substr(colon + 2, (close < s.size() ? close : s.size()) - colon - 2);
    if (escaped) {
      // Check Point escapes '"', '\' and ']' with a backslash.
      char* out = f.arena().allocate(value.size());
      std::size_t o = 0;
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        out[o++] = value[i];
      }
      value = std::string_view(out, o);
    }
    f.add(key, value);
    p = close + 1;
  }
  return true;
}

}  // namespace vigil::parse::internal
