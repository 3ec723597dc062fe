#include "rules/compiler.h"

#include <malloc.h>

#include <hs/hs.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "core/json_text.h"
#include "core/parse/web_normalize.h"
#include "rules/compiled_rules.h"
#include "rules/database_cache.h"
#include "rules/regex_literal.h"
#include "core/ascii.h"

namespace vigil::rules {

CompiledRules::~CompiledRules() {
  if (text_db) hs_free_database(text_db);
  if (views_db) hs_free_database(views_db);
  for (JsonRoute& route : json_routes) {
    if (route.keyword_db) hs_free_database(route.keyword_db);
    for (JsonRoute::Layout& layout : route.layouts)
      if (layout.db) hs_free_database(layout.db);
  }
  if (all_keywords_db) hs_free_database(all_keywords_db);
  for (FieldRegexDatabase& r : regex_dbs)
    if (r.db && r.owns_db) hs_free_database(r.db);
  for (CompiledPredicate& p : preds)
    if (p.pcre) pcre2_code_free(p.pcre);
}

RuleSet::RuleSet(std::unique_ptr<CompiledRules> compiled) : compiled_(std::move(compiled)) {}
RuleSet::~RuleSet() = default;
std::size_t RuleSet::size() const { return compiled_->sources.size(); }
const SigmaRule& RuleSet::rule(std::size_t index) const { return compiled_->sources[index]; }
const hs_database* RuleSet::text_database() const { return compiled_->text_db; }

namespace {

bool is_string_op(MatchOp op) {
  return op == MatchOp::kEquals || op == MatchOp::kContains || op == MatchOp::kStartsWith ||
         op == MatchOp::kEndsWith;
}


// The raw JSON holds a value's escaped form; escaping is per character, so a literal's escaped
// form occurs wherever the literal occurs in a value.
std::string json_escape(std::string_view s) {
  std::string out;
  append_json_escaped(out, s, InvalidUtf8::kKeep);
  return out;
}

bool parse_cidr(const std::string& text, CompiledPredicate& p) {
  return parse_ip_network(text, &p.cidr) == IpNetworkError::kNone;
}

// A prefilter literal is scoped to the field its predicate reads ("" = keyword: any value or
// the whole record), so that a JSON event is scanned field by field, each value against only
// the literals of that field.
struct LiteralKey {
  std::string field;
  std::string text;
  bool caseless;
  bool operator==(const LiteralKey& o) const {
    return caseless == o.caseless && text == o.text && field == o.field;
  }
};
struct LiteralKeyHash {
  std::size_t operator()(const LiteralKey& k) const {
    return std::hash<std::string>()(k.text) * 31 + std::hash<std::string>()(k.field) +
           (k.caseless ? 0x9e3779b9u : 0u);
  }
};

struct CoverSet {
  std::vector<std::uint32_t> literals;
  bool weak = false;
};
using Cover = std::optional<CoverSet>;  // nullopt: no cover (always evaluate)

// A route field with at least this many literals is laid out and scanned on its own
// (JsonRoute::layouts). Measured on OTRF with every SigmaHQ Windows rule: 16 beats one layout
// per route (875 vs 811 ms a pass) and is level with one per field (830 ms) in fewer scans.
constexpr std::size_t kOwnLayoutLiterals = 16;

class Builder {
 public:
  Builder(const CompileOptions& options, CompileReport& report)
      : options_(options), report_(report), out_(std::make_unique<CompiledRules>()) {}

  std::unique_ptr<CompiledRules> take() { return std::move(out_); }
  CompiledRules& out() { return *out_; }

  // Adds one rule; returns false (with an error recorded) if it cannot be compiled.
  bool add_rule(SigmaRule rule, const LogsourceMap& mapping) {
    for (const std::string& f : rule.correlation_fields) intern_field(f);
    bool mapped = false;
    std::vector<LogsourceVariant> variants =
        mapping.variants_for(rule.product, rule.category, rule.service, &mapped);
    if (!mapped && (!rule.product.empty() || !rule.category.empty() || !rule.service.empty())) {
      // No mapping says how to recognise these events (cloud, zeek, macOS...): the rule runs
      // only on events whose collector (or `vigil scan --logsource`) declares that logsource,
      // never on whatever else happens to pass by.
      variants.clear();
      variants.push_back(declared_logsource_variant(rule));
    }
    std::vector<std::uint32_t> variant_roots, variant_conditions, variant_detections;
    bool unconditional_variant = false;
    std::string error_reason, error_message;
    std::uint32_t format_mask = 0;
    for (const LogsourceVariant& v : variants) {
      // A variant that names `_format`s applies to those formats only; so can the rule.
      // One that needs a declared logsource (`_product`...) applies to declared events only.
      std::uint32_t variant_mask = 0;
      bool needs_declared = false;
      for (const Predicate& c : v.conditions) {
        LogFormat f;
        if (c.field == "_format" && c.op == MatchOp::kEquals && parse_log_format(c.value, &f))
          variant_mask |= format_bit(f);
        if (c.field == "_product" || c.field == "_category" || c.field == "_service")
          needs_declared = true;
      }
      if (variant_mask == 0) variant_mask = needs_declared ? kDeclaredLogsourceBit : kAllFormats;
      format_mask |= variant_mask;
      std::optional<std::uint32_t> cond;
      if (!v.conditions.empty()) {
        cond = translate(v.condition, v.conditions, {}, /*logsource=*/true, &error_reason,
                         &error_message);
        if (!cond) break;
      }
      auto det = translate(rule.condition, rule.predicates, v.renames, false, &error_reason,
                           &error_message);
      if (!det) {
        cond.reset();
        variant_roots.clear();
        break;
      }
      variant_roots.push_back(cond ? make_node(CondNode::Kind::kAnd, {*cond, *det}) : *det);
      variant_detections.push_back(*det);
      if (cond) variant_conditions.push_back(*cond);
      else unconditional_variant = true;
    }
    if (variant_roots.empty()) {
      if (error_reason.empty()) {
        error_reason = "no_variant";
        error_message = "the logsource mapping produced no variant for this rule";
      }
      report_.errors.push_back(
          LoadError{rule.path, rule.line, rule.id, error_reason, error_message});
      return false;
    }
    std::uint32_t root = variant_roots.size() == 1
                             ? variant_roots[0]
                             : make_node(CondNode::Kind::kOr, variant_roots);
    CompiledRule cr;
    cr.source = static_cast<std::uint32_t>(out_->sources.size());
    cr.root = root;
    cr.routed_root = variant_roots.size() == 1 ? variant_detections[0] : root;
    cr.format_mask = format_mask;
    for (const Predicate& p : rule.predicates)
      if (p.field.empty()) cr.reads_all_fields = true;
    if (unconditional_variant || variant_conditions.empty()) {
      CompiledNode t;
      t.kind = CondNode::Kind::kTrue;
      out_->nodes.push_back(t);
      cr.logsource_root = static_cast<std::uint32_t>(out_->nodes.size() - 1);
    } else {
      cr.logsource_root = variant_conditions.size() == 1
                              ? variant_conditions[0]
                              : make_node(CondNode::Kind::kOr, variant_conditions);
    }
    if (cr.reads_all_fields) out_->keyword_rules.push_back(static_cast<std::uint32_t>(out_->rules.size()));
    out_->sources.push_back(std::move(rule));
    out_->rules.push_back(cr);
    return true;
  }

