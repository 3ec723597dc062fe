#pragma once
// Static checks on a rule's condition, for `vigil rules lint`.
#include <string>

#include "rules/sigma_rule.h"

namespace vigil::rules {

// Returns a reason when the rule's condition can never be true whatever the event holds, or ""
// when no such proof is found. Proves: constant false after folding (`x and false`), a term and
// its negation under one AND (`sel and not sel`), and two different whole-value equalities on one
// field under one AND (`Image: a.exe` with `Image: b.exe`, both exact). Sound, not complete:
// "" does not mean the condition can be true.
std::string never_true_reason(const SigmaRule& rule);

}  // namespace vigil::rules
