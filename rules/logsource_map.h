#pragma once
// Logsource mapping: which events a Sigma `logsource` selects, and how its field names map.
//
// A rule's logsource (product/category/service) resolves to one or more variants. Each variant
// is a set of event conditions (AND of predicates, e.g. Channel = Microsoft-Windows-Sysmon/
// Operational and EventID = 1) plus field renames (Sigma name -> event name, e.g. Image ->
// NewProcessName for Security 4688). A rule matches an event if, for some variant, the event
// meets the variant's conditions and the rule's detection (with renamed fields) is true.
//
// Events carry pseudo-fields usable in conditions: `_format` (json, rfc3164, rfc5424, cef, kv,
// access, plain) and, where a collector or --logsource declares them, `_product`, `_category`,
// `_service`.
//
// The shipped mapping is rules/mapping/logsources.yml, embedded in the binary; see
// docs/logsource-mapping.md. Immutable after load; safe to share between threads.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "rules/sigma_rule.h"

namespace vigil::rules {

struct LogsourceVariant {
  std::string name;                              // mapping entry name, for reports
  std::vector<Predicate> conditions;             // all must hold (AND); a list value is an OR
  CondNode condition;                            // tree over `conditions` (AND of ORs)
  std::map<std::string, std::string> renames;    // Sigma field -> event field
};

class LogsourceMap {
 public:
  // Parses mapping YAML. Errors name the source (`origin`), line and reason.
  static Result<LogsourceMap> parse(std::string_view yaml_text, const std::string& origin);
  static Result<LogsourceMap> load_file(const std::string& path);
  // The mapping compiled into the binary (rules/mapping/logsources.yml).
  static const LogsourceMap& builtin();

  // Variants for a rule's logsource. An entry applies when each of its product/category/service
  // keys that is set equals the rule's (case-insensitive). Among the entries that apply, only
  // the most specific ones (most keys set) count, and all their variants are returned, in file
  // order. When none applies the result is one unconditional variant (no conditions, no
  // renames) and *mapped is set false.
  std::vector<LogsourceVariant> variants_for(std::string_view product, std::string_view category,
                                             std::string_view service, bool* mapped) const;

  // Field names known to the mapping for a logsource (used by `rules lint`, a later issue).
  std::size_t entry_count() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name, product, category, service;
    std::vector<LogsourceVariant> variants;
  };
  std::vector<Entry> entries_;
};

}  // namespace vigil::rules
