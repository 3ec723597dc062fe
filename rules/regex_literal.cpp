#include "rules/regex_literal.h"

#include <cstring>
#include <vector>

namespace vigil::rules {

namespace {

// Escapes whose meaning is one literal character.
bool escaped_literal(char c, char* out) {
  switch (c) {
    case 'n': *out = '\n'; return true;
    case 't': *out = '\t'; return true;
    case 'r': *out = '\r'; return true;
    case 'f': *out = '\f'; return true;
    case 'v': *out = '\v'; return true;
    default: break;
  }
  if (std::strchr("dDwWsSbBAzZGhHRXNKCQEpPkgexc0123456789uUlL", c)) return false;
  *out = c;  // \. \\ \( \- ... stand for themselves
  return true;
}

}  // namespace

std::string required_literal(std::string_view re) {
  // An inline flag group at the very start ((?i), (?s)...) changes no literal requirement.
  std::size_t i = 0;
  std::vector<std::string> runs;
  std::string run;
  auto flush = [&] {
    if (!run.empty()) runs.push_back(run);
    run.clear();
  };
  bool last_was_literal = false;
  while (i < re.size()) {
    char c = re[i];
    if (c == '|') return "";  // top-level alternation: no single literal is required
    if (c == '\\') {
      if (i + 1 >= re.size()) return "";
      char lit;
      if (escaped_literal(re[i + 1], &lit)) {
        run += lit;
        last_was_literal = true;
      } else {
        flush();
        last_was_literal = false;
      }
      i += 2;
      continue;
    }
    if (c == '(') {
      // Skip the whole group: its content may be optional or alternated.
      int depth = 0;
      bool in_class = false;
      std::size_t j = i;
      for (; j < re.size(); ++j) {
        char d = re[j];
        if (d == '\\') { ++j; continue; }
        if (in_class) { if (d == ']') in_class = false; continue; }
        if (d == '[') { in_class = true; continue; }
        if (d == '(') ++depth;
        else if (d == ')' && --depth == 0) break;
      }
      if (j >= re.size()) return "";
      flush();
      last_was_literal = false;
      i = j + 1;
      continue;
    }
    if (c == '[') {
      std::size_t j = i + 1;
      if (j < re.size() && re[j] == '^') ++j;
      if (j < re.size() && re[j] == ']') ++j;
      for (; j < re.size() && re[j] != ']'; ++j)
        if (re[j] == '\\') ++j;
      if (j >= re.size()) return "";
      flush();
      last_was_literal = false;
      i = j + 1;
      continue;
    }
    if (c == '*' || c == '?' || c == '{') {
      // The previous atom may be absent: drop it from the run.
      if (last_was_literal && !run.empty()) run.pop_back();
      flush();
      last_was_literal = false;
      if (c == '{') {
        std::size_t j = re.find('}', i);
        if (j == std::string_view::npos) return "";
        i = j + 1;
      } else {
        ++i;
      }
      if (i < re.size() && (re[i] == '?' || re[i] == '+')) ++i;  // lazy / possessive
      continue;
    }
    if (c == '+') {
      flush();
      last_was_literal = false;
      ++i;
      if (i < re.size() && (re[i] == '?' || re[i] == '+')) ++i;
      continue;
    }
    if (c == '.' || c == '^' || c == '$') {
      flush();
      last_was_literal = false;
      ++i;
      continue;
    }
    run += c;
    last_was_literal = true;
    ++i;
  }
  flush();
  std::string best;
  for (const std::string& r : runs)
    if (r.size() > best.size()) best = r;
  return best;
}

}  // namespace vigil::rules
