#include "app/rules_explain_command.h"

#include <fmt/format.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "app/rule_sources.h"
#include "app/single_rule.h"
#include "core/record_reader.h"
#include "rules/condition_parser.h"
#include "rules/logsource_map.h"
#include "core/ascii.h"

namespace vigil::app {
namespace {

using rules::CondNode;
using rules::MatchOp;
using rules::Predicate;
using rules::SigmaRule;

using Probe = std::unique_ptr<SingleRule>;  // nullptr: did not compile

Probe make_probe(const SigmaRule& rule) {
  auto p = std::make_unique<SingleRule>();
  std::string why;
  if (!compile_alone(rule, *p, &why)) return nullptr;
  return p;
}

// The truth of a probe on a record (false when it did not compile).
bool holds(const Probe& p, std::string_view record, LogFormat format) {
  if (!p) return false;
  RecordRun run;
  run_record(*p, record, format, run);
  return run.matched();
}

// The rule without its logsource (no routing) and with the variant's renames applied, so its
// detection can be evaluated on its own.
SigmaRule without_logsource(SigmaRule rule, const std::map<std::string, std::string>& renames) {
  rule.product.clear();
  rule.category.clear();
  rule.service.clear();
  for (Predicate& p : rule.predicates) {
    if (auto it = renames.find(p.field); it != renames.end()) p.field = it->second;
    const bool ref = p.op == MatchOp::kFieldRefEquals || p.op == MatchOp::kFieldRefContains ||
                     p.op == MatchOp::kFieldRefStartsWith || p.op == MatchOp::kFieldRefEndsWith;
    if (ref)
      if (auto it = renames.find(p.value); it != renames.end()) p.value = it->second;
  }
  return rule;
}

SigmaRule one_predicate(const SigmaRule& base, const Predicate& p) {
  SigmaRule r = base;
  r.predicates = {p};
  r.condition = CondNode{};
  r.condition.kind = CondNode::Kind::kPred;
  r.condition.pred = 0;
  return r;
}

void collect_leaves(const CondNode& n, std::vector<std::uint32_t>& out) {
  if (n.kind == CondNode::Kind::kPred) {
    if (std::find(out.begin(), out.end(), n.pred) == out.end()) out.push_back(n.pred);
    return;
  }
  for (const CondNode& c : n.children) collect_leaves(c, out);
}


std::string predicate_text(const Predicate& p) {
  std::string name = p.field.empty() ? "(keyword)" : p.field;
  switch (p.op) {
    case MatchOp::kEquals: return name + (p.cased ? "|cased" : "") + " = '" + p.value + "'";
    case MatchOp::kExists: return name + "|exists: " + (p.exists_expected ? "true" : "false");
    case MatchOp::kNull: return name + ": null";
    case MatchOp::kLt: case MatchOp::kLte: case MatchOp::kGt: case MatchOp::kGte:
      return name + "|" + rules::to_string(p.op) + " " + fmt::format("{}", p.number);
    case MatchOp::kRegex:
      return name + "|re" + (p.regex_i ? "|i" : "") + (p.regex_m ? "|m" : "") +
             (p.regex_s ? "|s" : "") + " '" + p.value + "'";
    default:
      return name + "|" + rules::to_string(p.op) + (p.cased ? "|cased" : "") + " '" + p.value + "'";
  }
}

// Where a true string predicate matched: the value and the span in it.
struct Span {
  std::string_view value;
  std::size_t begin = 0, size = 0;
};

std::optional<std::pair<std::size_t, std::size_t>> find_span(const Predicate& p, std::string_view v) {
  if (p.op == MatchOp::kRegex) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::uint32_t flags = (p.regex_i || attempt == 1 ? PCRE2_CASELESS : 0) |
                            (p.regex_m ? PCRE2_MULTILINE : 0) | (p.regex_s ? PCRE2_DOTALL : 0);
      int errcode = 0;
      PCRE2_SIZE erroff = 0;
      pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.value.data()), p.value.size(),
                                     flags, &errcode, &erroff, nullptr);
      if (!re) return std::nullopt;
      pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
      int rc = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(v.data()), v.size(), 0, 0, md, nullptr);
      std::optional<std::pair<std::size_t, std::size_t>> out;
      if (rc >= 0) {
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        if (ov[1] >= ov[0]) out = std::make_pair(static_cast<std::size_t>(ov[0]), static_cast<std::size_t>(ov[1] - ov[0]));
      }
      pcre2_match_data_free(md);
      pcre2_code_free(re);
      if (out) return out;
    }
    return std::nullopt;
  }
  const std::string hay = p.cased ? std::string(v) : ascii_lower(v);
  const std::string needle = p.cased ? p.value : ascii_lower(p.value);
  if (needle.size() > hay.size()) return std::nullopt;
  switch (p.op) {
    case MatchOp::kEquals:
      if (hay == needle) return std::make_pair(std::size_t{0}, hay.size());
      return std::nullopt;
    case MatchOp::kContains:
      if (auto at = hay.find(needle); at != std::string::npos) return std::make_pair(at, needle.size());
      return std::nullopt;
    case MatchOp::kStartsWith:
      if (hay.compare(0, needle.size(), needle) == 0) return std::make_pair(std::size_t{0}, needle.size());
      return std::nullopt;
    case MatchOp::kEndsWith:
      if (hay.compare(hay.size() - needle.size(), needle.size(), needle) == 0)
        return std::make_pair(hay.size() - needle.size(), needle.size());
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::optional<Span> span_of(const Predicate& p, const Event& ev) {
  switch (p.op) {
    case MatchOp::kEquals: case MatchOp::kContains: case MatchOp::kStartsWith:
    case MatchOp::kEndsWith: case MatchOp::kRegex: break;
    default: return std::nullopt;
  }
  std::vector<std::string_view> values;
  if (p.field.empty()) {
    if (ev.format != LogFormat::kJson) values.push_back(ev.raw);
    for (const Field& f : ev.fields.fields())
      if (f.name.empty() || f.name[0] != '_') values.push_back(f.value);
  } else {
    for (const Field& f : ev.fields.fields())
      if (f.name == p.field && f.kind != ValueKind::kNull) values.push_back(f.value);
  }
  for (std::string_view v : values)
    if (auto s = find_span(p, v)) return Span{v, s->first, s->second};
  return std::nullopt;
}

std::string highlight(const Span& s, bool color) {
  std::string out(s.value.substr(0, s.begin));
  out += color ? "\x1b[1;31m" : "[[";
  out += s.value.substr(s.begin, s.size);
  out += color ? "\x1b[0m" : "]]";
  out += s.value.substr(s.begin + s.size);
  return out;
}

std::string value_of(const Event& ev, const std::string& field) {
  const Field* f = ev.fields.find(field);
  if (f == nullptr) return "(absent)";
  if (f->kind == ValueKind::kNull) return "null";
  return std::string(f->value);
}

// " (value)", or " (absent)" when the field is absent.
std::string paren(const std::string& v) { return v == "(absent)" ? " " + v : " (" + v + ")"; }

// ---- the condition, split into sub-expressions -------------------------------------------
// rules::parse_condition_syntax gives every sub-expression as written, and for `x of` the
// identifiers the engine selects, so what is explained is what `vigil scan` evaluates.
using CondExpr = rules::ConditionSyntax;

// ---- what is compiled once per rule ----------------------------------------------------------
struct PredProbe {
  Predicate pred;  // after renames
  Probe probe;
};

struct Selection {
  std::string name;
  Probe probe;
  std::vector<PredProbe> preds;
};

struct VariantRouting {
  rules::LogsourceVariant variant;
  Probe probe;                    // all its conditions
  std::vector<PredProbe> conds;   // each condition
};

// The detection compiled under one variant's renames, without routing.
struct DetectionProbes {
  std::vector<Selection> selections;
  std::map<std::string, Probe> exprs;  // by sub-expression text
};

struct Explainer {
  const SigmaRule& rule;
  DetectionText det;
  bool have_det = false;
  std::optional<CondExpr> cond;
  bool mapped = false;
  std::vector<VariantRouting> routing;
  std::map<std::size_t, DetectionProbes> by_variant;
  SingleRule full;
  bool color = false;

  explicit Explainer(const SigmaRule& r) : rule(r) {}

  DetectionProbes& detection(std::size_t variant) {
    auto it = by_variant.find(variant);
    if (it != by_variant.end()) return it->second;
    DetectionProbes& d = by_variant[variant];
    const auto& renames = routing[variant].variant.renames;
    for (const std::string& name : det.names) {
      Selection s;
      s.name = name;
      SigmaRule one;
      if (load_with_condition(rule, det, name, &one)) {
        SigmaRule neutral = without_logsource(one, renames);
        s.probe = make_probe(neutral);
        std::vector<std::uint32_t> leaves;
        collect_leaves(neutral.condition, leaves);
        for (std::uint32_t i : leaves)
          s.preds.push_back(PredProbe{neutral.predicates[i], make_probe(one_predicate(neutral, neutral.predicates[i]))});
      }
      d.selections.push_back(std::move(s));
    }
    if (cond) {
      std::vector<const CondExpr*> stack{&*cond};
      while (!stack.empty()) {
        const CondExpr* e = stack.back();
        stack.pop_back();
        for (const CondExpr& c : e->children) stack.push_back(&c);
        if (d.exprs.count(e->text)) continue;
        SigmaRule one;
        d.exprs[e->text] = load_with_condition(rule, det, e->text, &one)
                               ? make_probe(without_logsource(one, renames)) : nullptr;
      }
    }
    return d;
  }
};

struct EventEval {
  std::string_view raw;
  LogFormat format;
  std::map<std::string, bool> value;  // sub-expression text -> truth
  std::map<std::string, const Selection*> sel;
  std::map<std::string, bool> sel_value;
  std::map<const PredProbe*, bool> pred_value;
};

void why(const CondExpr& e, bool want_true, const EventEval& ev, std::vector<std::string>& out);

void why_selection(const std::string& name, bool want_true, const EventEval& ev, std::vector<std::string>& out) {
  auto it = ev.sel.find(name);
  if (it == ev.sel.end()) return;
  for (const PredProbe& p : it->second->preds)
    if (ev.pred_value.at(&p) == want_true)
      out.push_back(fmt::format("{}: {}: {}", name, predicate_text(p.pred), want_true ? "true" : "false"));
}

void why(const CondExpr& e, bool want_true, const EventEval& ev, std::vector<std::string>& out) {
  auto val = [&](const CondExpr& c) { auto it = ev.value.find(c.text); return it != ev.value.end() && it->second; };
  switch (e.kind) {
    case CondExpr::Kind::kIdentifier: why_selection(e.name, want_true, ev, out); return;
    case CondExpr::Kind::kNot: why(e.children[0], !want_true, ev, out); return;
    case CondExpr::Kind::kAnd: case CondExpr::Kind::kOr: {
      // and: a false side decides a false result; or: every side; and the mirror for true.
      for (const CondExpr& c : e.children)
        if (val(c) == want_true) why(c, want_true, ev, out);
      return;
    }
    case CondExpr::Kind::kOneOf: case CondExpr::Kind::kAllOf:
      for (const std::string& n : e.selected) {
        auto it = ev.sel_value.find(n);
        if (it != ev.sel_value.end() && it->second == want_true) why_selection(n, want_true, ev, out);
      }
      return;
  }
}

void post_order(const CondExpr& e, std::vector<const CondExpr*>& out) {
  for (const CondExpr& c : e.children) post_order(c, out);
  out.push_back(&e);
}

const char* tf(bool b) { return b ? "true" : "false"; }

// Explains one record; returns whether the rule matched it.
bool explain_event(Explainer& x, std::string_view record, LogFormat format, const std::string& label,
                   std::FILE* out) {
  std::string buf(record);
  buf.append(kRecordPadding, '\0');
  Event ev;
  ev.raw = std::string_view(buf.data(), record.size());
  parse::RecordParser parser;
  bool usable = parser.parse(format, ev);

  RecordRun full;
  run_record(x.full, record, format, full);
  const bool verdict = full.matched();

  std::fprintf(out, "== %s: %s\n", label.c_str(), std::string(record.substr(0, 200)).c_str());
  std::fprintf(out, "format: %s%s\n", to_string(ev.format),
               ev.parse_error != ParseErrorKind::kNone
                   ? fmt::format(" ({})", to_string(ev.parse_error)).c_str() : "");
  if (!usable) {
    std::fprintf(out, "the event is unusable (%s): no rule is matched against it\nverdict: NO MATCH\n\n",
                 to_string(ev.parse_error));
    return false;
  }

  // 2. Routing (evaluated before the fields, which depend on the variant's renames).
  std::optional<std::size_t> applied;
  std::vector<bool> variant_ok;
  for (std::size_t i = 0; i < x.routing.size(); ++i) {
    bool ok = x.routing[i].variant.conditions.empty() || holds(x.routing[i].probe, record, format);
    variant_ok.push_back(ok);
    if (ok && !applied) applied = i;
  }
  const std::size_t vi = applied.value_or(0);
  DetectionProbes& d = x.detection(vi);

  // 1. The fields the rule reads.
  std::vector<std::string> fields;
  for (const Selection& s : d.selections)
    for (const PredProbe& p : s.preds) {
      if (!p.pred.field.empty() && std::find(fields.begin(), fields.end(), p.pred.field) == fields.end())
        fields.push_back(p.pred.field);
      const bool ref = p.pred.op == MatchOp::kFieldRefEquals || p.pred.op == MatchOp::kFieldRefContains ||
                       p.pred.op == MatchOp::kFieldRefStartsWith || p.pred.op == MatchOp::kFieldRefEndsWith;
      if (ref && std::find(fields.begin(), fields.end(), p.pred.value) == fields.end())
        fields.push_back(p.pred.value);
    }
  std::fprintf(out, "fields read:\n");
  for (const std::string& f : fields) std::fprintf(out, "  %s = %s\n", f.c_str(), value_of(ev, f).c_str());

  std::string ls;
  for (auto [k, v] : {std::pair{"product", &x.rule.product}, {"category", &x.rule.category}, {"service", &x.rule.service}})
    if (!v->empty()) ls += (ls.empty() ? "" : ",") + std::string(k) + "=" + *v;
  std::fprintf(out, "logsource: %s\n", ls.empty() ? "(none)" : ls.c_str());
  if (!x.mapped && !ls.empty())
    std::fprintf(out, "  the mapping cannot recognise this logsource by content: the rule runs only on\n"
                      "  input declared with --logsource (vigil scan)\n");
  std::vector<std::string> deciding_routing;
  for (std::size_t i = 0; i < x.routing.size(); ++i) {
    const VariantRouting& r = x.routing[i];
    std::fprintf(out, "  variant %s: %s\n", r.variant.name.c_str(),
                 applied && *applied == i ? "applies" : variant_ok[i] ? "true" : "false");
    if (r.variant.conditions.empty()) std::fprintf(out, "    (no condition): true\n");
    std::map<std::string, bool> field_ok;
    for (const PredProbe& c : r.conds) {
      bool v = holds(c.probe, record, format);
      field_ok[c.pred.field] = field_ok[c.pred.field] || v;
      std::string shown = c.pred.op == MatchOp::kEquals ? c.pred.field + " = " + c.pred.value : predicate_text(c.pred);
      std::fprintf(out, "    %s: %s%s\n", shown.c_str(), tf(v),
                   v ? "" : paren(value_of(ev, c.pred.field)).c_str());
    }
    if (!variant_ok[i])
      for (const PredProbe& c : r.conds)
        if (!field_ok[c.pred.field]) {
          std::string shown = c.pred.op == MatchOp::kEquals ? c.pred.field + " = " + c.pred.value : predicate_text(c.pred);
          deciding_routing.push_back(fmt::format("routing {}: {}: false{}", r.variant.name, shown,
                                                 paren(value_of(ev, c.pred.field))));
        }
  }
  if (!applied) std::fprintf(out, "  no variant applies: the event is not of the rule's logsource\n");

  // 3. Selections and their predicates.
  EventEval ee;
  ee.raw = record;
  ee.format = format;
  std::fprintf(out, "detection%s:\n", applied ? "" : " (evaluated as if the logsource applied)");
  for (const Selection& s : d.selections) {
    bool sv = holds(s.probe, record, format);
    ee.sel[s.name] = &s;
    ee.sel_value[s.name] = sv;
    std::fprintf(out, "  %s: %s\n", s.name.c_str(), tf(sv));
    for (const PredProbe& p : s.preds) {
      bool pv = holds(p.probe, record, format);
      ee.pred_value[&p] = pv;
      std::string detail;
      if (pv) {
        if (auto sp = span_of(p.pred, ev)) detail = "  " + highlight(*sp, x.color);
      } else if (!p.pred.field.empty()) {
        detail = " " + paren(value_of(ev, p.pred.field));
      }
      std::fprintf(out, "    %s: %s%s\n", predicate_text(p.pred).c_str(), tf(pv), detail.c_str());
    }
  }

  // 4. The condition step by step.
  std::vector<std::string> deciding;
  if (x.cond) {
    std::fprintf(out, "condition: %s\n", x.det.condition.c_str());
    std::vector<const CondExpr*> order;
    post_order(*x.cond, order);
    for (const CondExpr* e : order) {
      if (ee.value.count(e->text)) continue;
      bool v = holds(d.exprs[e->text], record, format);
      ee.value[e->text] = v;
      std::fprintf(out, "  %s: %s\n", e->text.c_str(), tf(v));
    }
    if (!verdict && applied && !ee.value[x.cond->text]) why(*x.cond, false, ee, deciding);
  } else {
    std::fprintf(out, "condition: %s\n", x.have_det ? x.det.condition.c_str() : "(rule document not readable)");
  }
  if (!verdict && !applied) deciding = deciding_routing;
  std::fprintf(out, "verdict: %s\n", verdict ? "MATCH" : "NO MATCH");
  for (const std::string& s : deciding) std::fprintf(out, "  deciding: %s\n", s.c_str());
  std::fprintf(out, "\n");
  return verdict;
}

}  // namespace