  Status finish() {
    compute_covers();
    if (Status s = build_literal_db(); !s.ok()) return s;
    if (Status s = build_json_routes(); !s.ok()) return s;
    build_route_gates();
    settle_confirming_covers();
    build_regex_dbs();
    order_children_by_cost();
    report_.literals = literal_texts_.size();
    report_.rules_compiled = out_->rules.size();
    return Status::Ok();
  }

 private:
  static LogsourceVariant declared_logsource_variant(const SigmaRule& rule) {
    LogsourceVariant v;
    v.name = "declared";
    v.condition.kind = CondNode::Kind::kAnd;
    auto add = [&](const char* field, const std::string& value) {
      if (value.empty()) return;
      Predicate p;
      p.field = field;
      p.op = MatchOp::kEquals;
      p.value = value;
      CondNode leaf;
      leaf.kind = CondNode::Kind::kPred;
      leaf.pred = static_cast<std::uint32_t>(v.conditions.size());
      v.conditions.push_back(std::move(p));
      v.condition.children.push_back(std::move(leaf));
    };
    add("_product", rule.product);
    add("_category", rule.category);
    add("_service", rule.service);
    return v;
  }

  std::uint32_t make_node(CondNode::Kind kind, const std::vector<std::uint32_t>& kids) {
    CompiledNode n;
    n.kind = kind;
    n.first_child = static_cast<std::uint32_t>(out_->children.size());
    n.child_count = static_cast<std::uint32_t>(kids.size());
    out_->children.insert(out_->children.end(), kids.begin(), kids.end());
    out_->nodes.push_back(n);
    return static_cast<std::uint32_t>(out_->nodes.size() - 1);
  }

  std::optional<std::uint32_t> translate(const CondNode& node, const std::vector<Predicate>& preds,
                                         const std::map<std::string, std::string>& renames,
                                         bool logsource, std::string* reason, std::string* msg) {
    switch (node.kind) {
      case CondNode::Kind::kTrue:
      case CondNode::Kind::kFalse: {
        CompiledNode n;
        n.kind = node.kind;
        out_->nodes.push_back(n);
        return static_cast<std::uint32_t>(out_->nodes.size() - 1);
      }
      case CondNode::Kind::kPred: {
        if (node.pred >= preds.size()) {
          *reason = "bad_condition";
          *msg = "condition refers to a missing predicate";
          return std::nullopt;
        }
        auto id = intern_predicate(preds[node.pred], renames, logsource, reason, msg);
        if (!id) return std::nullopt;
        CompiledNode n;
        n.kind = CondNode::Kind::kPred;
        n.pred = *id;
        out_->nodes.push_back(n);
        return static_cast<std::uint32_t>(out_->nodes.size() - 1);
      }
      case CondNode::Kind::kAnd:
      case CondNode::Kind::kOr:
      case CondNode::Kind::kNot: {
        std::vector<std::uint32_t> kids;
        for (const CondNode& c : node.children) {
          auto k = translate(c, preds, renames, logsource, reason, msg);
          if (!k) return std::nullopt;
          kids.push_back(*k);
        }
        if (node.kind == CondNode::Kind::kNot && kids.size() != 1) {
          *reason = "bad_condition";
          *msg = "'not' needs exactly one operand";
          return std::nullopt;
        }
        if (kids.empty()) {
          *reason = "bad_condition";
          *msg = "empty and/or";
          return std::nullopt;
        }
        if (node.kind != CondNode::Kind::kNot && kids.size() == 1) return kids[0];
        return make_node(node.kind, kids);
      }
    }
    return std::nullopt;
  }

