#pragma once
// The stored alert: what the matcher stage produces and the store, the API and the forwarders
// read. Everything is owned (an alert outlives the batch whose event raised it).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

// Sigma levels in rank order (index = rank, 0..4).
enum class AlertLevel : std::uint8_t { kInformational = 0, kLow, kMedium, kHigh, kCritical };
const char* to_string(AlertLevel level);
// "informational"/"info", "low", "medium", "high", "critical"; false for anything else.
bool parse_alert_level(std::string_view text, AlertLevel* out);

enum class AlertStatus : std::uint8_t { kNew = 0, kAcknowledged, kInProgress, kClosed };
const char* to_string(AlertStatus status);  // "new", "acknowledged", "in_progress", "closed"
bool parse_alert_status(std::string_view text, AlertStatus* out);

enum class AlertResolution : std::uint8_t { kNone = 0, kTruePositive, kFalsePositive, kBenign, kDuplicate };
const char* to_string(AlertResolution r);  // "", "true_positive", "false_positive", "benign", "duplicate"
bool parse_alert_resolution(std::string_view text, AlertResolution* out);

struct Alert;

// The alert's ATT&CK techniques (upper case) and tactics (Sigma names, lower case, '-'):
// attack_techniques / attack_tactics, or for an alert stored before alerts had them, what its
// `attack.tNNNN` and `attack.<tactic>` tags say.
std::vector<std::string> alert_attack_techniques(const Alert& alert);
std::vector<std::string> alert_attack_tactics(const Alert& alert);

struct AlertField {
  std::string name;   // field name; "(keyword)" for a keyword hit on the raw record
  std::string value;
};

struct Alert {
  // Assigned by the store when the alert is committed: 32 lowercase hex digits, the big-endian
  // commit time in ns and a sequence number, so ids sort by time. Empty before commit.
  std::string id;
  std::int64_t created_unix_ns = 0;   // commit time (set by the store; ids sort by it)
  std::int64_t received_unix_ns = 0;  // when the collector received the event
  std::int64_t event_unix_ns = 0;     // time written in the event, 0 if none or unparsed
  std::string event_time;             // that time as written ("" if none)

  std::string rule_id, rule_title, rule_path;
  AlertLevel level = AlertLevel::kInformational;
  std::vector<std::string> tags;
  // The rule's ATT&CK view (rules/attack_mapping.h): tactics (Sigma names) and technique ids in
  // both ATT&CK revisions, from its tags and the rule technique mapping. Sorted, unique; empty
  // in alerts stored before vigil gave them (readers then fall back on `tags`).
  std::vector<std::string> attack_tactics, attack_techniques;

  std::string tenant, system, host;  // who: from source assignment, and the event's host
  std::string collector, peer;       // where it came in
  std::uint64_t record_no = 0;       // record number within its source (files), else 0
  std::string format;                // parser that read the event ("json", "rfc3164"...)
  std::vector<AlertField> matched;   // the fields and values that made the rule match
  std::vector<AlertField> fields;    // the parsed fields of a text record (empty for JSON)
  std::string raw;                   // the event as received

  // Lifecycle (the analyst-review issue builds on these).
  AlertStatus status = AlertStatus::kNew;
  AlertResolution resolution = AlertResolution::kNone;
  std::string assignee;
  std::uint32_t count = 1;  // repeats grouped into this alert

  // A correlation alert raised at the event that decided it, before its window closed
  // (rules/correlation_engine.h, early firing), is revised as more events of the window come:
  // `revision_key` names that alert across its revisions. Neither field is part of the stored
  // value; the store keeps the key beside the alert until the final revision.
  enum class Revision : std::uint8_t {
    kNone = 0,  // an ordinary alert
    kFirst,     // stored as a new alert; later revisions name it by revision_key
    kUpdate,    // replaces the alert stored under revision_key (fields, last-seen time, text)
    kFinal,     // the same, and the window is over: no more revisions of that key
  };
  Revision revision = Revision::kNone;
  std::string revision_key;
  // Order of the records of one revision_key (kFirst 0, then 1, 2...): matcher threads finish
  // batches out of order, so one commit may hold them in any order; the highest wins.
  std::uint32_t revision_seq = 0;
};

}  // namespace vigil
