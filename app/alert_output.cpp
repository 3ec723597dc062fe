#include "app/alert_output.h"

#include "core/alert_json.h"
#include "core/json_text.h"

#include <fmt/format.h>

namespace vigil::app {

void append_alert_head(std::string& out, std::string_view id, std::string_view title, std::string_view level,
                       const std::vector<std::string>& tags, std::string_view path, const rules::AttackView& attack,
                       std::string_view time, std::string_view host) {
  out += "{\"rule\":{\"id\":";
  append_json_string(out, id);
  out += ",\"title\":";
  append_json_string(out, title);
  out += ",\"level\":";
  append_json_string(out, level);
  out += ",\"tags\":[";
  for (std::size_t i = 0; i < tags.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, tags[i]);
  }
  out += "],\"path\":";
  append_json_string(out, path);
  out += '}';
  append_attack_json(out, attack.tactics, attack.techniques);
  out += ",\"time\":";
  append_json_string(out, time);
  out += ",\"host\":";
  append_json_string(out, host);
}

void append_alert_json(std::string& out, const rules::SigmaRule& rule, const Event& event,
                       const rules::RuleMatch& match, std::size_t* record_at) {
  append_alert_head(out, rule.id, rule.title, rule.level, rule.tags, rule.path, rule.attack, event.time_text,
                    event.host);
  out += ",\"source\":{\"file\":";
  append_json_string(out, event.source);
  out += ",\"record\":";
  if (record_at) *record_at = out.size();
  out += std::to_string(event.record_no);
  out += '}';
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