  std::optional<std::uint32_t> intern_predicate(const Predicate& p,
                                                const std::map<std::string, std::string>& renames,
                                                bool logsource, std::string* reason,
                                                std::string* msg) {
    CompiledPredicate c;
    c.op = p.op;
    c.field = p.field;
    if (auto it = renames.find(p.field); it != renames.end()) c.field = it->second;
    c.exists_expected = p.exists_expected;
    c.number = p.number;
    if (is_string_op(p.op)) {
      c.cased = p.cased;
      c.value = p.cased ? p.value : ascii_lower(p.value);
      // A control character other than \b \f \n \r \t would be escaped as \u00XX.
      c.has_escaped_value = std::none_of(c.value.begin(), c.value.end(), [](char ch) {
        return static_cast<unsigned char>(ch) < 0x20 && ch != '\b' && ch != '\f' && ch != '\n' &&
               ch != '\r' && ch != '\t';
      });
      if (c.has_escaped_value) c.escaped_value = json_escape(c.value);
    } else if (p.op == MatchOp::kRegex) {
      c.cased = !p.regex_i;
      c.value = p.value;
    } else if (p.op == MatchOp::kFieldRefEquals || p.op == MatchOp::kFieldRefContains ||
               p.op == MatchOp::kFieldRefStartsWith || p.op == MatchOp::kFieldRefEndsWith) {
      c.cased = p.cased;
      c.value = p.value;
      if (auto it = renames.find(p.value); it != renames.end()) c.value = it->second;
    } else {
      c.value = p.value;
    }
    // Dedup key: everything that affects the outcome, plus whether it is a logsource test
    // (those never feed the prefilter, so they must not merge with detection predicates).
    std::string key;
    key.reserve(c.field.size() + c.value.size() + 32);
    key += static_cast<char>(c.op);
    key += logsource ? 'L' : 'D';
    key += c.cased ? 'C' : 'c';
    key += p.regex_m ? 'M' : 'm';
    key += p.regex_s ? 'S' : 's';
    key += c.exists_expected ? 'E' : 'e';
    // The number's bits, not its text: exact, and formatting a double for each of tens of
    // thousands of predicates was a visible part of a warm load.
    key.append(reinterpret_cast<const char*>(&c.number), sizeof c.number);
    key += '\x1f';
    key += c.field;
    key += '\x1f';
    key += c.value;
    if (auto it = pred_index_.find(key); it != pred_index_.end()) return it->second;

    if (p.op == MatchOp::kCidr && !parse_cidr(c.value, c)) {
      *reason = "bad_value";
      *msg = "not a CIDR network: " + c.value;
      return std::nullopt;
    }
    // Pseudo-fields (`_format`...) are not in the raw bytes: never a literal for them.
    bool prefilterable = c.field.empty() || c.field[0] != '_';
    if (p.op == MatchOp::kRegex) {
      int errcode = 0;
      PCRE2_SIZE erroff = 0;
      std::uint32_t flags = (p.regex_i ? PCRE2_CASELESS : 0) | (p.regex_m ? PCRE2_MULTILINE : 0) |
                            (p.regex_s ? PCRE2_DOTALL : 0);
      c.pcre = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(c.value.data()), c.value.size(), flags,
                             &errcode, &erroff, nullptr);
      if (!c.pcre) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(errcode, buf, sizeof buf);
        *reason = "bad_regex";
        *msg = "regex " + c.value + ": " + reinterpret_cast<char*>(buf) + " at offset " +
               std::to_string(erroff);
        return std::nullopt;
      }
      pcre2_jit_compile(c.pcre, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if unsupported
      regex_flags_.push_back({static_cast<std::uint32_t>(out_->preds.size()), p.regex_m, p.regex_s});
      if (prefilterable) {
        // One required literal: it both gates the rule and settles the predicate when absent.
        // Several alternatives (`a|b`): they gate the rule only.
        std::vector<std::string> lits = required_literals(c.value);
        bool all_long = !lits.empty();
        for (const std::string& l : lits) all_long = all_long && long_enough(l);
        if (all_long && lits.size() == 1) {
          c.literal = intern_literal(c.field, ascii_lower(lits[0]), /*caseless=*/true);
        } else if (all_long) {
          for (const std::string& l : lits)
            c.cover_literals.push_back(
                static_cast<std::uint32_t>(intern_literal(c.field, ascii_lower(l), true)));
        }
      }
    } else if (is_string_op(p.op) && prefilterable && long_enough(c.value)) {
      c.literal = intern_literal(c.field, c.value, !c.cased);
    }
    if (!c.field.empty()) c.field_id = intern_field(c.field);
    if (p.op == MatchOp::kFieldRefEquals || p.op == MatchOp::kFieldRefContains ||
        p.op == MatchOp::kFieldRefStartsWith || p.op == MatchOp::kFieldRefEndsWith)
      c.ref_field_id = intern_field(c.value);
    c.routing = logsource;
    std::uint32_t id = static_cast<std::uint32_t>(out_->preds.size());
    out_->preds.push_back(std::move(c));
    pred_index_.emplace(std::move(key), id);
    return id;
  }

  // Short literals fire on nearly every event. A two-byte one made of punctuation ("#-",
  // "|$") is still rare in logs, so it is kept when that is all a rule offers.
  bool long_enough(const std::string& lit) const {
    if (lit.size() >= options_.min_literal_bytes) return true;
    if (lit.size() < 2) return false;
    for (char ch : lit)
      if (std::isalnum(static_cast<unsigned char>(ch))) return false;
    return true;
  }

  std::uint32_t intern_field(const std::string& name) {
    auto it = field_ids_.find(name);
    if (it != field_ids_.end()) return it->second;
    std::uint32_t id = static_cast<std::uint32_t>(out_->field_names.size());
    out_->field_names.push_back(name);
    field_ids_.emplace(name, id);
    return id;
  }

  std::int32_t intern_literal(const std::string& field, const std::string& text, bool caseless) {
    LiteralKey k{field, caseless ? ascii_lower(text) : text, caseless};
    auto it = literal_index_.find(k);
    if (it != literal_index_.end()) return it->second;
    std::int32_t id = static_cast<std::int32_t>(literal_texts_.size());
    literal_texts_.push_back(k);
    literal_index_.emplace(std::move(k), id);
    return id;
  }

  // Literal cover of a node: a set of literals, one of which occurs in every event the node
  // can be true for; nullopt when no such set exists. A cover built from logsource conditions
  // (a channel name, say) is `weak`: it is used only when the detection itself has none, so
  // that a rule is gated on its own literals whenever it can be.
  Cover cover(std::uint32_t n) {
    const CompiledNode& node = out_->nodes[n];
    switch (node.kind) {
      case CondNode::Kind::kFalse: return CoverSet{};
      case CondNode::Kind::kTrue: return std::nullopt;
      case CondNode::Kind::kNot: return std::nullopt;
      case CondNode::Kind::kPred: {
        const CompiledPredicate& p = out_->preds[node.pred];
        if (p.literal == kNoLiteral && p.cover_literals.empty()) return std::nullopt;
        CoverSet c;
        if (p.literal != kNoLiteral) c.literals.push_back(static_cast<std::uint32_t>(p.literal));
        else c.literals = p.cover_literals;
        c.weak = p.routing;  // a logsource condition
        return c;
      }
      case CondNode::Kind::kOr: {
        CoverSet all;
        for (std::uint32_t i = 0; i < node.child_count; ++i) {
          Cover c = cover(out_->children[node.first_child + i]);
          if (!c) return std::nullopt;
          all.literals.insert(all.literals.end(), c->literals.begin(), c->literals.end());
          all.weak = all.weak || c->weak;
        }
        std::sort(all.literals.begin(), all.literals.end());
        all.literals.erase(std::unique(all.literals.begin(), all.literals.end()), all.literals.end());
        return all;
      }
      case CondNode::Kind::kAnd: {
        Cover best;
        for (std::uint32_t i = 0; i < node.child_count; ++i) {
          Cover c = cover(out_->children[node.first_child + i]);
          if (c && (!best || better(*c, *best))) best = std::move(c);
        }
        return best;
      }
    }
    return std::nullopt;
  }

