#pragma once
// `vigil rules explain`: why one rule does or does not match an event, step by step.
#include <cstdio>
#include <string>
#include <vector>

#include "core/event.h"

namespace vigil::app {

struct RulesExplainOptions {
  std::string rule;                // a rule id, or a rule file (its first rule)
  std::string log;                 // one log line or JSON event ("" = use file)
  std::string file;                // a log file read record by record ("" = use log)
  LogFormat format = LogFormat::kUnknown;  // kUnknown = detect per record
  std::vector<std::string> rule_paths;     // where to look the id up ("" = the bundled packs)
  bool color = false;              // highlight matched spans with ANSI colour (else [[...]])
};

// For each event: the fields the rule reads, the logsource routing, each selection and its
// predicates (matched spans highlighted), the condition step by step and the verdict, with
// the deciding predicates or routing conditions of a non-match.
// Returns 0 when every event matched, 1 when any did not, 2 on a usage or input error.
int run_rules_explain(const RulesExplainOptions& options, std::FILE* out, std::FILE* err);

}  // namespace vigil::app
