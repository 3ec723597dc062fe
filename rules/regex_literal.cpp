#include "rules/regex_literal.h"

#include <algorithm>
#include <cstring>
#include <optional>
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

using LiteralSet = std::vector<std::string>;  // one of these occurs in every match

// Shortest member: how selective the set is at worst.
std::size_t weakest(const LiteralSet& s) {
  std::size_t m = SIZE_MAX;
  for (const std::string& x : s) m = std::min(m, x.size());
  return m;
}

bool better(const LiteralSet& a, const LiteralSet& b) {
  if (weakest(a) != weakest(b)) return weakest(a) > weakest(b);
  return a.size() < b.size();
}

// Recursive descent over a PCRE pattern. Each alternative yields the best literal set it must
// contain; an alternation needs one from every branch (their union). Anything not understood
// makes the construct yield nothing, which is always safe.
class Analyzer {
 public:
  explicit Analyzer(std::string_view re) : re_(re) {}

  std::optional<LiteralSet> alternation() {
    std::optional<LiteralSet> all = LiteralSet{};
    bool any_branch = false;
    for (;;) {
      std::optional<LiteralSet> branch = sequence();
      any_branch = true;
      if (!branch || branch->empty()) all.reset();
      else if (all) all->insert(all->end(), branch->begin(), branch->end());
      if (pos_ < re_.size() && re_[pos_] == '|') {
        ++pos_;
        continue;
      }
      break;
    }
    if (!any_branch || !all || all->empty()) return std::nullopt;
    std::sort(all->begin(), all->end());
    all->erase(std::unique(all->begin(), all->end()), all->end());
    return all;
  }

  bool ok() const { return !failed_; }
  bool at_end() const { return pos_ >= re_.size(); }

 private:
  // One branch: up to '|' or ')' at this depth.
  std::optional<LiteralSet> sequence() {
    std::optional<LiteralSet> best;
    std::string run;
    bool last_literal = false;
    auto consider = [&](LiteralSet s) {
      if (s.empty() || weakest(s) == 0) return;
      if (!best || better(s, *best)) best = std::move(s);
    };
    auto flush = [&] {
      if (!run.empty()) consider(LiteralSet{run});
      run.clear();
    };
    while (pos_ < re_.size() && !failed_) {
      char c = re_[pos_];
      if (c == '|' || c == ')') break;
      if (c == '\\') {
        if (pos_ + 1 >= re_.size()) { failed_ = true; break; }
        char lit;
        if (escaped_literal(re_[pos_ + 1], &lit)) {
          run += lit;
          last_literal = true;
        } else {
          flush();
          last_literal = false;
        }
        pos_ += 2;
        continue;
      }
      if (c == '(') {
        flush();
        last_literal = false;
        ++pos_;
        bool usable = true;
        if (pos_ < re_.size() && re_[pos_] == '?') {
          // (?: group, (?i) flags, lookarounds, named groups.
          if (pos_ + 1 < re_.size() && re_[pos_ + 1] == ':') {
            pos_ += 2;
          } else if (pos_ + 1 < re_.size() && (re_[pos_ + 1] == 'P' || re_[pos_ + 1] == '<') &&
                     pos_ + 2 < re_.size() && re_[pos_ + 2] != '=' && re_[pos_ + 2] != '!') {
            std::size_t close = re_.find('>', pos_);
            if (close == std::string_view::npos) { failed_ = true; break; }
            pos_ = close + 1;
          } else {
            usable = false;  // lookaround or inline flags: contributes nothing
          }
        }
        std::optional<LiteralSet> inner = alternation();
        if (pos_ >= re_.size() || re_[pos_] != ')') { failed_ = true; break; }
        ++pos_;
        bool optional_group = false;
        skip_quantifier(&optional_group);
        if (usable && !optional_group && inner) consider(*inner);
        continue;
      }
      if (c == '[') {
        std::size_t j = pos_ + 1;
        if (j < re_.size() && re_[j] == '^') ++j;
        if (j < re_.size() && re_[j] == ']') ++j;
        for (; j < re_.size() && re_[j] != ']'; ++j)
          if (re_[j] == '\\') ++j;
        if (j >= re_.size()) { failed_ = true; break; }
        flush();
        last_literal = false;
        pos_ = j + 1;
        bool unused;
        skip_quantifier(&unused);
        continue;
      }
      if (c == '*' || c == '?' || c == '{' || c == '+') {
        // A repeated atom ends the run: what follows may come after any number of copies. When
        // the atom may be absent (*, ?, {0,n}) it is dropped from the run too; with + or
        // {n,m} (n >= 1) it is there at least once, so the run up to it holds.
        bool zero = false;
        if (!skip_quantifier(&zero)) { failed_ = true; break; }
        if (zero && last_literal && !run.empty()) run.pop_back();
        flush();
        last_literal = false;
        continue;
      }
      if (c == '.' || c == '^' || c == '$') {
        flush();
        last_literal = false;
        ++pos_;
        continue;
      }
      run += c;
      last_literal = true;
      ++pos_;
    }
    flush();
    return best;
  }

  // Skips a quantifier at pos_ if there is one (false when there is none, or a '{' with no
  // '}'); *zero tells whether it allows zero repeats. A '{' that is not a well-formed {n},
  // {n,} or {n,m} (PCRE reads it as a literal brace) counts as allowing zero: its characters
  // are skipped, which can only shorten a run, never claim one that a match may lack.
  bool skip_quantifier(bool* zero) {
    *zero = false;
    if (pos_ >= re_.size()) return false;
    char c = re_[pos_];
    if (c == '*' || c == '?') {
      *zero = true;
      ++pos_;
    } else if (c == '+') {
      ++pos_;
    } else if (c == '{') {
      std::size_t close = re_.find('}', pos_);
      if (close == std::string_view::npos) return false;
      const std::string_view body = re_.substr(pos_ + 1, close - pos_ - 1);
      auto is_digit = [](char d) { return d >= '0' && d <= '9'; };
      const std::size_t comma = body.find(',');
      const std::string_view low = body.substr(0, comma);
      const std::string_view high = comma == std::string_view::npos ? std::string_view() : body.substr(comma + 1);
      const bool well_formed = !low.empty() && std::all_of(low.begin(), low.end(), is_digit) &&
                               std::all_of(high.begin(), high.end(), is_digit);
      *zero = !well_formed || low.find_first_not_of('0') == std::string_view::npos;
      pos_ = close + 1;
    } else {
      return false;
    }
    if (pos_ < re_.size() && (re_[pos_] == '?' || re_[pos_] == '+')) ++pos_;  // lazy/possessive
    return true;
  }

  std::string_view re_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace

std::vector<std::string> required_literals(std::string_view regex) {
  Analyzer a(regex);
  std::optional<LiteralSet> set = a.alternation();
  if (!a.ok() || !a.at_end() || !set) return {};
  return *set;
}

std::string required_literal(std::string_view regex) {
  std::vector<std::string> set = required_literals(regex);
  return set.size() == 1 ? set[0] : std::string();
}

}  // namespace vigil::rules