  // The covers of the parts of node n's `and` (nested `and`s flattened); n itself when it is
  // not an `and`. Parts without a cover are left out.
  void and_parts(std::uint32_t n, std::vector<CoverSet>& parts) {
    const CompiledNode& node = out_->nodes[n];
    if (node.kind == CondNode::Kind::kAnd) {
      for (std::uint32_t i = 0; i < node.child_count; ++i) and_parts(out_->children[node.first_child + i], parts);
      return;
    }
    if (Cover c = cover(n)) parts.push_back(std::move(*c));
  }

  // How unlikely a literal is to occur by chance, roughly its length: punctuation is rarer in
  // log values than letters, and a short all-letter word ("get", "true", "file") is common.
  static std::size_t rarity(const std::string& lit) {
    bool letters_only = true, punct = false;
    for (char ch : lit) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (!std::isalpha(c)) letters_only = false;
      if (!std::isalnum(c) && c != ' ') punct = true;
    }
    if (letters_only && lit.size() <= 4) return 1;
    return lit.size() + (punct ? 2 : 0);
  }

  // Strong before weak; then covers whose least rare literal is rarer (fewer chance hits);
  // then smaller covers.
  bool better(const CoverSet& a, const CoverSet& b) const {
    if (a.weak != b.weak) return !a.weak;
    auto min_len = [&](const std::vector<std::uint32_t>& v) {
      std::size_t m = SIZE_MAX;
      for (std::uint32_t l : v) m = std::min(m, rarity(literal_texts_[l].text));
      return m;
    };
    std::size_t la = std::min<std::size_t>(min_len(a.literals), 12);
    std::size_t lb = std::min<std::size_t>(min_len(b.literals), 12);
    if (la != lb) return la > lb;
    return a.literals.size() < b.literals.size();
  }

  void compute_covers() {
    std::vector<std::vector<std::uint32_t>> per_literal(literal_texts_.size());
    rule_covers_.assign(out_->rules.size(), std::nullopt);
    for (std::uint32_t r = 0; r < out_->rules.size(); ++r) {
      Cover c = cover(out_->rules[r].root);
      if (!c) {
        out_->rules[r].always = true;
        out_->always_rules.push_back(r);
        continue;
      }
      for (std::uint32_t l : c->literals) per_literal[l].push_back(r);
      // The confirming cover: the best part of the top-level `and` sharing no literal with the
      // gating cover, of field literals only (keyword literals no rule is gated on are not
      // kept, and they are scanned over the raw record, not per field).
      std::vector<CoverSet> parts;
      and_parts(out_->rules[r].root, parts);
      const CoverSet* confirm = nullptr;
      for (const CoverSet& part : parts) {
        bool usable = !part.weak && !part.literals.empty();
        for (std::uint32_t l : part.literals)
          usable = usable && !literal_texts_[l].field.empty() &&
                   std::find(c->literals.begin(), c->literals.end(), l) == c->literals.end();
        if (usable && (confirm == nullptr || better(part, *confirm))) confirm = &part;
      }
      if (confirm != nullptr) out_->rules[r].confirm_literals = confirm->literals;
      rule_covers_[r] = std::move(c);
    }
    // Literals go into the databases when some rule is gated on them, and field literals also
    // when no rule is: per-field scans are short, and a literal known absent settles its
    // predicate without reading the value. Unused keyword literals would cost a scan of every
    // raw record, so they are dropped. Renumber what is kept.
    std::vector<std::int32_t> renumber(literal_texts_.size(), kNoLiteral);
    std::vector<LiteralKey> kept;
    std::vector<std::vector<std::uint32_t>> kept_rules;
    for (std::uint32_t l = 0; l < literal_texts_.size(); ++l) {
      if (per_literal[l].empty() && literal_texts_[l].field.empty()) continue;
      renumber[l] = static_cast<std::int32_t>(kept.size());
      kept.push_back(literal_texts_[l]);
      kept_rules.push_back(std::move(per_literal[l]));
    }
    for (CompiledPredicate& p : out_->preds) {
      if (p.literal != kNoLiteral) p.literal = renumber[static_cast<std::size_t>(p.literal)];
      std::vector<std::uint32_t> kept_cover;  // alternatives of a regex no rule is gated on go
      for (std::uint32_t l : p.cover_literals)
        if (renumber[l] != kNoLiteral) kept_cover.push_back(static_cast<std::uint32_t>(renumber[l]));
      p.cover_literals = kept_cover.size() == p.cover_literals.size() ? kept_cover
                                                                     : std::vector<std::uint32_t>{};
    }
    for (Cover& c : rule_covers_)
      if (c)
        for (std::uint32_t& l : c->literals) l = static_cast<std::uint32_t>(renumber[l]);
    for (CompiledRule& rule : out_->rules)
      for (std::uint32_t& l : rule.confirm_literals) l = static_cast<std::uint32_t>(renumber[l]);  // field literals: kept
    literal_texts_ = std::move(kept);
    per_literal = std::move(kept_rules);
    out_->literal_rules_offset.assign(1, 0);
    for (auto& v : per_literal) {
      out_->literal_rules.insert(out_->literal_rules.end(), v.begin(), v.end());
      out_->literal_rules_offset.push_back(static_cast<std::uint32_t>(out_->literal_rules.size()));
    }
    report_.always_evaluated = out_->always_rules.size();
  }

  // The forms of each literal a database holds.
  enum class Forms {
    kPlain,              // as decoded text (text records)
    kPlainAndEscaped,    // both (raw JSON records; the matcher handles \u and \/ escapes)
    kCanonicalEscaped,   // the JSON-escaped form only (route layouts, JsonRoute)
  };

  // Compiles one literal database. Pattern ids are literal ids, or `pattern_ids` (when not
  // null, parallel to `literals`). `single_match`: report each pattern once per scan (enough
  // when any occurrence counts).
  // The patterns a database of these literals holds, in `forms`, with their literal's index
  // in `literals`.
  struct LiteralPattern {
    KeywordPrefilter::Pattern pattern;
    std::size_t literal = 0;
  };
  std::vector<LiteralPattern> literal_patterns(const std::vector<std::uint32_t>& literals, Forms forms) const {
    std::vector<LiteralPattern> out;
    for (std::size_t i = 0; i < literals.size(); ++i) {
      const LiteralKey& k = literal_texts_[literals[i]];
      if (forms != Forms::kCanonicalEscaped) out.push_back({{k.text, k.caseless}, i});
      if (forms == Forms::kPlain) continue;
      std::string escaped = json_escape(k.text);
      if (forms == Forms::kCanonicalEscaped || escaped != k.text) out.push_back({{std::move(escaped), k.caseless}, i});
    }
    return out;
  }

