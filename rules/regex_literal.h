#pragma once
// Required-literal extraction from a regex, for the literal prefilter.
#include <string>
#include <string_view>
#include <vector>

namespace vigil::rules {

// Returns the longest run of literal characters that every match of `regex` must contain, or ""
// when none can be proven (top-level alternation, or only classes and optional parts).
// Conservative: it may return a shorter literal than possible, never one a match can lack.
// Literal characters are returned as written (case folding is the caller's business).
std::string required_literal(std::string_view regex);

// A set of literals one of which every match of `regex` must contain (empty: none provable).
// Handles alternation: `(a|bc)d` needs "d" or, if better, one of {"a", "bc"}. Chooses, per
// branch, the requirement whose shortest literal is longest.
std::vector<std::string> required_literals(std::string_view regex);

}  // namespace vigil::rules
