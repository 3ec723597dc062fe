#include "app/alert_output.h"

#include "core/json_text.h"

#include <fmt/format.h>

namespace vigil::app {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s, InvalidUtf8::kReplace);
  out += '"';
}

void append_alert_json(std::string& out, const rules::SigmaRule& rule, const Event& event,
                       const rules::RuleMatch& match) {
  out += "{\"rule\":{\"id\":";
  append_json_string(out, rule.id);
  out += ",\"title\":";
  append_json_string(out, rule.title);
  out += ",\"level\":";
  append_json_string(out, rule.level);
  out += ",\"tags\":[";
  for (std::size_t i = 0; i < rule.tags.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, rule.tags[i]);
  }
  out += "],\"path\":";
  append_json_string(out, rule.path);
  out += "},\"time\":";
  append_json_string(out, event.time_text);
  out += ",\"host\":";
  append_json_string(out, event.host);
  out += ",\"source\":{\"file\":";
  append_json_string(out, event.source);
  out += fmt::format(",\"record\":{}}}", event.record_no);
  out += ",\"format\":";
  append_json_string(out, to_string(event.format));
  out += ",\"matched\":[";
  for (std::size_t i = 0; i < match.matched.size(); ++i) {
    if (i) out += ',';
    out += "{\"field\":";
    append_json_string(out, match.matched[i].field.empty() ? std::string_view("(keyword)")
                                                           : match.matched[i].field);
    out += ",\"value\":";
    append_json_string(out, match.matched[i].value);
    out += '}';
  }
  out += "],\"event\":";
  if (event.format == LogFormat::kJson && event.parse_error == ParseErrorKind::kNone) {
    // The record parsed as JSON, so it is valid JSON; only its layout whitespace may hold line
    // breaks (inside strings they are escaped), and JSON lines need one line per alert.
    for (char c : event.raw) out += (c == '\n' || c == '\r') ? ' ' : c;
  } else {
    append_json_string(out, event.raw);
    out += ",\"fields\":{";
    bool first = true;
    for (const Field& f : event.fields.fields()) {
      if (!f.name.empty() && f.name[0] == '_') continue;
      if (!first) out += ',';
      first = false;
      append_json_string(out, f.name);
      out += ':';
      append_json_string(out, f.value);
    }
    out += '}';
  }
  out += "}\n";
}

std::string table_header() {
  return fmt::format("{:<27} {:<8} {:<20} {:<50} {}\n", "TIME", "LEVEL", "HOST", "RULE",
                     "MATCHED");
}

void append_alert_row(std::string& out, const rules::SigmaRule& rule, const Event& event,
                      const rules::RuleMatch& match) {
  auto clip = [](std::string_view s, std::size_t n) {
    std::string r;
    for (char c : s.substr(0, n)) r += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    if (s.size() > n) r += "...";
    return r;
  };
  std::string matched;
  if (!match.matched.empty()) {
    const rules::MatchedField& m = match.matched.front();
    matched = m.field.empty() ? clip(m.value, 60) : std::string(m.field) + "=" + clip(m.value, 60);
  }
  out += fmt::format("{:<27} {:<8} {:<20} {:<50} {}\n", clip(event.time_text, 27), rule.level,
                     clip(event.host, 20), clip(rule.title, 47), matched);
}

}  // namespace vigil::app