  // Every database goes through here: the cache (when configured) and the report's counts.
  HyperscanCompiled compile_database(const HyperscanPatterns& patterns) {
    HyperscanCompiled out = compile_hyperscan(patterns, options_.cache);
    if (out.from_cache) report_.databases_from_cache++;
    else report_.databases_compiled++;
    return out;
  }

  Result<hs_database_t*> compile_literals(const std::vector<std::uint32_t>& literals,
                                          Forms forms, const char* what,
                                          const std::vector<std::uint32_t>* pattern_ids = nullptr,
                                          bool single_match = true) {
    const std::vector<LiteralPattern> patterns = literal_patterns(literals, forms);
    if (patterns.empty()) return static_cast<hs_database_t*>(nullptr);
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    std::vector<unsigned> flags, ids;
    for (const LiteralPattern& lp : patterns) {
      ptrs.push_back(lp.pattern.text.data());
      lens.push_back(lp.pattern.text.size());
      flags.push_back((single_match ? HS_FLAG_SINGLEMATCH : 0u) | (lp.pattern.caseless ? HS_FLAG_CASELESS : 0u));
      ids.push_back(pattern_ids ? (*pattern_ids)[lp.literal] : literals[lp.literal]);
    }
    HyperscanPatterns in;
    in.expressions = ptrs.data();
    in.lengths = lens.data();
    in.flags = flags.data();
    in.ids = ids.data();
    in.count = static_cast<unsigned>(ptrs.size());
    HyperscanCompiled compiled = compile_database(in);
    if (!compiled.db)
      return Error(Status::Internal(std::string("hyperscan could not compile the ") + what +
                                    " literal database: " + compiled.error_message));
    hs_database_t* db = compiled.db;
    std::size_t size = 0;
    hs_database_size(db, &size);
    report_.database_bytes += size;
    report_.hyperscan_patterns += patterns.size();
    return db;
  }

  Status build_literal_db() {
    // Text records (syslog, access logs, CEF, key=value) hold their values verbatim: one scan
    // of the raw line against every literal of the rules that can apply to text. JSON events
    // are scanned per route over their fields' values in canonical JSON-escaped form
    // (build_json_routes, JsonRoute), plus one raw scan for keywords.
    // Literals of the derived web views (cs-uri-norm...) are not in the raw-line database: the
    // raw line also holds the method, the referer and the user agent, so a view literal such
    // as "://" or "get" would be found in nearly every access-log line and make its rules
    // candidates for all of them. They are looked for in the view values alone (views_db,
    // scanned over every view of a web record), so a hit is a hit in its own field.
    std::vector<std::uint32_t> text_literals, view_literals;
    for (std::uint32_t l = 0; l < literal_texts_.size(); ++l) {
      const LiteralKey& k = literal_texts_[l];
      out_->literal_text.push_back(k.field.empty() ? k.text : k.field + ":" + k.text);
      bool for_text = false, for_json = false;
      for (std::uint32_t i = out_->literal_rules_offset[l]; i < out_->literal_rules_offset[l + 1]; ++i) {
        std::uint32_t mask = out_->rules[out_->literal_rules[i]].format_mask;
        if (mask & kDeclaredLogsourceBit) mask = kAllFormats;  // declared input may be any format
        for_text = for_text || (mask & ~format_bit(LogFormat::kJson)) != 0;
        for_json = for_json || (mask & format_bit(LogFormat::kJson)) != 0;
      }
      std::uint8_t scope = 0;
      if (for_text) {
        if (parse::is_web_view_name(k.field)) view_literals.push_back(l);
        else text_literals.push_back(l);
        scope |= kScannedInText;
      }
      if (k.field.empty() && for_json) scope |= kScannedInJson;  // route keyword databases
      out_->literal_scope.push_back(scope);
    }
    auto text = compile_literals(text_literals, Forms::kPlain, "text");
    if (!text) return text.error();
    out_->text_db = *text;
    auto views = compile_literals(view_literals, Forms::kPlain, "derived field");
    if (!views) return views.error();
    out_->views_db = *views;
    out_->selection = std::make_unique<parse::FieldSelection>(out_->field_names);
    return Status::Ok();
  }

  // Canonical text of a condition tree (predicates are de-duplicated, nodes are not), so that
  // rules with the same logsource conditions share a route.
  void condition_key(std::uint32_t n, std::string& key) const {
    const CompiledNode& nd = out_->nodes[n];
    key += static_cast<char>('0' + static_cast<int>(nd.kind));
    if (nd.kind == CondNode::Kind::kPred) {
      key += std::to_string(nd.pred);
      key += ',';
      return;
    }
    key += '(';
    for (std::uint32_t i = 0; i < nd.child_count; ++i) condition_key(out_->children[nd.first_child + i], key);
    key += ')';
  }

  // Detection predicates (not logsource conditions) under node n.
  void detection_preds(std::uint32_t n, std::vector<std::uint32_t>& out) const {
    const CompiledNode& nd = out_->nodes[n];
    if (nd.kind == CondNode::Kind::kPred) {
      if (!out_->preds[nd.pred].routing) out.push_back(nd.pred);
      return;
    }
    for (std::uint32_t i = 0; i < nd.child_count; ++i) detection_preds(out_->children[nd.first_child + i], out);
  }

