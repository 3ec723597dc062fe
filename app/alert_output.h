#pragma once
// Alert writers for `vigil scan`: JSON lines (one object per alert) and a table for people.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "rules/matcher.h"

namespace vigil::app {


// One alert as a single-line JSON object:
// {"rule":{"id","title","level","tags","path"},"attack":{...},"time","host","source":{"file","record"},
//  "format","matched":[{"field","value"}],"event":<the JSON event or the raw line>,
//  "fields":{...parsed fields of a text record...}}
// The start every alert line shares: {"rule":{"id","title","level","tags","path"},
// "attack":{"tactics","techniques"} (when either is set; core/alert_json.h),"time","host"
// (the object is left open for the caller's other members).
void append_alert_head(std::string& out, std::string_view id, std::string_view title, std::string_view level,
                       const std::vector<std::string>& tags, std::string_view path, const rules::AttackView& attack,
                       std::string_view time, std::string_view host);

// `record_at` (when not null): set to the position in `out` of the record number's first digit
// (`vigil scan --threads` renumbers the alerts of a file's later ranges when it joins them).
void append_alert_json(std::string& out, const rules::SigmaRule& rule, const Event& event,
                       const rules::RuleMatch& match, std::size_t* record_at = nullptr);

// One alert as a fixed-width table row (time, level, host, rule title, first matched field).
void append_alert_row(std::string& out, const rules::SigmaRule& rule, const Event& event,
                      const rules::RuleMatch& match);
std::string table_header();

}  // namespace vigil::app
