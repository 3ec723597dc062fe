#pragma once
// Sigma `condition` expressions -> CondNode trees.
//
// Grammar (Sigma specification v2, as implemented by pySigma's sigma/conditions.py):
//   expr     := and_expr ('or' and_expr)*
//   and_expr := not_expr ('and' not_expr)*
//   not_expr := 'not' not_expr | primary
//   primary  := '(' expr ')' | quantifier 'of' target | identifier
//   quantifier := '1' | 'any' | 'all'        target := 'them' | pattern with '*' wildcards
// Precedence, loosest first: or, and, not, `x of`, parentheses. Keywords are lower-case.
// `them` and patterns never select identifiers that start with `_` (spec: "excluded by
// convention"), unless the pattern itself starts with `_`. A pattern matches a whole identifier
// (pySigma matches only a prefix; the spec says wildcards "at arbitrary positions").
//
// Thread-safety: free functions without shared state.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rules/sigma_rule.h"
#include "rules/value_modifiers.h"

namespace vigil::rules {

// A search identifier of a detection and its condition tree, in document order.
struct SearchIdentifier {
  std::string name;
  CondNode node;
};

// The condition as written, for tools that show it (`vigil rules explain`): every operator and
// operand with the text it was written as, and for `x of` the identifiers its target selects
// (by the rules above, so a tool shows exactly what the engine evaluates).
struct ConditionSyntax {
  enum class Kind : std::uint8_t { kIdentifier, kOneOf, kAllOf, kAnd, kOr, kNot };
  Kind kind = Kind::kIdentifier;
  std::string text;                   // as written; a parenthesised operand keeps its parentheses
  std::string name;                   // kIdentifier: the identifier; kOneOf/kAllOf: the target
  std::vector<std::string> selected;  // kOneOf/kAllOf: the identifiers selected, document order
  std::vector<ConditionSyntax> children;
};

// Parses `text` over the detection's search identifiers (document order). Errors as
// parse_condition's.
DetectionResult<ConditionSyntax> parse_condition_syntax(std::string_view text,
                                                        const std::vector<std::string>& identifiers);

// Parses `text`, replacing identifiers with (copies of) their trees. Errors: reason
// "bad_condition" (syntax, unknown identifier, a pattern that selects nothing) or
// "unsupported_condition" (Sigma v1 aggregations after `|`, `near`).
DetectionResult<CondNode> parse_condition(std::string_view text,
                                          const std::vector<SearchIdentifier>& searches);

// Trivial simplification: single-child and/or collapse into the child, nested and/or of the
// same kind flatten, constants fold (and with false -> false, ...), double negation cancels.
CondNode simplify(CondNode node);

// Glob match where `*` is the only wildcard (condition patterns).
bool identifier_pattern_matches(std::string_view pattern, std::string_view name);

}  // namespace vigil::rules
