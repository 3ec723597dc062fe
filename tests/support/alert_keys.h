#pragma once
// Reduces alerts to comparable keys "<rule id> <raw event>", from `vigil alerts list --json`
// (stored alerts) and from `vigil scan` JSON lines, so a test can check that the daemon stored
// exactly what an offline scan of the same lines finds.
#include <simdjson.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::testing {

// From `vigil alerts list --json`: {"rule":{"id":...},"raw":"..."}.
inline std::vector<std::string> stored_alert_keys(const std::vector<std::string>& json_lines) {
  simdjson::ondemand::parser parser;
  std::vector<std::string> keys;
  for (const std::string& line : json_lines) {
    simdjson::padded_string padded(line);
    auto doc = parser.iterate(padded);
    std::string_view id = doc["rule"]["id"].get_string().value();
    std::string_view raw = doc["raw"].get_string().value();
    keys.push_back(std::string(id) + " " + std::string(raw));
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

// From `vigil scan` output: {"rule":{"id":...},...,"event":<object or string>}.
inline std::vector<std::string> scan_alert_keys(const std::string& scan_output) {
  simdjson::ondemand::parser parser;
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (start < scan_output.size()) {
    std::size_t end = scan_output.find('\n', start);
    if (end == std::string::npos) end = scan_output.size();
    std::string line = scan_output.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    simdjson::padded_string padded(line);
    auto doc = parser.iterate(padded);
    std::string id(doc["rule"]["id"].get_string().value());
    auto event = doc["event"];
    std::string raw;
    if (event.type().value() == simdjson::ondemand::json_type::string) raw = std::string(event.get_string().value());
    else raw = std::string(simdjson::to_json_string(event).value());
    keys.push_back(id + " " + raw);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

// The multiset difference of two sorted key lists, for failure messages ("" when equal).
inline std::string key_diff(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  std::vector<std::string> extra, missing;
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
  std::string out;
  auto list = [&](const char* what, const std::vector<std::string>& v) {
    if (v.empty()) return;
    out += std::string(what) + " (" + std::to_string(v.size()) + "):\n";
    for (std::size_t i = 0; i < v.size() && i < 20; ++i) out += "  " + v[i].substr(0, 300) + "\n";
  };
  list("unexpected", extra);
  list("missing", missing);
  return out;
}

}  // namespace vigil::testing
