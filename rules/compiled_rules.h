#pragma once
// Internal representation shared by the compiler and the matcher. Not a public interface.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/ip_network.h"
#include "core/parse/parser.h"

#include "rules/keyword_prefilter.h"
#include "rules/sigma_rule.h"

struct hs_database;
struct pcre2_real_code_8;

namespace vigil::rules {

inline constexpr std::int32_t kNoLiteral = -1;
inline constexpr std::uint32_t kNoField = 0xFFFFFFFFu;
inline constexpr std::uint8_t kScannedInText = 1;  // raw text records (and their decoded values)
inline constexpr std::uint8_t kScannedInJson = 2;  // JSON events (field values, raw for keywords)

// A predicate after logsource renames, de-duplicated across all rules. What every evaluation
// reads comes first, within the first cache line (an evaluation touches a few predicates of
// rules far apart, and `literal` used to sit in a third line).
struct CompiledPredicate {
  MatchOp op = MatchOp::kEquals;
  bool routing = false;  // a logsource condition: it routes the event, it is not evidence
  bool cased = false;
  // String ops: `escaped_value` is set (see below).
  bool has_escaped_value = false;
  bool exists_expected = true;
  // Regex: whether a Hyperscan hit must be confirmed with PCRE2 (prefilter mode).
  bool regex_needs_confirm = true;
  std::uint32_t field_id = kNoField;      // index into CompiledRules::field_names
  std::uint32_t ref_field_id = kNoField;  // fieldref: the other field
  // Prefilter literal whose absence from the event proves this predicate false.
  std::int32_t literal = kNoLiteral;
  // Regex: slot in its field's Hyperscan database (-1: PCRE2 only).
  std::int32_t regex_db = -1;
  std::int32_t regex_slot = -1;
  std::string field;          // event field name; "" = keyword (any field / raw record)
  double number = 0;
  std::string value;          // string ops: lower-cased unless cased; fieldref: other field
  // String ops: `value` in canonical JSON-escaped form, to test values kept as written without
  // decoding them (matcher.cpp, escaped_string_test); unset when that form would hold a \u
  // escape (a control character), which such values are never tested against.
  std::string escaped_value;
  // Regex with alternatives: one of these literals occurs in every match (a cover only).
  std::vector<std::uint32_t> cover_literals;
  pcre2_real_code_8* pcre = nullptr;  // owned by CompiledRules
  // CIDR: address family (4 or 6), network bytes and prefix length.
  IpNetwork cidr;  // kCidr
};

struct CompiledNode {
  CondNode::Kind kind = CondNode::Kind::kFalse;
  std::uint32_t pred = 0;         // kPred
  std::uint32_t first_child = 0;  // into CompiledRules::children
  std::uint32_t child_count = 0;
};

inline constexpr std::uint32_t format_bit(LogFormat f) { return 1u << static_cast<unsigned>(f); }
inline constexpr std::uint32_t kAllFormats = (1u << static_cast<unsigned>(LogFormat::kFormatCount)) - 1;
static_assert(static_cast<unsigned>(LogFormat::kFormatCount) < 31, "format bits meet kDeclaredLogsourceBit");
// Set for events that carry a declared logsource (_product/_category/_service).
inline constexpr std::uint32_t kDeclaredLogsourceBit = 1u << 31;

struct CompiledRule {
  std::uint32_t source = 0;  // index into CompiledRules::sources
  std::uint32_t root = 0;    // into CompiledRules::nodes
  // What is left to evaluate once its JSON route applies: the detection alone when the rule
  // has one logsource variant (the route's condition is that variant's), else `root`.
  std::uint32_t routed_root = 0;
  bool always = false;       // no literal cover: evaluate for every event (of its formats)
  // Formats the rule can apply to (from `_format` conditions of its logsource variants).
  std::uint32_t format_mask = kAllFormats;
  // It has keywords, which search every value: JSON events need a full parse for it.
  bool reads_all_fields = false;
  // The OR of its logsource variants' conditions (a kTrue node when one has none).
  std::uint32_t logsource_root = 0;
  // JSON events: a condition the rule implies that reads only route fields (EventID, Channel,
  // ...), or kNoGate. Its value depends only on what a matcher's route cache is keyed on, so
  // it is settled once per cache entry: a rule with no literal cover (evaluated whenever its
  // route applies) is dropped there for events it cannot match, such as every Sysmon event
  // whose EventID is not the 16 of "Sysmon Configuration Change".
  std::uint32_t route_gate = 0xFFFFFFFFu;
  // A second literal cover, of another part of the rule's top-level `and` (the first one,
  // which made it a candidate, is often a literal of nearly every event, such as a CallTrace's
  // "kernelbase.dll+"): one of these field literals occurs in every event the rule matches. A
  // candidate none of them was found for is dropped before evaluation. Used for JSON events
  // when every one of them is scanned there (confirm_in_json); empty when there is none.
  std::vector<std::uint32_t> confirm_literals;
  bool confirm_in_json = false;
};
inline constexpr std::uint32_t kNoGate = 0xFFFFFFFFu;

// JSON routing. Rules whose logsource conditions are the same (Sysmon EID 10, Security 4688 or
// Sysmon 1, ...) form one route; an event is scanned only with the literals of the routes whose
// conditions it meets, instead of every rule's literals. Which routes apply depends only on the
// values of the fields logsource conditions read (CompiledRules::route_fields), so each matcher
// caches it per such values.
//
// A route's field literals are found by a few scans per event: the values of several fields
// are laid out one field after the other (a "layout"), each value followed by a NUL (no
// literal holds one, so no match spans two values), and a hit counts only when it ends inside
// the values of its literal's own field. Fields with many literals get a layout of their own
// (a big literal set costs more per byte, and should not be paid by another field's long
// values); the others share one, which saves the fixed cost of an hs_scan call per field.
// Values and literals are both in canonical JSON-escaped form, so a value the parser kept as
// written (Field::escaped, nearly always canonical) is scanned without being decoded; the few
// with \u or \/ escapes are decoded and escaped again.
struct JsonRoute {
  std::uint32_t condition = 0;   // node: the logsource conditions (kTrue for none)
  std::uint32_t format_mask = kAllFormats;
  // Keyword literals of the route's rules (plain and JSON-escaped), scanned over the raw
  // record; a record with \u or \/ escapes is also scanned over its decoded values (a SIMD
  // test finds them, cheaper than two 2-byte patterns in the database). Pattern ids are
  // literal ids; nullptr when the route has no keyword literal. Per route, because one keyword
  // rule with a broad logsource (product: windows) would otherwise put every keyword literal
  // over every record.
  hs_database* keyword_db = nullptr;
  // A few n-grams one of which every keyword literal holds: a record without any is not
  // scanned with keyword_db (inactive when no small set covers the literals).
  KeywordPrefilter keyword_prefilter;
  // keyword_db's patterns, for the prefilter of a combination of keyword routes.
  std::vector<KeywordPrefilter::Pattern> keyword_patterns;
  // Rules evaluated whenever the route applies: no literal cover of their own detection (a
  // logsource literal such as the channel name would be true of every routed event anyway).
  std::vector<std::uint32_t> always;
  // The fields the route's field literals read (CompiledRules::RouteLiteral::slot indexes
  // this), grouped into layouts: each layout is laid out and scanned on its own, with a
  // database of its fields' literals (pattern ids: route literal ids).
  std::vector<std::uint32_t> fields;
  struct Layout {
    hs_database* db = nullptr;
    std::uint32_t first_slot = 0, slot_count = 0;  // its fields: a range of `fields`
  };
  std::vector<Layout> layouts;
};

// One Hyperscan database per field holding that field's regex predicates.
struct FieldRegexDatabase {
  std::string field;
  std::uint32_t field_id = kNoField;
  hs_database* db = nullptr;
  // False when `db` is an earlier entry's: fields with the same regexes in the same order (a
  // rule testing the request target, Referer and User-Agent alike) share one compiled database.
  bool owns_db = true;
  std::vector<std::uint32_t> slot_to_pred;
};

struct CompiledRules {
  std::vector<SigmaRule> sources;
  std::vector<CompiledRule> rules;  // same order as sources they came from
  std::vector<CompiledPredicate> preds;
  std::vector<CompiledNode> nodes;
  std::vector<std::uint32_t> children;
  // The same child lists, each `and`/`or` ordered cheapest test first (a short-circuit then
  // skips the costly ones: GrantedAccess before a CallTrace regex). Evaluation uses these;
  // evidence (collect) keeps the rule's own order, `children`.
  std::vector<std::uint32_t> eval_children;

