#include "rules/condition_analysis.h"
#include "core/ascii.h"

#include <optional>
#include <vector>

namespace vigil::rules {

namespace {

bool same_tree(const CondNode& a, const CondNode& b) {
  if (a.kind != b.kind || a.children.size() != b.children.size()) return false;
  if (a.kind == CondNode::Kind::kPred) return a.pred == b.pred;
  for (std::size_t i = 0; i < a.children.size(); ++i)
    if (!same_tree(a.children[i], b.children[i])) return false;
  return true;
}


class Prover {
 public:
  explicit Prover(const SigmaRule& r) : rule_(r) {}

  // nullopt: unknown; false: proven never true (reason_ says why); true: constant true.
  std::optional<bool> fold(const CondNode& n) {
    switch (n.kind) {
      case CondNode::Kind::kTrue: return true;
      case CondNode::Kind::kFalse: return false;
      case CondNode::Kind::kPred: return std::nullopt;
      case CondNode::Kind::kNot: {
        if (n.children.size() != 1) return std::nullopt;
        std::optional<bool> v = fold(n.children[0]);
        if (v) return !*v;
        return std::nullopt;
      }
      case CondNode::Kind::kOr: {
        bool all_false = !n.children.empty();
        for (const CondNode& c : n.children) {
          std::optional<bool> v = fold(c);
          if (v && *v) return true;
          if (!v || *v) all_false = false;
        }
        if (all_false) return false;
        return std::nullopt;
      }
      case CondNode::Kind::kAnd: {
        bool all_true = true;
        for (const CondNode& c : n.children) {
          std::optional<bool> v = fold(c);
          if (v && !*v) return false;
          if (!v) all_true = false;
        }
        if (contradiction(n)) return false;
        if (all_true) return true;
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  std::string reason;

 private:
  bool contradiction(const CondNode& n) {
    // x and not x
    for (const CondNode& a : n.children) {
      if (a.kind != CondNode::Kind::kNot || a.children.size() != 1) continue;
      for (const CondNode& b : n.children)
        if (&b != &a && same_tree(b, a.children[0])) {
          reason = "a term and its negation are AND'ed (`x and not x`)";
          return true;
        }
    }
    // Two different exact values required of one field.
    for (std::size_t i = 0; i < n.children.size(); ++i) {
      const Predicate* p = exact(n.children[i]);
      if (!p) continue;
      for (std::size_t j = i + 1; j < n.children.size(); ++j) {
        const Predicate* q = exact(n.children[j]);
        if (!q || q->field != p->field) continue;
        bool differ = (p->cased || q->cased) ? p->value != q->value : ascii_lower(p->value) != ascii_lower(q->value);
        if (differ) {
          reason = "field " + p->field + " must equal both '" + p->value + "' and '" + q->value +
                   "' (impossible unless the event repeats the field)";
          return true;
        }
      }
    }
    return false;
  }

  const Predicate* exact(const CondNode& n) const {
    if (n.kind != CondNode::Kind::kPred || n.pred >= rule_.predicates.size()) return nullptr;
    const Predicate& p = rule_.predicates[n.pred];
    if (p.op != MatchOp::kEquals || p.field.empty()) return nullptr;
    return &p;
  }

  const SigmaRule& rule_;
};

}  // namespace

std::string never_true_reason(const SigmaRule& rule) {
  Prover prover(rule);
  std::optional<bool> v = prover.fold(rule.condition);
  if (v && !*v) return prover.reason.empty() ? "the condition folds to false" : prover.reason;
  return "";
}

}  // namespace vigil::rules
