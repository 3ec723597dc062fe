#pragma once
// The JSON form of a stored alert: `vigil alerts list --json`, the REST API, the forwarders.
#include <cstdint>
#include <string>
#include <vector>

#include "core/alert.h"

namespace vigil {

// One alert as a single-line JSON object (no trailing newline):
// {"id","created","received","event_time","rule":{"id","title","level","tags","path"},
//  "attack":{"tactics":[...],"techniques":[...]} (only when the alert has either),
//  "tenant","system","host","collector","peer","record","format","matched":[{"field","value"}],
//  "fields":{...},"raw","status","resolution","assignee","count"}
// Times are RFC 3339 UTC with nanoseconds (format_rfc3339_ns, core/time_text.h). Invalid UTF-8
// in any value becomes U+FFFD.
void append_alert_json(std::string& out, const Alert& alert);

// `,"attack":{"tactics":[...],"techniques":[...]}`, nothing when both lists are empty. Shared by
// every alert writer (the store's JSON above, `vigil scan`'s lines).
void append_attack_json(std::string& out, const std::vector<std::string>& tactics,
                        const std::vector<std::string>& techniques);

}  // namespace vigil
