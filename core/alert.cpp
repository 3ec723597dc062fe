#include "core/alert.h"

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

}  // namespace vigil
