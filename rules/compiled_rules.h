#pragma once
// Internal representation shared by the compiler and the matcher. Not a public interface.
#include <cstdint>
#include <string>
#include <vector>

#include "rules/sigma_rule.h"

struct hs_database;
struct pcre2_real_code_8;

namespace vigil::rules {

inline constexpr std::int32_t kNoLiteral = -1;

// A predicate after logsource renames, de-duplicated across all rules.
struct CompiledPredicate {
  MatchOp op = MatchOp::kEquals;
  std::string field;          // event field name; "" = keyword (any field / raw record)
  std::string value;          // string ops: lower-cased unless cased; fieldref: other field
  bool cased = false;
  bool exists_expected = true;
  double number = 0;
  // Prefilter literal whose absence from the event proves this predicate false.
  std::int32_t literal = kNoLiteral;
  // Regex: slot in its field's Hyperscan database (-1: PCRE2 only), and whether a Hyperscan
  // hit must be confirmed with PCRE2 (prefilter mode).
  std::int32_t regex_db = -1;
  std::int32_t regex_slot = -1;
  bool regex_needs_confirm = true;
  pcre2_real_code_8* pcre = nullptr;  // owned by CompiledRules
  // CIDR: address family (4 or 6), network bytes and prefix length.
  int cidr_family = 0;
  unsigned char cidr_addr[16] = {};
  int cidr_prefix = 0;
};

struct CompiledNode {
  CondNode::Kind kind = CondNode::Kind::kFalse;
  std::uint32_t pred = 0;         // kPred
  std::uint32_t first_child = 0;  // into CompiledRules::children
  std::uint32_t child_count = 0;
};

struct CompiledRule {
  std::uint32_t source = 0;  // index into CompiledRules::sources
  std::uint32_t root = 0;    // into CompiledRules::nodes
  bool always = false;       // no literal cover: evaluate for every event
};

// One Hyperscan database per field holding that field's regex predicates.
struct FieldRegexDatabase {
  std::string field;
  hs_database* db = nullptr;
  std::vector<std::uint32_t> slot_to_pred;
};

struct CompiledRules {
  std::vector<SigmaRule> sources;
  std::vector<CompiledRule> rules;  // same order as sources they came from
  std::vector<CompiledPredicate> preds;
  std::vector<CompiledNode> nodes;
  std::vector<std::uint32_t> children;

  // Literal prefilter: Hyperscan id -> literal id; literal id -> candidate rules.
  hs_database* literal_db = nullptr;
  std::vector<std::uint32_t> pattern_to_literal;  // ids >= size(): escape detectors
  std::uint32_t escape_detector_first = 0;        // pattern ids from here mark JSON escapes
  std::vector<std::string> literal_text;          // for reports
  std::vector<std::uint32_t> literal_rules_offset;  // CSR: literal -> rules
  std::vector<std::uint32_t> literal_rules;
  std::vector<std::uint32_t> always_rules;

  std::vector<FieldRegexDatabase> regex_dbs;

  ~CompiledRules();
};

}  // namespace vigil::rules
