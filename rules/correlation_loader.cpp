// Sigma v2 correlation documents -> CorrelationRule, and the check of their references.
// Called by the Sigma loader (rules/sigma_loader.cpp) inside its yaml-cpp exception guard.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/ascii.h"
#include "core/duration.h"
#include "rules/attack_mapping.h"
#include "rules/correlation_rule.h"
#include "rules/sigma_loader.h"

namespace vigil::rules {

const char* to_string(CorrelationType type) {
  switch (type) {
    case CorrelationType::kEventCount: return "event_count";
    case CorrelationType::kValueCount: return "value_count";
    case CorrelationType::kTemporal: return "temporal";
    case CorrelationType::kTemporalOrdered: return "temporal_ordered";
  }
  return "unknown";
}

bool parse_sigma_duration(const std::string& text, std::int64_t* out_ns) {
  std::int64_t ns = 0;
  if (!parse_duration(text, &ns) || ns <= 0) return false;
  *out_ns = ns;
  return true;
}

namespace {

std::string scalar(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : std::string(); }

std::vector<std::string> strings(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;
  if (n.IsScalar()) out.push_back(n.Scalar());
  else if (n.IsSequence())
    for (const YAML::Node& item : n)
      if (item.IsScalar()) out.push_back(item.Scalar());
  return out;
}

int line_of(const YAML::Node& n, int doc_line) {
  // The loader passes the document's file line; marks are relative to the document's chunk,
  // so only the offset from the document's own mark is trusted.
  (void)n;
  return doc_line;
}

bool bound(const YAML::Node& n, std::uint64_t* out) {
  if (!n.IsScalar()) return false;
  long long v = -1;
  if (!YAML::convert<long long>::decode(n, v) || v < 0) return false;
  *out = static_cast<std::uint64_t>(v);
  return true;
}

}  // namespace

bool parse_suppression(const std::string& vigil_yaml, Suppression* out, std::string* error) {
  *out = Suppression{};
  if (vigil_yaml.empty()) return true;
  YAML::Node vigil;
  try {
    vigil = YAML::Load(vigil_yaml);
  } catch (const std::exception& e) {
    *error = std::string("'vigil' block: ") + e.what();
    return false;
  }
  if (!vigil.IsMap()) return true;
  const YAML::Node s = vigil["suppress"];
  if (!s) return true;
  if (!s.IsMap()) {
    *error = "'vigil: suppress' must be a map with 'for' and optional 'by'";
    return false;
  }
  for (const auto& kv : s) {
    const std::string key = kv.first.Scalar();
    if (key != "by" && key != "for") {
      *error = "unknown key '" + key + "' in 'vigil: suppress' (known: by, for)";
      return false;
    }
  }
  if (!parse_sigma_duration(scalar(s["for"]), &out->for_ns)) {
    *error = "'vigil: suppress: for' must be a duration such as 10m, 1h or 1d";
    return false;
  }
  out->by = strings(s["by"]);
  return true;
}

bool parse_correlation_document(const YAML::Node& doc, const std::string& path, int line,
                                CorrelationRule* out, LoadError* error) {
  CorrelationRule c;
  c.id = scalar(doc["id"]);
  c.name = scalar(doc["name"]);
  c.title = scalar(doc["title"]);
  c.description = scalar(doc["description"]);
  c.author = scalar(doc["author"]);
  c.date = scalar(doc["date"]);
  c.modified = scalar(doc["modified"]);
  c.status = scalar(doc["status"]);
  c.level = ascii_lower(scalar(doc["level"]));
  c.tags = strings(doc["tags"]);
  // Its own view; resolve_correlations() adds those of the rules it reads.
  c.attack = attack_view(c.tags, c.id);
  c.references = strings(doc["references"]);
  c.falsepositives = strings(doc["falsepositives"]);
  c.path = path;
  c.line = line;
  auto fail = [&](const char* reason, std::string message) {
    *error = LoadError{path, line_of(doc, line), c.id, reason, std::move(message)};
    return false;
  };
  const YAML::Node corr = doc["correlation"];
  if (!corr.IsMap()) return fail("bad_correlation", "'correlation' must be a map");
  const std::string type = scalar(corr["type"]);
  if (type == "event_count") c.type = CorrelationType::kEventCount;
  else if (type == "value_count") c.type = CorrelationType::kValueCount;
  else if (type == "temporal") c.type = CorrelationType::kTemporal;
  else if (type == "temporal_ordered") c.type = CorrelationType::kTemporalOrdered;
  else
    return fail("unknown_correlation_type",
                "correlation type '" + type + "' (event_count, value_count, temporal, temporal_ordered)");
  c.rules = strings(corr["rules"]);
  if (c.rules.empty()) return fail("bad_correlation", "'correlation: rules' names no rule");
  c.group_by = strings(corr["group-by"]);
  const YAML::Node span = corr["timespan"];
  if (!span || span.IsNull()) return fail("missing_timespan", "the correlation has no 'timespan'");
  if (!parse_sigma_duration(scalar(span), &c.timespan_ns))
    return fail("bad_timespan", "timespan '" + scalar(span) + "' is not <number><s|m|h|d>");
  if (const YAML::Node cond = corr["condition"]; cond && !cond.IsNull()) {
    if (!cond.IsMap()) return fail("bad_condition", "'condition' must be a map such as {gte: 10}");
    for (const auto& kv : cond) {
      const std::string op = kv.first.Scalar();
      CountCondition& k = c.condition;
      bool ok = true;
      if (op == "gt") ok = k.has_gt = bound(kv.second, &k.gt);
      else if (op == "gte") ok = k.has_gte = bound(kv.second, &k.gte);
      else if (op == "lt") ok = k.has_lt = bound(kv.second, &k.lt);
      else if (op == "lte") ok = k.has_lte = bound(kv.second, &k.lte);
      else if (op == "eq") ok = k.has_eq = bound(kv.second, &k.eq);
      else if (op == "field") c.value_field = scalar(kv.second);
      else return fail("bad_condition", "unknown condition operator '" + op + "' (gt, gte, lt, lte, eq, field)");
      if (!ok) return fail("bad_condition", "condition '" + op + "' must be a whole number >= 0");
    }
  }
  const bool temporal = c.type == CorrelationType::kTemporal || c.type == CorrelationType::kTemporalOrdered;
  if (c.condition.empty()) {
    if (!temporal) return fail("bad_condition", std::string(to_string(c.type)) + " needs a 'condition'");
    c.condition.has_gte = true;  // temporal: every referenced rule
    c.condition.gte = c.rules.size();
  }
  if (c.type == CorrelationType::kValueCount && c.value_field.empty())
    return fail("bad_condition", "value_count needs 'condition: field'");
  if (const YAML::Node aliases = corr["aliases"]; aliases && !aliases.IsNull()) {
    if (!aliases.IsMap()) return fail("bad_correlation", "'aliases' must be a map");
    for (const auto& a : aliases) {
      if (!a.second.IsMap()) return fail("bad_correlation", "alias '" + a.first.Scalar() + "' must map rule names to fields");
      for (const auto& r : a.second) c.aliases[a.first.Scalar()][r.first.Scalar()] = scalar(r.second);
    }
  }
  // `generate` is a top-level attribute in the specification; pySigma also reads it inside
  // `correlation:`. Either place is accepted.
  for (const YAML::Node& g : {doc["generate"], corr["generate"]}) {
    if (!g || g.IsNull()) continue;
    bool v = false;
    if (!YAML::convert<bool>::decode(g, v)) return fail("bad_correlation", "'generate' must be true or false");
    c.generate = v;
  }
  if (const YAML::Node vigil = doc["vigil"]; vigil && !vigil.IsNull()) {
    std::string why;
    if (!parse_suppression(YAML::Dump(vigil), &c.suppress, &why)) return fail("bad_vigil_extension", why);
    if (const YAML::Node fields = vigil["fields"]; fields && !fields.IsNull()) {
      if (!fields.IsMap()) return fail("bad_vigil_extension", "'vigil: fields' must map names to {from, regex}");
      for (const auto& f : fields) {
        ExtractedField x{f.first.Scalar(), scalar(f.second["from"]), scalar(f.second["regex"])};
        if (x.from.empty() || x.regex.empty())
          return fail("bad_vigil_extension", "'vigil: fields: " + x.name + "' needs 'from' and 'regex'");
        c.extract.push_back(std::move(x));
      }
    }
  }
  *out = std::move(c);
  return true;
}

namespace {

// A correlation's alert stands for the events of the rules it reads: its view is its own joined
// with theirs, through chained correlations (resolve_correlations() removed cycles first).
void join_attack_views(LoadReport& report) {
  std::multimap<std::string, const AttackView*> base;
  for (const SigmaRule& r : report.rules) {
    if (!r.id.empty()) base.emplace(r.id, &r.attack);
    if (!r.name.empty()) base.emplace(r.name, &r.attack);
  }
  std::map<std::string, std::size_t> corr;
  for (std::size_t i = 0; i < report.correlations.size(); ++i) {
    const CorrelationRule& c = report.correlations[i];
    if (!c.id.empty()) corr.emplace(c.id, i);
    if (!c.name.empty()) corr.emplace(c.name, i);
  }
  std::vector<bool> joined(report.correlations.size(), false);
  std::function<const AttackView&(std::size_t)> join = [&](std::size_t i) -> const AttackView& {
    AttackView& view = report.correlations[i].attack;
    if (joined[i]) return view;
    joined[i] = true;
    AttackView all = view;
    auto add = [&all](const AttackView& other) {
      all.tactics.insert(all.tactics.end(), other.tactics.begin(), other.tactics.end());
      all.techniques.insert(all.techniques.end(), other.techniques.begin(), other.techniques.end());
    };
    for (const std::string& ref : report.correlations[i].rules) {
      for (auto [a, b] = base.equal_range(ref); a != b; ++a) add(*a->second);
      if (auto it = corr.find(ref); it != corr.end() && it->second != i) add(join(it->second));
    }
    for (auto* list : {&all.tactics, &all.techniques}) {
      std::sort(list->begin(), list->end());
      list->erase(std::unique(list->begin(), list->end()), list->end());
    }
    view = std::move(all);
    return view;
  };
  for (std::size_t i = 0; i < report.correlations.size(); ++i) join(i);
}

// Gives each detection rule the event fields that the correlations reading it (directly or
// through another correlation) group or count by, so that the matcher parses them from its
// events: a JSON event is parsed only for the fields some rule reads, and a correlation whose
// group-by field no detection names would otherwise never see a value and never fire.
void note_correlation_fields(LoadReport& report) {
  std::map<std::string, std::vector<std::size_t>> base;  // id or name -> detection rules
  for (std::size_t i = 0; i < report.rules.size(); ++i) {
    if (!report.rules[i].id.empty()) base[report.rules[i].id].push_back(i);
    if (!report.rules[i].name.empty()) base[report.rules[i].name].push_back(i);
  }
  std::map<std::string, const CorrelationRule*> corr;
  for (const CorrelationRule& c : report.correlations) {
    if (!c.id.empty()) corr.emplace(c.id, &c);
    if (!c.name.empty()) corr.emplace(c.name, &c);
  }
  auto add = [&](std::size_t rule, const std::string& field) {
    std::vector<std::string>& fields = report.rules[rule].correlation_fields;
    if (!field.empty() && std::find(fields.begin(), fields.end(), field) == fields.end()) fields.push_back(field);
  };
  // `fields(ref)`: the field names the correlation reads in the events of reference `ref`.
  std::function<void(const CorrelationRule&, const std::vector<std::string>&, std::set<const CorrelationRule*>&)>
      apply = [&](const CorrelationRule& c, const std::vector<std::string>& outer, std::set<const CorrelationRule*>& seen) {
        if (!seen.insert(&c).second) return;
        std::vector<std::string> names = outer;
        names.insert(names.end(), c.group_by.begin(), c.group_by.end());
        if (!c.value_field.empty()) names.push_back(c.value_field);
        for (const std::string& ref : c.rules) {
          std::vector<std::string> wanted;
          for (const std::string& name : names) {
            std::string field = name;
            if (auto a = c.aliases.find(name); a != c.aliases.end()) {
              auto to = a->second.find(ref);
              field = to != a->second.end() ? to->second : std::string();
            }
            // A field cut out of another (`vigil: fields`) needs its source.
            for (const ExtractedField& x : c.extract)
              if (x.name == field) field = x.from;
            if (!field.empty()) wanted.push_back(field);
          }
          if (auto b = base.find(ref); b != base.end()) {
            for (std::size_t rule : b->second)
              for (const std::string& f : wanted) add(rule, f);
          } else if (auto k = corr.find(ref); k != corr.end()) {
            apply(*k->second, wanted, seen);
          }
        }
      };
  for (const CorrelationRule& c : report.correlations) {
    std::set<const CorrelationRule*> seen;
    apply(c, {}, seen);
  }
}

}  // namespace

void resolve_correlations(LoadReport& report) {
  std::set<std::string> base;  // ids and names of detection rules
  for (const SigmaRule& r : report.rules) {
    if (!r.id.empty()) base.insert(r.id);
    if (!r.name.empty()) base.insert(r.name);
  }
  std::map<std::string, std::size_t> corr;  // id or name -> index
  for (std::size_t i = 0; i < report.correlations.size(); ++i) {
    const CorrelationRule& c = report.correlations[i];
    if (!c.id.empty()) corr.emplace(c.id, i);
    if (!c.name.empty()) corr.emplace(c.name, i);
  }
  const std::size_t n = report.correlations.size();
  std::vector<std::string> problem(n), reason(n);
  // A correlation's window state is saved under its id (rules/correlation_engine.h): two with
  // one id would share state across a restart, so the later one is refused.
  std::map<std::string, std::size_t> first_with_id;
  for (std::size_t i = 0; i < n; ++i) {
    const CorrelationRule& c = report.correlations[i];
    if (c.id.empty()) continue;
    auto [it, fresh] = first_with_id.emplace(c.id, i);
    if (fresh) continue;
    const CorrelationRule& first = report.correlations[it->second];
    reason[i] = "duplicate_id";
    problem[i] = "id " + c.id + " is also the id of the correlation at " + first.path + ":" + std::to_string(first.line);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!reason[i].empty()) continue;
    for (const std::string& ref : report.correlations[i].rules) {
      if (base.count(ref) || corr.count(ref)) continue;
      reason[i] = "unknown_rule_reference";
      problem[i] = "references '" + ref + "', which is neither a loaded rule nor a correlation (by id or name)";
      break;
    }
  }
  // Cycles: depth-first search over correlation -> referenced correlations.
  std::vector<int> mark(n, 0);  // 0 new, 1 on the stack, 2 done
  std::vector<std::size_t> stack;
  std::function<void(std::size_t)> visit = [&](std::size_t i) {
    mark[i] = 1;
    stack.push_back(i);
    for (const std::string& ref : report.correlations[i].rules) {
      auto it = corr.find(ref);
      if (it == corr.end()) continue;
      const std::size_t j = it->second;
      if (mark[j] == 1) {
        std::string chain;
        auto from = std::find(stack.begin(), stack.end(), j);
        for (auto k = from; k != stack.end(); ++k) {
          const CorrelationRule& c = report.correlations[*k];
          chain += (c.name.empty() ? c.id : c.name) + " -> ";
        }
        chain += report.correlations[j].name.empty() ? report.correlations[j].id : report.correlations[j].name;
        for (auto k = from; k != stack.end(); ++k) {
          reason[*k] = "correlation_cycle";
          problem[*k] = "correlation rules reference each other in a cycle: " + chain;
        }
      } else if (mark[j] == 0) {
        visit(j);
      }
    }
    stack.pop_back();
    mark[i] = 2;
  };
  for (std::size_t i = 0; i < n; ++i)
    if (mark[i] == 0) visit(i);
  // A correlation that depends on a rejected one cannot run either.
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!reason[i].empty()) continue;
      for (const std::string& ref : report.correlations[i].rules) {
        auto it = corr.find(ref);
        if (it == corr.end() || reason[it->second].empty()) continue;
        reason[i] = "unknown_rule_reference";
        problem[i] = "references correlation '" + ref + "', which was rejected";
        changed = true;
        break;
      }
    }
  }
  std::vector<CorrelationRule> kept;
  for (std::size_t i = 0; i < n; ++i) {
    CorrelationRule& c = report.correlations[i];
    if (reason[i].empty()) kept.push_back(std::move(c));
    else report.errors.push_back(LoadError{c.path, c.line, c.id, reason[i], problem[i]});
  }
  report.correlations = std::move(kept);
  join_attack_views(report);
  note_correlation_fields(report);
}

}  // namespace vigil::rules
