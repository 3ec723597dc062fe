#pragma once
// One rule compiled on its own, to run single records through: shared by `vigil rules test`
// (embedded samples) and `vigil rules explain` (why an event does or does not match).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/parse/parser.h"
#include "rules/compiler.h"
#include "rules/matcher.h"
#include "rules/sigma_loader.h"

namespace vigil::app {

// A rule compiled alone (with the built-in logsource mapping), with a matcher and a parser.
struct SingleRule {
  std::shared_ptr<const rules::RuleSet> set;
  std::unique_ptr<rules::Matcher> matcher;
  parse::RecordParser parser;
};

// Compiles `rule` alone. Returns false (with a reason in *why) if it does not compile.
bool compile_alone(const rules::SigmaRule& rule, SingleRule& out, std::string* why);

// The outcome of one record matched against a SingleRule.
struct RecordRun {
  bool usable = true;
  ParseErrorKind parse_error = ParseErrorKind::kNone;
  std::vector<rules::RuleMatch> matches;
  std::string buffer;  // owns the bytes the matches point into
  bool matched() const { return usable && !matches.empty(); }
};

// Matches one record (copied, with kRecordPadding bytes after it) as `format`
// (LogFormat::kUnknown = detect).
void run_record(SingleRule& r, std::string_view record, LogFormat format, RecordRun& run);

// A rule's `detection:` block as written: the names of its search identifiers (selections), in
// file order, and its condition text (a list of conditions is joined with " or ").
struct DetectionText {
  std::vector<std::string> names;
  std::string condition;
  std::string document;  // the rule's YAML document
};

// Re-reads the rule's document (its file, or the bundled pack text). False if unavailable.
bool read_detection_text(const rules::SigmaRule& rule, DetectionText* out);

// The rule loaded again from its document with `condition` in place of its own (its `vigil:`
// block dropped). False if that does not load as exactly one rule.
bool load_with_condition(const rules::SigmaRule& rule, const DetectionText& det,
                         const std::string& condition, rules::SigmaRule* out);

}  // namespace vigil::app