  // JSON events are routed by their logsource first (see JsonRoute): each route gets one
  // literal database for the fields its rules read, holding the field literals of their
  // detection predicates that gate a rule (are in a cover; a scanned literal's absence also
  // settles its predicate), each under a route literal id that names its field.
  Status build_json_routes() {
    const std::uint32_t json_bits = format_bit(LogFormat::kJson) | kDeclaredLogsourceBit;
    std::unordered_map<std::string, std::uint32_t> route_index;
    std::vector<std::vector<std::uint32_t>> route_rules;
    std::vector<bool> is_route_field(out_->field_names.size(), false);
    for (std::uint32_t r = 0; r < out_->rules.size(); ++r) {
      const CompiledRule& rule = out_->rules[r];
      if ((rule.format_mask & json_bits) == 0) continue;  // never applies to a JSON event
      std::string key = std::to_string(rule.format_mask) + ':';
      condition_key(rule.logsource_root, key);
      auto [it, added] = route_index.emplace(std::move(key), static_cast<std::uint32_t>(out_->json_routes.size()));
      if (added) {
        JsonRoute route;
        route.condition = rule.logsource_root;
        route.format_mask = rule.format_mask;
        out_->json_routes.push_back(std::move(route));
        route_rules.emplace_back();
        std::vector<std::uint32_t> conds;
        collect_preds(rule.logsource_root, conds);
        for (std::uint32_t p : conds) {
          const CompiledPredicate& cp = out_->preds[p];
          if (cp.field_id != kNoField) is_route_field[cp.field_id] = true;
          if (cp.ref_field_id != kNoField) is_route_field[cp.ref_field_id] = true;
        }
      }
      route_rules[it->second].push_back(r);
    }
    for (std::uint32_t f = 0; f < is_route_field.size(); ++f)
      if (is_route_field[f]) out_->route_fields.push_back(f);

    // Which field literals the route databases hold: those that gate some rule of some route
    // (are in a cover), and those of `contains` and regex predicates. The others would only
    // settle an equals/startswith/endswith early when absent, which a comparison does about as
    // fast, and many of them fire on nearly every event (a filter's "c:\\windows\\system32\\"
    // under `not`): each hit costs a callback. Searching a whole value for a `contains` costs
    // more than the scan's hits, so those stay even when they gate nothing. Decided globally,
    // not per route, so that a predicate shared by rules of several routes is scanned in all
    // or in none of them (literal_scope: only a scanned literal's absence proves anything).
    std::vector<bool> scanned_in_json(literal_texts_.size(), false);
    for (std::uint32_t ri = 0; ri < out_->json_routes.size(); ++ri)
      for (std::uint32_t r : route_rules[ri])
        if (const Cover& c = rule_covers_[r]; c && !c->weak)
          for (std::uint32_t l : c->literals) scanned_in_json[l] = true;
    for (const CompiledPredicate& p : out_->preds)
      if (p.literal != kNoLiteral && (p.op == MatchOp::kContains || p.op == MatchOp::kRegex))
        scanned_in_json[static_cast<std::size_t>(p.literal)] = true;

    std::vector<std::uint32_t> preds;
    std::vector<bool> in_all_keywords(literal_texts_.size(), false);
    std::vector<std::uint32_t> all_keywords;
    std::size_t keyword_routes = 0;
    for (std::uint32_t ri = 0; ri < out_->json_routes.size(); ++ri) {
      JsonRoute& route = out_->json_routes[ri];
      // literal -> the route's rules gated on it; field id -> its literals
      std::map<std::uint32_t, std::vector<std::uint32_t>> gated;
      std::map<std::uint32_t, std::vector<std::uint32_t>> by_field;
      std::vector<std::uint32_t> keyword_literals;
      std::vector<bool> seen(literal_texts_.size(), false);
      auto add_literal = [&](std::uint32_t l) {
        const LiteralKey& k = literal_texts_[l];
        if (seen[l]) return;
        seen[l] = true;
        if (k.field.empty()) keyword_literals.push_back(l);  // the raw keyword scan
        else if (scanned_in_json[l]) by_field[field_ids_.at(k.field)].push_back(l);
      };
      for (std::uint32_t r : route_rules[ri]) {
        preds.clear();
        detection_preds(out_->rules[r].root, preds);
        for (std::uint32_t p : preds) {
          const CompiledPredicate& cp = out_->preds[p];
          if (cp.literal != kNoLiteral) add_literal(static_cast<std::uint32_t>(cp.literal));
          for (std::uint32_t l : cp.cover_literals) add_literal(l);
        }
        const Cover& c = rule_covers_[r];
        if (!c || c->weak) {
          route.always.push_back(r);
          continue;
        }
        // Keyword literals of the cover gate the rule through the raw keyword scan.
        for (std::uint32_t l : c->literals)
          if (!literal_texts_[l].field.empty()) gated[l].push_back(r);
      }
      auto keywords = compile_literals(keyword_literals, Forms::kPlainAndEscaped, "route keyword");
      if (!keywords) return keywords.error();
      route.keyword_db = *keywords;
      if (route.keyword_db) {
        ++keyword_routes;
        for (LiteralPattern& lp : literal_patterns(keyword_literals, Forms::kPlainAndEscaped))
          route.keyword_patterns.push_back(std::move(lp.pattern));
        route.keyword_prefilter = KeywordPrefilter::build(route.keyword_patterns);
      }
      for (std::uint32_t l : keyword_literals)
        if (!in_all_keywords[l]) {
          in_all_keywords[l] = true;
          all_keywords.push_back(l);
        }
      // Layouts: a field with many literals gets a scan of its own, the others share one. A
      // big literal set costs more per byte scanned, and the fields that have one (Image,
      // ImageLoaded, TargetFilename...) hold short values: one scan over them and a long value
      // (CallTrace, CommandLine of a route with few CommandLine literals) would make the long
      // value pay the big set's price. Each layout costs one hs_scan call per event.
      using FieldLiterals = std::pair<std::uint32_t, std::vector<std::uint32_t>>;
      std::vector<std::vector<FieldLiterals>> groups;
      std::vector<FieldLiterals> light;
      for (auto& [field_id, lits] : by_field) {
        if (lits.size() >= kOwnLayoutLiterals) groups.push_back({FieldLiterals{field_id, lits}});
        else light.emplace_back(field_id, lits);
      }
      if (!light.empty()) groups.push_back(std::move(light));
      for (const auto& group : groups) {
        JsonRoute::Layout layout;
        layout.first_slot = static_cast<std::uint32_t>(route.fields.size());
        std::vector<std::uint32_t> layout_lits, ids;
        for (const auto& [field_id, lits] : group) {
          const auto slot = static_cast<std::uint32_t>(route.fields.size());
          route.fields.push_back(field_id);
          for (std::uint32_t l : lits) {
            ids.push_back(static_cast<std::uint32_t>(out_->route_literals.size()));
            layout_lits.push_back(l);
            CompiledRules::RouteLiteral rl;
            rl.literal = l;
            rl.slot = slot;
            rl.rules_begin = static_cast<std::uint32_t>(out_->route_literal_rules.size());
            out_->literal_scope[l] |= kScannedInJson;
            auto g = gated.find(l);
            if (g != gated.end())
              out_->route_literal_rules.insert(out_->route_literal_rules.end(), g->second.begin(), g->second.end());
            rl.rules_end = static_cast<std::uint32_t>(out_->route_literal_rules.size());
            out_->route_literals.push_back(rl);
          }
        }
        layout.slot_count = static_cast<std::uint32_t>(route.fields.size()) - layout.first_slot;
        // Every occurrence is reported (no single-match): the first may lie in another field.
        auto db = compile_literals(layout_lits, Forms::kCanonicalEscaped, "route field", &ids,
                                   /*single_match=*/false);
        if (!db) return db.error();
        layout.db = *db;
        route.layouts.push_back(layout);
      }
    }
    if (keyword_routes >= 2) {
      auto all = compile_literals(all_keywords, Forms::kPlainAndEscaped, "keyword");
      if (!all) return all.error();
      out_->all_keywords_db = *all;
    }
    return Status::Ok();
  }