int run_rules_explain(const RulesExplainOptions& options, std::FILE* out, std::FILE* err) {
  if (options.log.empty() == options.file.empty()) {
    std::fprintf(err, "vigil rules explain: give exactly one of --log LINE and --file FILE\n");
    return 2;
  }
  // The rule: a file (its first rule), else an id among the --rules paths (default: bundled).
  rules::LoadReport loaded;
  std::error_code ec;
  const bool is_file = std::filesystem::is_regular_file(options.rule, ec);
  if (is_file) loaded = rules::load_rule_paths({options.rule});
  else loaded = load_rule_sources(options.rule_paths);
  const SigmaRule* rule = nullptr;
  for (const SigmaRule& r : loaded.rules)
    if (is_file || r.id == options.rule) {
      rule = &r;
      break;
    }
  if (rule == nullptr) {
    if (is_file) {
      std::string why = loaded.errors.empty() ? "no rule in it"
                                              : loaded.errors[0].reason + ": " + loaded.errors[0].message;
      std::fprintf(err, "vigil rules explain: %s: no loadable rule (%s)\n", options.rule.c_str(), why.c_str());
    } else {
      std::fprintf(err, "vigil rules explain: no rule with id '%s' in %s\n", options.rule.c_str(),
                   options.rule_paths.empty() ? "the bundled packs" : "the --rules paths");
    }
    return 2;
  }

  Explainer x(*rule);
  x.color = options.color;
  std::string why;
  if (!compile_alone(*rule, x.full, &why)) {
    std::fprintf(err, "vigil rules explain: %s:%d: %s does not compile: %s\n", rule->path.c_str(),
                 rule->line, rule->id.c_str(), why.c_str());
    return 2;
  }
  x.have_det = read_detection_text(*rule, &x.det);
  if (x.have_det) {
    if (auto syntax = rules::parse_condition_syntax(x.det.condition, x.det.names)) x.cond = std::move(*syntax);
  }

  std::vector<rules::LogsourceVariant> variants =
      rules::LogsourceMap::builtin().variants_for(rule->product, rule->category, rule->service, &x.mapped);
  if (!x.mapped && (!rule->product.empty() || !rule->category.empty() || !rule->service.empty())) {
    // As the compiler does: the rule runs only on events that declare its logsource.
    rules::LogsourceVariant v;
    v.name = "declared";
    v.condition.kind = CondNode::Kind::kAnd;
    for (auto [k, val] : {std::pair{"_product", &rule->product}, {"_category", &rule->category}, {"_service", &rule->service}}) {
      if (val->empty()) continue;
      Predicate p;
      p.field = k;
      p.value = *val;
      CondNode leaf;
      leaf.kind = CondNode::Kind::kPred;
      leaf.pred = static_cast<std::uint32_t>(v.conditions.size());
      v.conditions.push_back(p);
      v.condition.children.push_back(leaf);
    }
    variants = {v};
  }
  SigmaRule base = without_logsource(*rule, {});
  for (rules::LogsourceVariant& v : variants) {
    VariantRouting r;
    r.variant = v;
    if (!v.conditions.empty()) {
      SigmaRule all = base;
      all.predicates = v.conditions;
      all.condition = v.condition;
      r.probe = make_probe(all);
      for (const Predicate& c : v.conditions) r.conds.push_back(PredProbe{c, make_probe(one_predicate(base, c))});
    }
    x.routing.push_back(std::move(r));
  }

  std::fprintf(out, "rule %s \"%s\" (%s:%d)\n", rule->id.c_str(), rule->title.c_str(),
               rule->path.c_str(), rule->line);
  std::fprintf(out, "level: %s", rule->level.c_str());
  if (!rule->level_override_why.empty())
    std::fprintf(out, " (the rule says %s; rules/mapping/rule_techniques.yml: %s)",
                 rule->declared_level.empty() ? "no level" : rule->declared_level.c_str(),
                 rule->level_override_why.c_str());
  std::fprintf(out, "\n");
  if (!rule->attack.empty()) {
    std::string tactics, techniques;
    for (const std::string& t : rule->attack.tactics) tactics += (tactics.empty() ? "" : ", ") + t;
    for (const std::string& t : rule->attack.techniques) techniques += (techniques.empty() ? "" : ", ") + t;
    std::fprintf(out, "attack: tactics [%s], techniques [%s]\n", tactics.c_str(), techniques.c_str());
  }
  std::fprintf(out, "\n");
  bool all_matched = true;
  if (!options.log.empty()) {
    all_matched = explain_event(x, options.log, options.format, "event", out);
  } else {
    auto reader = RecordReader::open(options.file);
    if (!reader) {
      std::fprintf(err, "vigil rules explain: %s: %s\n", options.file.c_str(), reader.error().to_string().c_str());
      return 2;
    }
    std::vector<Record> records;
    std::size_t n = 0;
    while ((*reader)->next_batch(records)) {
      for (const Record& rec : records) {
        ++n;
        all_matched &= explain_event(x, rec.bytes, options.format,
                                     fmt::format("{}:{}", options.file, rec.record_no), out);
      }
    }
    if (!(*reader)->status().ok()) {
      std::fprintf(err, "vigil rules explain: %s: %s\n", options.file.c_str(),
                   (*reader)->status().to_string().c_str());
      return 2;
    }
    if (n == 0) all_matched = false;
  }
  return all_matched ? 0 : 1;
}

}  // namespace vigil::app