  // Literal prefilter. Pattern ids are literal ids; literal id -> candidate rules (CSR).
  hs_database* text_db = nullptr;     // all literals of rules for text formats, raw-line scan
  // The text literals of predicates on derived fields (the web views of
  // core/parse/web_normalize.h: decoded text that is not in the raw line), scanned over those
  // fields' values. nullptr when no rule reads a derived field: then nothing derives them.
  hs_database* views_db = nullptr;
  std::vector<std::string> literal_text;  // "field:text", for reports
  // Which scans look for each literal: only there does its absence prove a predicate false.
  std::vector<std::uint8_t> literal_scope;  // kScannedInText | kScannedInJson
  std::vector<std::uint32_t> literal_rules_offset;  // CSR: literal -> rules
  std::vector<std::uint32_t> literal_rules;
  std::vector<std::uint32_t> always_rules;  // text records: rules with no literal cover
  std::vector<std::uint32_t> keyword_rules;  // rules with reads_all_fields

  // JSON events: routes, the fields their conditions read (sorted ids), and route literal id
  // (pattern id in a route's field database) -> literal id, -> the position of its field in
  // the route's layout, and -> the route's rules gated on it (CSR).
  std::vector<JsonRoute> json_routes;
  // Every route's keyword literals together, for an event that two or more keyword routes
  // apply to (Security events: the Security keyword rules and the `product: windows` ones):
  // one raw scan instead of one per route. A hit on a rule of a route that does not apply
  // makes a candidate that fails its logsource test. nullptr when fewer than two routes have
  // keywords. Its prefilter is made by each matcher for the combination of routes an event
  // meets (JsonRoute::keyword_patterns): every keyword route together would need too many
  // n-grams, Security's two would not.
  hs_database* all_keywords_db = nullptr;
  std::vector<std::uint32_t> route_fields;
  // Route literals by id, what a hit needs in one place (a memo hit reports a few ids, each
  // read here: one cache line rather than one per array).
  struct RouteLiteral {
    std::uint32_t literal = 0;
    std::uint32_t slot = 0;  // its field's position in JsonRoute::fields
    std::uint32_t rules_begin = 0, rules_end = 0;  // its gated rules in route_literal_rules
  };
  std::vector<RouteLiteral> route_literals;
  std::vector<std::uint32_t> route_literal_rules;

  std::vector<FieldRegexDatabase> regex_dbs;

  // Every field a predicate reads, by id. Each event's fields are indexed by id once, so a
  // predicate finds its field without searching.
  std::vector<std::string> field_names;
  // The same names for the parser (JSON events are parsed for these fields only); its find()
  // is also the name -> id lookup.
  std::unique_ptr<parse::FieldSelection> selection;

  ~CompiledRules();
};

}  // namespace vigil::rules