  // Rough cost of evaluating node n: comparisons of one value are cheap, searching a value
  // (contains) less so, regexes and keywords (every value) the most.
  std::uint32_t eval_cost(std::uint32_t n, std::vector<std::uint32_t>& memo) const {
    if (memo[n] != 0) return memo[n];
    const CompiledNode& nd = out_->nodes[n];
    std::uint32_t cost = 1;
    if (nd.kind == CondNode::Kind::kPred) {
      const CompiledPredicate& p = out_->preds[nd.pred];
      switch (p.op) {
        case MatchOp::kExists:
        case MatchOp::kNull: cost = 1; break;
        case MatchOp::kEquals:
        case MatchOp::kStartsWith:
        case MatchOp::kEndsWith: cost = 2; break;
        case MatchOp::kContains: cost = 6; break;
        case MatchOp::kRegex: cost = p.regex_db >= 0 && !p.regex_needs_confirm ? 12 : 24; break;
        default: cost = 4; break;  // numbers, CIDR, field references
      }
      if (p.field.empty()) cost *= 8;  // a keyword searches every value
    } else {
      for (std::uint32_t i = 0; i < nd.child_count; ++i)
        cost += eval_cost(out_->children[nd.first_child + i], memo);
    }
    memo[n] = cost;
    return cost;
  }

  // CompiledRules::eval_children: every `and`/`or` child list, cheapest first (stable).
  void order_children_by_cost() {
    out_->eval_children = out_->children;
    std::vector<std::uint32_t> memo(out_->nodes.size(), 0);
    for (const CompiledNode& nd : out_->nodes) {
      if (nd.kind != CondNode::Kind::kAnd && nd.kind != CondNode::Kind::kOr) continue;
      auto begin = out_->eval_children.begin() + nd.first_child;
      std::stable_sort(begin, begin + nd.child_count, [&](std::uint32_t a, std::uint32_t b) {
        return eval_cost(a, memo) < eval_cost(b, memo);
      });
    }
  }

  // Does the subtree under n read route fields only (no keyword, no other field)?
  bool reads_route_fields_only(std::uint32_t n, const std::vector<bool>& is_route_field) const {
    const CompiledNode& nd = out_->nodes[n];
    if (nd.kind == CondNode::Kind::kTrue || nd.kind == CondNode::Kind::kFalse) return true;
    if (nd.kind == CondNode::Kind::kPred) {
      const CompiledPredicate& p = out_->preds[nd.pred];
      if (p.field_id == kNoField || !is_route_field[p.field_id]) return false;
      return p.ref_field_id == kNoField || is_route_field[p.ref_field_id];
    }
    for (std::uint32_t i = 0; i < nd.child_count; ++i)
      if (!reads_route_fields_only(out_->children[nd.first_child + i], is_route_field)) return false;
    return true;
  }

  // A condition over route fields only that node n implies (n => gate), or kNoGate.
  std::uint32_t route_gate(std::uint32_t n, const std::vector<bool>& is_route_field) {
    if (reads_route_fields_only(n, is_route_field)) return n;
    const CompiledNode nd = out_->nodes[n];
    std::vector<std::uint32_t> gates;
    switch (nd.kind) {
      case CondNode::Kind::kAnd:  // every child is implied: AND the gates there are
        for (std::uint32_t i = 0; i < nd.child_count; ++i) {
          std::uint32_t g = route_gate(out_->children[nd.first_child + i], is_route_field);
          if (g != kNoGate) gates.push_back(g);
        }
        break;
      case CondNode::Kind::kOr:  // one child holds: only an OR of every child's gate is implied
        for (std::uint32_t i = 0; i < nd.child_count; ++i) {
          std::uint32_t g = route_gate(out_->children[nd.first_child + i], is_route_field);
          if (g == kNoGate) return kNoGate;
          gates.push_back(g);
        }
        break;
      default: return kNoGate;  // a `not` over other fields implies nothing about route fields
    }
    if (gates.empty()) return kNoGate;
    if (gates.size() == 1) return gates[0];
    return make_node(nd.kind, gates);
  }

  // CompiledRule::confirm_in_json: a confirming cover is used only where every one of its
  // literals is scanned (literal_scope, settled by build_json_routes).
  void settle_confirming_covers() {
    for (CompiledRule& rule : out_->rules) {
      rule.confirm_in_json = !rule.confirm_literals.empty();
      for (std::uint32_t l : rule.confirm_literals)
        rule.confirm_in_json = rule.confirm_in_json && (out_->literal_scope[l] & kScannedInJson) != 0;
    }
  }

  // CompiledRule::route_gate of every rule that can see JSON events.
  void build_route_gates() {
    std::vector<bool> is_route_field(out_->field_names.size(), false);
    for (std::uint32_t f : out_->route_fields) is_route_field[f] = true;
    for (CompiledRule& rule : out_->rules) {
      if ((rule.format_mask & (format_bit(LogFormat::kJson) | kDeclaredLogsourceBit)) == 0) continue;
      const std::uint32_t g = route_gate(rule.root, is_route_field);
      // The route's own condition is settled anyway; a gate equal to it saves nothing.
      if (g != rule.logsource_root) rule.route_gate = g;
    }
  }

  // Every predicate under node n.
  void collect_preds(std::uint32_t n, std::vector<std::uint32_t>& out) const {
    const CompiledNode& nd = out_->nodes[n];
    if (nd.kind == CondNode::Kind::kPred) {
      out.push_back(nd.pred);
      return;
    }
    for (std::uint32_t i = 0; i < nd.child_count; ++i) collect_preds(out_->children[nd.first_child + i], out);
  }

  struct RegexFlags {
    std::uint32_t pred;
    bool m, s;
  };

