#include "core/alert_json.h"

#include <limits>

#include <ctime>

#include "core/json_text.h"

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

std::string format_rfc3339_ns(std::int64_t unix_ns) {
  if (unix_ns <= 0) return "";
  std::time_t secs = static_cast<std::time_t>(unix_ns / 1000000000);
  long nanos = static_cast<long>(unix_ns % 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
  return buf;
}

bool parse_rfc3339_ns(std::string_view s, std::int64_t* unix_ns) {
  auto digits = [&](std::size_t pos, std::size_t n, int* out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int Y, M, D, h, m, sec;
  if (!digits(0, 4, &Y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, &M) || s[7] != '-' || !digits(8, 2, &D) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &m) ||
      s[16] != ':' || !digits(17, 2, &sec))
    return false;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return false;
  std::size_t pos = 19;
  std::int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    int n = 0;
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 9) frac = frac * 10 + (s[pos] - '0'), ++n;
      ++pos;
    }
    if (n == 0) return false;
    while (n++ < 9) frac *= 10;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int oh, om;
    if (!digits(pos + 1, 2, &oh) || !digits(pos + 4, 2, &om)) return false;
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  std::tm tm{};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1000000000 - 1;
  const std::int64_t secs = static_cast<std::int64_t>(timegm(&tm)) - offset_s;
  // Clamped at both ends: nanoseconds since 1970 in an int64 span only the years 1677-2262, and
  // a time outside them (say "1610-05-01T02:45:40Z", from a receiver's payload) must not
  // overflow the multiplication.
  if (secs >= kMaxSeconds) {
    *unix_ns = std::numeric_limits<std::int64_t>::max();
  } else if (secs <= -kMaxSeconds) {
    *unix_ns = std::numeric_limits<std::int64_t>::min();
  } else {
    *unix_ns = secs * 1000000000LL + frac;
  }
  return true;
}

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
