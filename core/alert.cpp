#include "core/alert.h"

#include "core/ascii.h"

namespace vigil {

namespace {
const char* const kLevelNames[] = {"informational", "low", "medium", "high", "critical"};
const char* const kStatusNames[] = {"new", "acknowledged", "in_progress", "closed"};
const char* const kResolutionNames[] = {"", "true_positive", "false_positive", "benign", "duplicate"};
}  // namespace

const char* to_string(AlertLevel level) { return kLevelNames[static_cast<int>(level) % 5]; }

bool parse_alert_level(std::string_view text, AlertLevel* out) {
  if (text == "info") text = "informational";
  for (int i = 0; i < 5; ++i)
    if (text == kLevelNames[i]) {
      *out = static_cast<AlertLevel>(i);
      return true;
    }
  return false;
}

const char* to_string(AlertStatus status) { return kStatusNames[static_cast<int>(status) % 4]; }

bool parse_alert_status(std::string_view text, AlertStatus* out) {
  for (int i = 0; i < 4; ++i)
    if (text == kStatusNames[i]) {
      *out = static_cast<AlertStatus>(i);
      return true;
    }
  return false;
}

const char* to_string(AlertResolution r) { return kResolutionNames[static_cast<int>(r) % 5]; }

bool parse_alert_resolution(std::string_view text, AlertResolution* out) {
  for (int i = 0; i < 5; ++i)
    if (text == kResolutionNames[i]) {
      *out = static_cast<AlertResolution>(i);
      return true;
    }
  return false;
}

std::vector<std::string> alert_attack_techniques(const Alert& alert) {
  if (!alert.attack_techniques.empty() || !alert.attack_tactics.empty()) return alert.attack_techniques;
  std::vector<std::string> out;
  for (const std::string& tag : alert.tags) {
    if (tag.size() < 12 || !ascii_iequals(std::string_view(tag).substr(0, 8), "attack.t")) continue;
    std::string id = tag.substr(7);
    for (char& c : id) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
    out.push_back(std::move(id));
  }
  return out;
}

std::vector<std::string> alert_attack_tactics(const Alert& alert) {
  if (!alert.attack_techniques.empty() || !alert.attack_tactics.empty()) return alert.attack_tactics;
  std::vector<std::string> out;
  for (const std::string& tag : alert.tags) {
    if (tag.size() < 8 || !ascii_iequals(std::string_view(tag).substr(0, 7), "attack.")) continue;
    std::string name = ascii_lower(std::string_view(tag).substr(7));
    for (char& c : name) c = c == '_' ? '-' : c;
    out.push_back(std::move(name));  // technique and group tags never equal a tactic's name
  }
  return out;
}

}  // namespace vigil