  void build_regex_dbs() {
    // Group regex predicates by field. Keywords (no field) run on PCRE2 directly.
    std::map<std::string, std::vector<RegexFlags>> by_field;
    for (const RegexFlags& rf : regex_flags_) {
      const CompiledPredicate& p = out_->preds[rf.pred];
      report_.regex_predicates++;
      if (p.field.empty()) {
        report_.regex_pcre_only++;
        continue;
      }
      by_field[p.field].push_back(rf);
    }
    // Compiled databases by their expressions and flags, in order: compiling is the costly part
    // of loading regex rules, and fields with identical regex lists can share one database.
    std::map<std::string, hs_database_t*> compiled;
    for (auto& [field, list] : by_field) {
      std::vector<bool> prefilter(list.size(), false), dropped(list.size(), false);
      for (int attempt = 0; attempt < 2 * static_cast<int>(list.size()) + 1; ++attempt) {
        std::vector<const char*> exprs;
        std::vector<unsigned> flags, ids;
        std::vector<std::size_t> map_back;
        for (std::size_t i = 0; i < list.size(); ++i) {
          if (dropped[i]) continue;
          const CompiledPredicate& p = out_->preds[list[i].pred];
          unsigned f = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
          if (!p.cased) f |= HS_FLAG_CASELESS;
          if (list[i].m) f |= HS_FLAG_MULTILINE;
          if (list[i].s) f |= HS_FLAG_DOTALL;
          if (prefilter[i]) f |= HS_FLAG_PREFILTER;
          exprs.push_back(p.value.c_str());
          flags.push_back(f);
          ids.push_back(static_cast<unsigned>(exprs.size() - 1));
          map_back.push_back(i);
        }
        if (exprs.empty()) break;
        std::string key;
        for (std::size_t e = 0; e < exprs.size(); ++e) {
          key += std::to_string(flags[e]);
          key += ':';
          key += exprs[e];
          key += '\0';
        }
        hs_database_t* db = nullptr;
        int bad = -1;
        const auto shared = compiled.find(key);
        const bool reuse = shared != compiled.end();
        if (reuse) {
          db = shared->second;
        } else {
          HyperscanPatterns in;
          in.expressions = exprs.data();
          in.flags = flags.data();
          in.ids = ids.data();
          in.count = static_cast<unsigned>(exprs.size());
          HyperscanCompiled result = compile_database(in);
          db = result.db;
          bad = result.error_expression;
        }
        if (db) {
          if (!reuse) compiled.emplace(std::move(key), db);
          FieldRegexDatabase frd;
          frd.field = field;
          frd.field_id = out_->preds[list[0].pred].field_id;
          frd.db = db;
          frd.owns_db = !reuse;
          std::uint32_t db_index = static_cast<std::uint32_t>(out_->regex_dbs.size());
          for (std::size_t slot = 0; slot < map_back.size(); ++slot) {
            std::size_t i = map_back[slot];
            CompiledPredicate& p = out_->preds[list[i].pred];
            p.regex_db = static_cast<std::int32_t>(db_index);
            p.regex_slot = static_cast<std::int32_t>(slot);
            p.regex_needs_confirm = prefilter[i];
            frd.slot_to_pred.push_back(list[i].pred);
            if (prefilter[i]) report_.regex_hyperscan_prefilter++;
            else report_.regex_hyperscan_exact++;
          }
          if (!reuse) {
            std::size_t size = 0;
            hs_database_size(db, &size);
            report_.database_bytes += size;
            report_.hyperscan_patterns += exprs.size();
          }
          out_->regex_dbs.push_back(std::move(frd));
          break;
        }
        if (bad < 0 || static_cast<std::size_t>(bad) >= map_back.size()) {
          // Not attributable to one expression: run this field's regexes on PCRE2 alone.
          for (std::size_t i = 0; i < list.size(); ++i) dropped[i] = true;
          break;
        }
        std::size_t i = map_back[static_cast<std::size_t>(bad)];
        if (!prefilter[i]) prefilter[i] = true;
        else dropped[i] = true;
      }
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (!dropped[i]) continue;
        report_.regex_pcre_only++;
        // Predicates without a Hyperscan slot are confirmed by PCRE2 on every evaluation.
        CompiledPredicate& p = out_->preds[list[i].pred];
        p.regex_db = -1;
        p.regex_slot = -1;
        p.regex_needs_confirm = true;
      }
    }
  }

  const CompileOptions& options_;
  CompileReport& report_;
  std::unique_ptr<CompiledRules> out_;
  std::unordered_map<std::string, std::uint32_t> pred_index_;
  std::unordered_map<LiteralKey, std::int32_t, LiteralKeyHash> literal_index_;
  std::vector<LiteralKey> literal_texts_;
  std::vector<RegexFlags> regex_flags_;
  std::unordered_map<std::string, std::uint32_t> field_ids_;
  std::vector<Cover> rule_covers_;  // per rule, literal ids after compute_covers' renumbering
};

}  // namespace

Result<std::shared_ptr<const RuleSet>> RuleSet::compile(std::vector<SigmaRule> rules,
                                                        const CompileOptions& options,
                                                        CompileReport* report) {
  CompileReport local;
  CompileReport& rep = report ? *report : local;
  auto start = std::chrono::steady_clock::now();
  // Compiling allocates and frees hundreds of thousands of small blocks, and glibc's fast bins
  // then cost more in consolidation (when a large block is asked for) than they save: without
  // them a warm compile of SigmaHQ's rules takes about 12% less CPU. Restored after (process-wide
  // setting; other threads only lose the fast bins for the compile's duration).
  struct FastBinsOff {
    FastBinsOff() { mallopt(M_MXFAST, 0); }
    ~FastBinsOff() { mallopt(M_MXFAST, 64 * sizeof(std::size_t) / 4); }  // glibc's default
  } fast_bins_off;
  const LogsourceMap& mapping = options.mapping ? *options.mapping : LogsourceMap::builtin();
  rep.rules_in += rules.size();
  Builder builder(options, rep);
  for (SigmaRule& r : rules) builder.add_rule(std::move(r), mapping);
  if (Status s = builder.finish(); !s.ok()) return Error(std::move(s));
  rep.compile_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::shared_ptr<const RuleSet>(new RuleSet(builder.take()));
}

std::string regex_engine_version() {
#if defined(VIGIL_REGEX_ENGINE_NAME)
  std::string name = VIGIL_REGEX_ENGINE_NAME;
#else
  std::string name = "hyperscan";
#endif
  return name + " " + hs_version();
}

}  // namespace vigil::rules
