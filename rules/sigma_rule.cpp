#include "rules/sigma_rule.h"

namespace vigil::rules {

const char* to_string(MatchOp op) {
  switch (op) {
    case MatchOp::kEquals: return "equals";
    case MatchOp::kContains: return "contains";
    case MatchOp::kStartsWith: return "startswith";
    case MatchOp::kEndsWith: return "endswith";
    case MatchOp::kRegex: return "re";
    case MatchOp::kExists: return "exists";
    case MatchOp::kNull: return "null";
    case MatchOp::kLt: return "lt";
    case MatchOp::kLte: return "lte";
    case MatchOp::kGt: return "gt";
    case MatchOp::kGte: return "gte";
    case MatchOp::kCidr: return "cidr";
    case MatchOp::kFieldRefEquals: return "fieldref";
    case MatchOp::kFieldRefContains: return "fieldref_contains";
    case MatchOp::kFieldRefStartsWith: return "fieldref_startswith";
    case MatchOp::kFieldRefEndsWith: return "fieldref_endswith";
  }
  return "unknown";
}

}  // namespace vigil::rules
