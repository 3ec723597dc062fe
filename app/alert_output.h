#pragma once
// Alert writers for `vigil scan`: JSON lines (one object per alert) and a table for people.
#include <cstdio>
#include <string>
#include <string_view>

#include "core/event.h"
#include "rules/matcher.h"

namespace vigil::app {

// Appends `s` to `out` as a JSON string literal (quotes included). Bytes that are not valid
// UTF-8 become U+FFFD, so the output is always valid JSON whatever the input held.
void append_json_string(std::string& out, std::string_view s);

// One alert as a single-line JSON object:
// {"rule":{"id","title","level","tags","path"},"time","host","source":{"file","record"},
//  "format","matched":[{"field","value"}],"event":<the JSON event or the raw line>,
//  "fields":{...parsed fields of a text record...}}
void append_alert_json(std::string& out, const rules::SigmaRule& rule, const Event& event,
                       const rules::RuleMatch& match);

// One alert as a fixed-width table row (time, level, host, rule title, first matched field).
void append_alert_row(std::string& out, const rules::SigmaRule& rule, const Event& event,
                      const rules::RuleMatch& match);
std::string table_header();

}  // namespace vigil::app
