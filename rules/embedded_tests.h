#pragma once
// Embedded rule tests: the `tests:` list of a rule's `vigil:` block, used by `vigil rules test`
// and `vigil rules lint`.
//
//   vigil:
//     tests:
//       - log: '<a log line or a JSON event>'
//         format: json     # optional: json rfc3164 rfc5424 cef kv access plain (default auto)
//         match: true
//
// Thread-safety: free functions, no shared state. Never throws.
#include <string>
#include <vector>

#include "core/status.h"
#include "rules/sigma_rule.h"

namespace vigil::rules {

// The rule's document text as written in its file (from SigmaRule::line to the next document
// marker), and the 1-based file line of the text's first line. `file_text` is the whole file;
// when empty, the file at rule.path is read. False if neither is available.
bool rule_document_text(const SigmaRule& rule, const std::string& file_text, std::string* text,
                        int* first_line);

// Parses the samples of `vigil: tests:`. No `vigil:` block or no `tests:` key: an empty list.
// A malformed block (tests not a list, an item without `log` or `match`, `match` not a bool,
// an unknown `format`) is an InvalidArgument error whose message is
// "<file>:<line>: <reason>", the line being the file line of the offending node (found by
// re-reading the rule's file, or `file_text` when given; if the file cannot be read, the rule's
// document line). Each sample gets its file line.
Result<std::vector<RuleTestSample>> parse_embedded_tests(const SigmaRule& rule,
                                                         const std::string& file_text = "");

}  // namespace vigil::rules
