// parse::source_name: who sent a record (see parser.h).
#include "core/parse/parser.h"
#include "core/parse/parsers_internal.h"

namespace vigil::parse {

namespace {

std::string_view field(const Event& event, std::string_view name) {
  const Field* f = event.fields.find(name);
  return f == nullptr ? std::string_view{} : f->value;
}

// Matching rules ask for these three Windows events anyway (rules/packs/windows); the source
// list must show them whatever the rule set.
std::string_view windows_tamper(std::string_view channel, std::string_view event_id) {
  if (event_id == "1102" && (channel.empty() || channel == "Security")) return "log cleared";
  if (event_id == "104" && (channel.empty() || channel == "System")) return "log cleared";
  if (event_id == "4719" && (channel.empty() || channel == "Security")) return "audit policy changed";
  return {};
}

}  // namespace

SourceName source_name(const Event& event) {
  SourceName out;
  out.host = event.host;
  if (event.format == LogFormat::kJson || event.format == LogFormat::kWinXml) {
    const std::string_view channel = field(event, "Channel");
    out.program = channel;
    if (out.program.empty()) out.program = field(event, "program");
    const std::string_view event_id = field(event, "EventID");
    if (!event_id.empty()) out.tamper = windows_tamper(channel, event_id);
    return out;
  }
  out.program = field(event, "program");
  if (!out.host.empty() || !out.program.empty()) return out;
  // Not parsed (no rule needed its fields): the syslog header, which every syslog-borne format
  // (BSD, RFC 5424, and CEF, key=value or Cisco lines behind one) starts with.
  internal::SyslogHeader h;
  if (internal::parse_syslog_header(internal::strip_line_end(event.raw), &h)) {
    out.host = h.host;
    out.program = h.program;
  }
  return out;
}

}  // namespace vigil::parse
