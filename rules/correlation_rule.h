#pragma once
// The loaded form of a Sigma v2 correlation rule (sigma-specification, "Sigma Correlation
// Rules"), and of the `vigil:` extensions that the correlation engine reads: suppression of
// repeats and field extraction. Produced by the loader (a YAML document with a top-level
// `correlation:` key), resolved against the loaded rules by resolve_correlations(), run by
// rules/correlation_engine.h. Plain data, immutable once loaded.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rules/sigma_rule.h"

namespace YAML {
class Node;
}

namespace vigil::rules {

enum class CorrelationType : std::uint8_t { kEventCount, kValueCount, kTemporal, kTemporalOrdered };
const char* to_string(CorrelationType type);

// `condition:` as a conjunction of bounds; an absent bound is not checked. `gt: 100` and
// `lte: 200` together give the range 101..200.
struct CountCondition {
  bool has_gt = false, has_gte = false, has_lt = false, has_lte = false, has_eq = false;
  std::uint64_t gt = 0, gte = 0, lt = 0, lte = 0, eq = 0;
  bool holds(std::uint64_t n) const {
    return (!has_gt || n > gt) && (!has_gte || n >= gte) && (!has_lt || n < lt) &&
           (!has_lte || n <= lte) && (!has_eq || n == eq);
  }
  bool empty() const { return !(has_gt || has_gte || has_lt || has_lte || has_eq); }
  friend bool operator==(const CountCondition&, const CountCondition&) = default;
};

// `vigil: suppress:` on any rule (detection or correlation): after an alert, further alerts of
// the rule with the same values of `by` are not stored for `for_ns` of event time; they are
// counted, and one summary alert (Alert::count = the repeats) is stored when the period ends.
struct Suppression {
  std::vector<std::string> by;  // field names (group-by names for a correlation); empty = rule-wide
  std::int64_t for_ns = 0;      // 0 = no suppression
  friend bool operator==(const Suppression&, const Suppression&) = default;
};

// `vigil: fields:` on a correlation rule: a field the events lack, cut out of another field by
// a regex with one capture group (sshd puts the client address only in the message text).
struct ExtractedField {
  std::string name;    // the new field, usable in group-by and value_count's `field`
  std::string from;    // field it is cut from ("message")
  std::string regex;   // PCRE2, first capture group is the value
  friend bool operator==(const ExtractedField&, const ExtractedField&) = default;
};

struct CorrelationRule {
  std::string id, name, title, description, author, date, modified, status, level;
  std::vector<std::string> tags, references, falsepositives;
  CorrelationType type = CorrelationType::kEventCount;
  std::vector<std::string> rules;     // references as written: ids or names
  std::vector<std::string> group_by;  // field names or alias names
  std::int64_t timespan_ns = 0;
  CountCondition condition;           // temporal*: defaults to "all referenced rules"
  std::string value_field;            // value_count: `condition.field`
  // aliases: alias name -> (referenced rule name or id -> field in that rule's events)
  std::map<std::string, std::map<std::string, std::string>> aliases;
  // Whether the referenced rules still store alerts of their own. Spec default: false (only the
  // correlation's result is generated).
  bool generate = false;
  Suppression suppress;
  std::vector<ExtractedField> extract;
  // Its own tags' and mapping entry's view (set by the loader), joined by resolve_correlations()
  // with the views of the rules and correlations it reads: its alerts carry all of them.
  AttackView attack;
  std::string path;
  int line = 1;
  friend bool operator==(const CorrelationRule&, const CorrelationRule&) = default;
};

// Parses the Sigma duration "<number><s|m|h|d>" (also "ms" for tests of edges); false if bad.
bool parse_sigma_duration(const std::string& text, std::int64_t* out_ns);

// Parses a correlation document (it has a `correlation:` key). On failure returns false and
// fills `error` (reason codes: "bad_correlation", "missing_timespan", "bad_timespan",
// "bad_condition", "unknown_correlation_type").
bool parse_correlation_document(const YAML::Node& doc, const std::string& path, int line,
                                CorrelationRule* out, LoadError* error);

// Reads `vigil: suppress:` from a rule's verbatim `vigil:` block ("" = none). false + message
// when it is malformed.
bool parse_suppression(const std::string& vigil_yaml, Suppression* out, std::string* error);

}  // namespace vigil::rules
