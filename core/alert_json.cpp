#include "core/alert_json.h"

#include "core/json_text.h"
#include "core/time_text.h"

namespace vigil {

namespace {
void key(std::string& out, const char* k) {
  out += '"';
  out += k;
  out += "\":";
}
void fields(std::string& out, const std::vector<AlertField>& list, bool as_object) {
  out += as_object ? '{' : '[';
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ',';
    if (as_object) {
      append_json_string(out, list[i].name);
      out += ':';
      append_json_string(out, list[i].value);
    } else {
      out += "{\"field\":";
      append_json_string(out, list[i].name);
      out += ",\"value\":";
      append_json_string(out, list[i].value);
      out += '}';
    }
  }
  out += as_object ? '}' : ']';
}
}  // namespace

void append_attack_json(std::string& out, const std::vector<std::string>& tactics,
                        const std::vector<std::string>& techniques) {
  if (tactics.empty() && techniques.empty()) return;
  auto list = [&out](const std::vector<std::string>& items) {
    out += '[';
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, items[i]);
    }
    out += ']';
  };
  out += ',', key(out, "attack");
  out += '{';
  key(out, "tactics"), list(tactics);
  out += ',', key(out, "techniques"), list(techniques);
  out += '}';
}

void append_alert_json(std::string& out, const Alert& a) {
  out += '{';
  key(out, "id"), append_json_string(out, a.id);
  out += ',', key(out, "created"), append_json_string(out, format_rfc3339_ns(a.created_unix_ns));
  out += ',', key(out, "received"), append_json_string(out, format_rfc3339_ns(a.received_unix_ns));
  out += ',', key(out, "event_time"), append_json_string(out, a.event_time);
  out += ',', key(out, "rule");
  out += '{';
  key(out, "id"), append_json_string(out, a.rule_id);
  out += ',', key(out, "title"), append_json_string(out, a.rule_title);
  out += ',', key(out, "level"), append_json_string(out, to_string(a.level));
  out += ',', key(out, "tags");
  out += '[';
  for (std::size_t i = 0; i < a.tags.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, a.tags[i]);
  }
  out += ']';
  out += ',', key(out, "path"), append_json_string(out, a.rule_path);
  out += '}';
  append_attack_json(out, a.attack_tactics, a.attack_techniques);
  out += ',', key(out, "tenant"), append_json_string(out, a.tenant);
  out += ',', key(out, "system"), append_json_string(out, a.system);
  out += ',', key(out, "host"), append_json_string(out, a.host);
  out += ',', key(out, "collector"), append_json_string(out, a.collector);
  out += ',', key(out, "peer"), append_json_string(out, a.peer);
  out += ',', key(out, "record"), out += std::to_string(a.record_no);
  out += ',', key(out, "format"), append_json_string(out, a.format);
  out += ',', key(out, "matched"), fields(out, a.matched, false);
  out += ',', key(out, "fields"), fields(out, a.fields, true);
  out += ',', key(out, "raw"), append_json_string(out, a.raw);
  out += ',', key(out, "status"), append_json_string(out, to_string(a.status));
  out += ',', key(out, "resolution"), append_json_string(out, to_string(a.resolution));
  out += ',', key(out, "assignee"), append_json_string(out, a.assignee);
  out += ',', key(out, "count"), out += std::to_string(a.count);
  out += '}';
}

}  // namespace vigil
