#pragma once
// Matcher: runs a RuleSet over events. One Matcher per thread (it owns the Hyperscan scratch,
// PCRE2 match data and per-event memo tables); the RuleSet it reads is shared and immutable.
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/parse/parser.h"
#include "rules/compiler.h"

struct hs_scratch;
struct hs_database;

namespace vigil::rules {

struct MatchedField {
  std::string_view field;  // event field name ("" for a keyword hit on the raw record)
  std::string_view value;  // the field's value (views into the event; valid while it lives)
};

struct RuleMatch {
  std::uint32_t rule = 0;  // index into RuleSet::rule()
  std::vector<MatchedField> matched;
};

struct MatcherStats {
  std::uint64_t events = 0;
  std::uint64_t events_parsed = 0;     // events that needed their fields (had candidates)
  std::uint64_t candidate_rules = 0;   // rule evaluations performed
  std::uint64_t decoded_rescans = 0;   // events whose escapes forced a scan of decoded values
  std::uint64_t layout_scans = 0;      // route layouts searched (JsonRoute), by scan or memo
  std::uint64_t layout_memo_hits = 0;  // of which answered from the memo (ScanMemo)
  std::uint64_t keyword_checks = 0;    // raw records a keyword database applied to
  std::uint64_t keyword_skips = 0;     // of which its prefilter ruled out (KeywordPrefilter)
  std::uint64_t matches = 0;
};

// One literal-prefilter scan (for benchmarks that replay them): the database and the bytes.
// The raw record is a view (valid until the event changes); laid-out field values are copied,
// because the matcher reuses one buffer for every layout of an event.
struct LiteralScan {
  const hs_database* db = nullptr;
  std::string_view raw;  // the raw record, or empty
  std::string values;    // laid-out values, when not the raw record
  std::string_view bytes() const { return raw.data() != nullptr ? raw : std::string_view(values); }
};

class Matcher {
 public:
  // Fails if Hyperscan cannot allocate scratch space.
  static Result<std::unique_ptr<Matcher>> create(std::shared_ptr<const RuleSet> rules);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Matches one event. `event.raw` must be followed by kRecordPadding readable bytes. The event
  // is parsed with `parser` only when some rule needs its fields (forced `format`, or
  // LogFormat::kUnknown to detect). Returns false if the event was unusable (counted by the
  // caller via event.parse_error). Appends one RuleMatch per matching rule, in rule order.
  bool match(Event& event, parse::RecordParser& parser, LogFormat format,
             std::vector<RuleMatch>& out);

  // Parse every event in full even when no rule needs its fields, so that every malformed
  // record is counted (otherwise JSON values no rule reads are skipped with only a structural
  // check, and text records no rule needs get only the cheap check for binary bytes, unclosed
  // JSON and invalid UTF-8). Default: false.
  void set_parse_every_event(bool on) { parse_every_event_ = on; }

  // Benchmarks: when set, every literal-prefilter hs_scan match() makes is also appended to
  // `sink` (not the regex scans, which run only for candidates). nullptr: off (default).
  void record_literal_scans(std::vector<LiteralScan>* sink);

  const MatcherStats& stats() const { return stats_; }
  const RuleSet& rules() const { return *rules_; }

  struct State;  // internal (public only so the Hyperscan callbacks can reach it)

 private:
  explicit Matcher(std::shared_ptr<const RuleSet> rules);
  // match() without its final steps (decoding the fields of a matching event, rejecting one
  // whose kept-escaped values turned out to be invalid).
  bool match_record(Event& event, parse::RecordParser& parser, LogFormat format,
                    std::vector<RuleMatch>& out);
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<State> state_;
  MatcherStats stats_;
  bool parse_every_event_ = false;
};

}  // namespace vigil::rules
