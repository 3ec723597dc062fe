#pragma once
// The loaded form of a Sigma rule: metadata, field predicates and a condition tree over them.
// Produced by the loader (sigma_loader.h), consumed by the compiler (compiler.h).
// Plain data, no behaviour; immutable once loaded.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vigil::rules {

// What one predicate tests. Every string comparison is case-insensitive unless `cased`.
enum class MatchOp : std::uint8_t {
  kEquals,      // whole value equals `value`
  kContains,    // value contains `value`
  kStartsWith,  // value starts with `value`
  kEndsWith,    // value ends with `value`
  kRegex,       // PCRE-syntax `value` found in the field (unanchored search); flags below
  kExists,      // the field is present (exists_expected=true) or absent (false)
  kNull,        // the field is absent, JSON null, or empty
  kLt, kLte, kGt, kGte,  // numeric comparison with `number`
  kCidr,        // the field is an IPv4/IPv6 address inside the network `value` ("10.0.0.0/8")
  kFieldRefEquals, kFieldRefContains, kFieldRefStartsWith, kFieldRefEndsWith,  // `value` names the other field
};

const char* to_string(MatchOp op);

struct Predicate {
  // Event field name as written in the rule (before logsource renames). Empty for a keyword:
  // a keyword is matched against every field value and, for text records, the whole raw record.
  std::string field;
  MatchOp op = MatchOp::kEquals;
  // For string ops: the literal after all value modifiers (base64, utf16, windash...) and
  // wildcard normalisation. A value with a wildcard in the middle becomes kRegex.
  std::string value;
  bool cased = false;        // `cased` modifier (string ops); for kRegex: case-sensitive unless regex_i
  bool regex_i = false;      // `re|i`
  bool regex_m = false;      // `re|m`
  bool regex_s = false;      // `re|s`
  bool exists_expected = true;  // kExists
  double number = 0;            // kLt..kGte
  friend bool operator==(const Predicate&, const Predicate&) = default;
};

// Condition tree. Leaves point into SigmaRule::predicates.
struct CondNode {
  enum class Kind : std::uint8_t { kAnd, kOr, kNot, kPred, kTrue, kFalse };
  Kind kind = Kind::kFalse;
  std::uint32_t pred = 0;          // kPred: index into predicates
  std::vector<CondNode> children;  // kAnd/kOr: 1..n, kNot: exactly 1
  friend bool operator==(const CondNode&, const CondNode&) = default;
};

// One embedded test sample under `vigil: tests:` (rules/embedded_tests.h; `vigil rules test`).
struct RuleTestSample {
  std::string log;        // a log line or a JSON event
  std::string format;     // "" = auto
  bool expect_match = true;
  int line = 0;           // 1-based line of the sample in the rule file (0 = unknown)
  // `fields:` (optional, with match: true): event fields that must be among the matched
  // evidence, so a sample pins which selection fired, not just that one did.
  std::vector<std::string> expect_fields;
};

// A rule's ATT&CK view (rules/attack_mapping.h): the tactics and techniques of its `attack.*`
// tags and of its entry in rules/mapping/rule_techniques.yml, each with its other revision
// (T1562.002 beside T1685.001, defense-evasion beside stealth). Sorted and unique.
struct AttackView {
  std::vector<std::string> tactics;     // Sigma tactic names, lower case: "credential-access"
  std::vector<std::string> techniques;  // ATT&CK ids, upper case: "T1003", "T1003.001"
  bool empty() const { return tactics.empty() && techniques.empty(); }
  friend bool operator==(const AttackView&, const AttackView&) = default;
};

struct SigmaRule {
  // Metadata (Sigma names). `level` is lower-case: informational, low, medium, high, critical.
  std::string id, title, status, description, author, date, modified, level;
  std::string name;  // Sigma v2 `name`: how correlation rules may refer to it ("" if none)
  std::vector<std::string> tags, references, falsepositives, fields;
  // logsource
  std::string product, category, service;
  // detection
  std::vector<Predicate> predicates;
  CondNode condition;
  // Where it came from, for reports: file path and the 1-based line of the document.
  std::string path;
  int line = 1;
  // The `vigil:` extension block, verbatim YAML ("" if none). Parsed by the features that use it.
  std::string vigil_extension;
  // Set by the loader from the tags and the rule technique mapping (rules/attack_mapping.h).
  AttackView attack;
  // When the mapping overrode `level`: the level the rule itself declares (lower case, may be
  // "") and the mapping's reason. Both "" when the rule's own level applies.
  std::string declared_level, level_override_why;
  // Event fields that correlations reading this rule group or count by (resolve_correlations):
  // parsed from its events even when no detection reads them.
  std::vector<std::string> correlation_fields;
  // Field by field (the parsed rule cache's round-trip test compares with it).
  friend bool operator==(const SigmaRule&, const SigmaRule&) = default;
};

// A rule (or file) that could not be loaded. `reason` is a short stable code used for totals
// ("yaml_syntax", "unknown_modifier", "bad_condition", "unsupported_modifier",
// "missing_detection", "bad_regex", "correlation_rule", "not_a_rule", ...); `message` says more.
struct LoadError {
  std::string file;
  int line = 0;
  std::string rule_id;  // "" when the id could not be read
  std::string reason;
  std::string message;
  friend bool operator==(const LoadError&, const LoadError&) = default;
};

}  // namespace vigil::rules
