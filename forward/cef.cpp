#include "forward/cef.h"

#include "core/time_text.h"

namespace vigil::forward {

namespace {

constexpr int kFacilityLocal4 = 20;

int syslog_severity(AlertLevel level) {
  switch (level) {
    case AlertLevel::kCritical: return 2;
    case AlertLevel::kHigh: return 3;
    case AlertLevel::kMedium: return 4;
    case AlertLevel::kLow: return 5;
    case AlertLevel::kInformational: return 6;
  }
  return 6;
}

void add(std::string& out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  if (out.back() != '|') out.push_back(' ');
  out.append(key);
  out.push_back('=');
  out += cef_escape_extension(value);
}

std::string join(const std::vector<std::string>& items, char sep) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out.push_back(sep);
    out += s;
  }
  return out;
}

}  // namespace

int cef_severity(AlertLevel level) {
  switch (level) {
    case AlertLevel::kCritical: return 10;
    case AlertLevel::kHigh: return 8;
    case AlertLevel::kMedium: return 5;
    case AlertLevel::kLow: return 3;
    case AlertLevel::kInformational: return 1;
  }
  return 1;
}

std::string cef_escape_header(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || c == '|') out.push_back('\\');
    if (c == '\r' || c == '\n') c = ' ';  // a header field has no escape for line breaks
    out.push_back(c);
  }
  return out;
}

std::string cef_escape_extension(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '=': out += "\\="; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string format_cef(const Alert& a) {
  std::string out = "CEF:0|vigil|vigil|0.1.0|";
  out += cef_escape_header(a.rule_id);
  out.push_back('|');
  out += cef_escape_header(a.rule_title);
  out.push_back('|');
  out += std::to_string(cef_severity(a.level));
  out.push_back('|');
  add(out, "externalId", a.id);
  add(out, "rt", std::to_string(a.created_unix_ns / 1000000));
  if (a.event_unix_ns > 0) add(out, "start", std::to_string(a.event_unix_ns / 1000000));
  add(out, "cat", to_string(a.level));
  add(out, "dhost", a.host);
  add(out, "dvchost", a.peer);
  add(out, "deviceFacility", a.collector);
  add(out, "cs1Label", "tenant");
  add(out, "cs1", a.tenant);
  add(out, "cs2Label", "system");
  add(out, "cs2", a.system);
  add(out, "cs3Label", "tags");
  add(out, "cs3", join(a.tags, ','));
  add(out, "cs4Label", "matched");
  std::string matched;
  for (const AlertField& f : a.matched) {
    if (!matched.empty()) matched.push_back(';');
    matched += f.name + ":" + f.value;
  }
  add(out, "cs4", matched);
  add(out, "cs5Label", "rulePath");
  add(out, "cs5", a.rule_path);
  if (!a.attack_techniques.empty()) {
    // Both ATT&CK revisions of each technique, so a SIEM rule on either id sees the alert.
    add(out, "cs6Label", "attackTechniques");
    add(out, "cs6", join(a.attack_techniques, ','));
  }
  add(out, "msg", a.raw);
  return out;
}

std::string format_rfc5424(const Alert& a, std::string_view hostname) {
  std::string out = "<" + std::to_string(kFacilityLocal4 * 8 + syslog_severity(a.level)) + ">1 ";
  std::string ts = format_rfc3339_ns(a.created_unix_ns);
  if (ts.size() > 27) ts = ts.substr(0, 26) + "Z";  // RFC 5424 allows at most 6 fraction digits
  out += ts.empty() ? "-" : ts;
  out.push_back(' ');
  std::string host(hostname.empty() ? "-" : hostname.substr(0, 255));
  for (char& c : host)
    if (c <= ' ' || c > '~') c = '_';  // PRINTUSASCII only
  out += host;
  out += " vigil - alert - ";
  out += format_cef(a);
  return out;
}

void append_octet_counted(std::string& out, std::string_view message) {
  out += std::to_string(message.size());
  out.push_back(' ');
  out.append(message);
}

}  // namespace vigil::forward
