#include "rules/attack_mapping.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>

#include <yaml-cpp/yaml.h>

#include "core/ascii.h"

// Generated from rules/mapping/*.yml by cmake/embed_text.cmake (NUL-terminated).
extern const char kBuiltinAttackRevisions[];
extern const char kBuiltinRuleTechniques[];

namespace vigil::rules {
namespace {

constexpr const char* kRevisionsOrigin = "builtin:rules/mapping/attack_revisions.yml";
constexpr const char* kTechniquesOrigin = "builtin:rules/mapping/rule_techniques.yml";

// ATT&CK Enterprise tactics as Sigma tags name them, in both revisions (v19 renamed
// defense-evasion to stealth and split defense-impairment out of it).
constexpr std::string_view kTactics[] = {
    "reconnaissance",  "resource-development", "initial-access",     "execution",
    "persistence",     "privilege-escalation", "defense-evasion",    "stealth",
    "defense-impairment", "credential-access", "discovery",          "lateral-movement",
    "collection",      "command-and-control",  "exfiltration",       "impact",
};

struct ParseError {
  int line = 0;
  std::string message;
};

int line_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.is_null() || m.line < 0 ? 0 : m.line + 1;
}

Status error_status(const std::string& origin, const ParseError& e) {
  return Status::InvalidArgument(origin + ":" + std::to_string(e.line) + ": " + e.message);
}

std::string tactic_name(std::string_view text) {
  std::string out = ascii_lower(text);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = s[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

// T1685.001 is a sub-technique of `parent` T1685 (or equal to it).
bool within(std::string_view technique, std::string_view parent) {
  return technique == parent ||
         (technique.size() > parent.size() && technique.substr(0, parent.size()) == parent &&
          technique[parent.size()] == '.');
}

void sort_unique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// A scalar string (not a map or list), or an error naming `what`.
bool scalar(const YAML::Node& n, const std::string& what, std::string* out, ParseError* e) {
  if (!n.IsScalar() || n.Scalar().empty()) {
    *e = ParseError{line_of(n), what + " must be a non-empty string"};
    return false;
  }
  *out = n.Scalar();
  return true;
}

// A flow or block list of strings.
bool string_list(const YAML::Node& n, const std::string& what, std::vector<std::string>* out, ParseError* e) {
  if (!n.IsSequence()) {
    *e = ParseError{line_of(n), what + " must be a list"};
    return false;
  }
  for (const YAML::Node& item : n) {
    std::string s;
    if (!scalar(item, "an item of " + what, &s, e)) return false;
    out->push_back(std::move(s));
  }
  return true;
}

bool technique_list(const YAML::Node& n, const std::string& what, std::vector<std::string>* out, ParseError* e) {
  if (!string_list(n, what, out, e)) return false;
  for (const std::string& t : *out)
    if (!is_technique_id(t)) {
      *e = ParseError{line_of(n), what + ": '" + t + "' is not an ATT&CK technique id (T1234 or T1234.001, upper case)"};
      return false;
    }
  return true;
}

// Keys of a map node, each once, all of them in `allowed`.
bool check_keys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& what,
                ParseError* e) {
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    if (!allowed.count(key)) {
      std::string list;
      for (const std::string& k : allowed) list += (list.empty() ? "" : ", ") + k;
      *e = ParseError{line_of(kv.first), "unknown key '" + key + "' in " + what + " (expected " + list + ")"};
      return false;
    }
    if (!seen.insert(key).second) {
      *e = ParseError{line_of(kv.first), "key '" + key + "' appears twice in " + what};
      return false;
    }
  }
  return true;
}

}  // namespace

bool is_attack_tactic(std::string_view name) {
  return std::find(std::begin(kTactics), std::end(kTactics), name) != std::end(kTactics);
}

bool is_technique_id(std::string_view id) {
  auto digits = [&](std::size_t from, std::size_t n) {
    for (std::size_t i = from; i < from + n; ++i)
      if (id[i] < '0' || id[i] > '9') return false;
    return true;
  };
  if (id.size() == 5) return id[0] == 'T' && digits(1, 4);
  if (id.size() == 9) return id[0] == 'T' && digits(1, 4) && id[5] == '.' && digits(6, 3);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Revisions

Result<AttackRevisions> AttackRevisions::parse(std::string_view yaml_text, const std::string& origin) {
  AttackRevisions out;
  ParseError e;
  auto fail = [&]() { return Error(error_status(origin, e)); };
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsMap()) return Error(Status::InvalidArgument(origin + ": expected a map with 'techniques' and 'tactics'"));
    if (!check_keys(root, {"attack_version", "techniques", "tactics"}, "the revisions file", &e)) return fail();
    if (const YAML::Node v = root["attack_version"]; v && !scalar(v, "'attack_version'", &out.version_, &e)) return fail();
    std::set<std::string> olds;
    if (const YAML::Node list = root["techniques"]) {
      if (!list.IsSequence()) return Error(error_status(origin, {line_of(list), "'techniques' must be a list"}));
      for (const YAML::Node& item : list) {
        if (!item.IsMap() || !check_keys(item, {"old", "new"}, "a technique revision", &e)) {
          if (e.message.empty()) e = {line_of(item), "a technique revision must be a map {old, new}"};
          return fail();
        }
        std::string old_id, new_id;
        if (!item["old"] || !item["new"]) return Error(error_status(origin, {line_of(item), "a technique revision needs 'old' and 'new'"}));
        if (!scalar(item["old"], "'old'", &old_id, &e) || !scalar(item["new"], "'new'", &new_id, &e)) return fail();
        for (const std::string* id : {&old_id, &new_id})
          if (!is_technique_id(*id))
            return Error(error_status(origin, {line_of(item), "'" + *id + "' is not an ATT&CK technique id (T1234 or T1234.001, upper case)"}));
        if (!olds.insert(old_id).second)
          return Error(error_status(origin, {line_of(item), "'" + old_id + "' is revoked twice"}));
        out.techniques_.emplace_back(old_id, new_id);
        out.old_to_new_.emplace(old_id, new_id);
        out.new_to_old_.emplace(new_id, old_id);
      }
    }
    if (const YAML::Node list = root["tactics"]) {
      if (!list.IsSequence()) return Error(error_status(origin, {line_of(list), "'tactics' must be a list"}));
      for (const YAML::Node& item : list) {
        if (!item.IsMap() || !check_keys(item, {"old", "new", "id", "techniques"}, "a tactic revision", &e)) {
          if (e.message.empty()) e = {line_of(item), "a tactic revision must be a map {old, new, id}"};
          return fail();
        }
        TacticRevision t;
        if (!item["old"] || !item["new"]) return Error(error_status(origin, {line_of(item), "a tactic revision needs 'old' and 'new'"}));
        if (!scalar(item["old"], "'old'", &t.old_name, &e) || !scalar(item["new"], "'new'", &t.new_name, &e)) return fail();
        if (const YAML::Node id = item["id"]; id && !scalar(id, "'id'", &t.id, &e)) return fail();
        for (const std::string* name : {&t.old_name, &t.new_name})
          if (!is_attack_tactic(*name))
            return Error(error_status(origin, {line_of(item), "'" + *name + "' is not a Sigma tactic name"}));
        if (const YAML::Node ts = item["techniques"]; ts && !technique_list(ts, "'techniques'", &t.techniques, &e)) return fail();
        out.tactics_.push_back(std::move(t));
      }
    }
  } catch (const YAML::Exception& x) {
    return Error(error_status(origin, {x.mark.is_null() || x.mark.line < 0 ? 0 : x.mark.line + 1, x.msg}));
  } catch (const std::exception& x) {
    return Error(error_status(origin, {0, x.what()}));
  }
  return out;
}

const AttackRevisions& AttackRevisions::builtin() {
  static const AttackRevisions* const kRevisions = [] {
    Result<AttackRevisions> r = parse(kBuiltinAttackRevisions, kRevisionsOrigin);
    if (!r) {
      // Our own file, covered by tests: a failure here is a build defect, not a user error.
      std::fprintf(stderr, "vigil: the built-in ATT&CK revisions do not parse: %s\n", r.error().to_string().c_str());
      std::abort();
    }
    return new AttackRevisions(std::move(*r));
  }();
  return *kRevisions;
}

std::vector<std::string> AttackRevisions::other_revisions(std::string_view technique) const {
  std::vector<std::string> out;
  for (auto [a, b] = old_to_new_.equal_range(technique); a != b; ++a) out.push_back(a->second);
  for (auto [a, b] = new_to_old_.equal_range(technique); a != b; ++a) out.push_back(a->second);
  return out;
}

bool AttackRevisions::implies_tactic(const TacticRevision& t, const std::vector<std::string>& techniques) const {
  for (const std::string& have : techniques)
    for (const std::string& of_tactic : t.techniques)
      if (within(have, of_tactic)) return true;
  return false;
}

void AttackRevisions::expand(AttackView& view) const {
  const std::size_t own = view.techniques.size();
  for (std::size_t i = 0; i < own; ++i)
    for (std::string& other : other_revisions(view.techniques[i])) view.techniques.push_back(std::move(other));
  sort_unique(view.techniques);

  // A technique of a tactic that lists its techniques implies that tactic.
  for (const TacticRevision& t : tactics_)
    if (!t.techniques.empty() && implies_tactic(t, view.techniques)) view.tactics.push_back(t.new_name);
  sort_unique(view.tactics);
  const std::vector<std::string> declared = view.tactics;
  auto has = [&](const std::string& tactic) { return std::binary_search(declared.begin(), declared.end(), tactic); };
  // The old tactic becomes the new tactics that list one of the view's techniques (a T1562.002
  // rule tagged defense-evasion is defense-impairment), or, when none does, the new tactics that
  // list no techniques (defense-evasion beside T1218.011 is stealth). The view's techniques are
  // already in both revisions, so an old id finds the tactic of its new id.
  bool listed_tactic_applies = false;
  for (const TacticRevision& t : tactics_)
    if (has(t.old_name) && !t.techniques.empty() && implies_tactic(t, view.techniques)) listed_tactic_applies = true;
  for (const TacticRevision& t : tactics_) {
    if (has(t.new_name)) view.tactics.push_back(t.old_name);
    if (has(t.old_name) && (t.techniques.empty() ? !listed_tactic_applies : implies_tactic(t, view.techniques)))
      view.tactics.push_back(t.new_name);
  }
  sort_unique(view.tactics);
}

// ---------------------------------------------------------------------------------------------
// Rule technique mapping

Result<RuleTechniqueMapping> RuleTechniqueMapping::parse(std::string_view yaml_text, const std::string& origin) {
  RuleTechniqueMapping out;
  ParseError e;
  auto fail = [&]() { return Error(error_status(origin, e)); };
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (root.IsNull()) return out;
    if (!root.IsMap() || !check_keys(root, {"rules"}, "the rule technique mapping", &e)) {
      if (e.message.empty()) e = {line_of(root), "expected a map with one key, 'rules'"};
      return fail();
    }
    const YAML::Node list = root["rules"];
    if (!list || list.IsNull()) return out;
    if (!list.IsSequence()) return Error(error_status(origin, {line_of(list), "'rules' must be a list"}));
    for (const YAML::Node& item : list) {
      if (!item.IsMap()) return Error(error_status(origin, {line_of(item), "an entry of 'rules' must be a map"}));
      if (!check_keys(item, {"id", "title", "techniques", "tactics", "level", "why"}, "a rule technique entry", &e)) return fail();
      RuleTechniqueEntry entry;
      entry.line = line_of(item);
      if (!item["id"]) return Error(error_status(origin, {entry.line, "the entry has no 'id'"}));
      if (!scalar(item["id"], "'id'", &entry.id, &e)) return fail();
      if (!is_uuid(entry.id))
        return Error(error_status(origin, {line_of(item["id"]), "'" + entry.id + "' is not a rule id (a UUID)"}));
      entry.id = ascii_lower(entry.id);
      if (const YAML::Node n = item["title"]; n && !scalar(n, "'title'", &entry.title, &e)) return fail();
      if (const YAML::Node n = item["techniques"]; n && !technique_list(n, "'techniques'", &entry.techniques, &e)) return fail();
      if (const YAML::Node n = item["tactics"]) {
        if (!string_list(n, "'tactics'", &entry.tactics, &e)) return fail();
        for (const std::string& t : entry.tactics)
          if (!is_attack_tactic(t))
            return Error(error_status(origin, {line_of(n), "'" + t + "' is not a Sigma tactic name (credential-access, stealth...)"}));
      }
      if (const YAML::Node n = item["level"]) {
        if (!scalar(n, "'level'", &entry.level, &e)) return fail();
        static const std::set<std::string> kLevels = {"informational", "low", "medium", "high", "critical"};
        if (!kLevels.count(entry.level))
          return Error(error_status(origin, {line_of(n), "'" + entry.level + "' is not a level (informational, low, medium, high, critical)"}));
      }
      if (!item["why"]) return Error(error_status(origin, {entry.line, "the entry for " + entry.id + " has no 'why'"}));
      if (!scalar(item["why"], "'why'", &entry.why, &e)) return fail();
      // `techniques: []` is an answer (the rule was reviewed and shows no technique, `why` says
      // why); an entry with none of the three keys is not.
      if (!item["techniques"] && !item["tactics"] && !item["level"])
        return Error(error_status(origin, {entry.line, "the entry for " + entry.id + " sets none of techniques, tactics, level"}));
      const auto [at, inserted] = out.by_id_.emplace(entry.id, entry);
      if (!inserted)
        return Error(error_status(origin, {entry.line, "rule " + entry.id + " is mapped twice (first at line " +
                                                           std::to_string(at->second.line) + ")"}));
    }
  } catch (const YAML::Exception& x) {
    return Error(error_status(origin, {x.mark.is_null() || x.mark.line < 0 ? 0 : x.mark.line + 1, x.msg}));
  } catch (const std::exception& x) {
    return Error(error_status(origin, {0, x.what()}));
  }
  return out;
}

const RuleTechniqueMapping& RuleTechniqueMapping::builtin() {
  static const RuleTechniqueMapping* const kMapping = [] {
    Result<RuleTechniqueMapping> m = parse(kBuiltinRuleTechniques, kTechniquesOrigin);
    if (!m) {
      std::fprintf(stderr, "vigil: the built-in rule technique mapping does not parse: %s\n",
                   m.error().to_string().c_str());
      std::abort();
    }
    return new RuleTechniqueMapping(std::move(*m));
  }();
  return *kMapping;
}

const RuleTechniqueEntry* RuleTechniqueMapping::find(std::string_view rule_id) const {
  if (by_id_.empty()) return nullptr;
  const auto it = by_id_.find(ascii_lower(rule_id));
  return it == by_id_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------------
// Views and filters

AttackView attack_view(const std::vector<std::string>& tags, std::string_view rule_id,
                       const RuleTechniqueMapping& mapping, const AttackRevisions& revisions) {
  AttackView view;
  for (const std::string& tag : tags) {
    if (tag.size() <= 7 || !ascii_iequals(std::string_view(tag).substr(0, 7), "attack.")) continue;
    const std::string_view rest = std::string_view(tag).substr(7);
    std::string upper(rest);
    for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
    if (is_technique_id(upper)) {
      view.techniques.push_back(std::move(upper));
    } else if (std::string tactic = tactic_name(rest); is_attack_tactic(tactic)) {
      view.tactics.push_back(std::move(tactic));
    }
    // Anything else (groups g0016, software s0002, ICS tactics) is not a technique or tactic.
  }
  if (const RuleTechniqueEntry* entry = rule_id.empty() ? nullptr : mapping.find(rule_id)) {
    view.techniques.insert(view.techniques.end(), entry->techniques.begin(), entry->techniques.end());
    view.tactics.insert(view.tactics.end(), entry->tactics.begin(), entry->tactics.end());
  }
  revisions.expand(view);
  return view;
}

void apply_attack_mapping(SigmaRule& rule, const RuleTechniqueMapping& mapping, const AttackRevisions& revisions) {
  if (!rule.level_override_why.empty()) {  // applied before (with another mapping): start over
    rule.level = rule.declared_level;
    rule.declared_level.clear();
    rule.level_override_why.clear();
  }
  rule.attack = attack_view(rule.tags, rule.id, mapping, revisions);
  const RuleTechniqueEntry* entry = rule.id.empty() ? nullptr : mapping.find(rule.id);
  if (entry && !entry->level.empty() && entry->level != rule.level) {
    rule.declared_level = rule.level;
    rule.level_override_why = entry->why;
    rule.level = entry->level;
  }
}

std::vector<std::string> technique_filter(std::string_view technique, const AttackRevisions& revisions) {
  std::string id(technique);
  for (char& c : id) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
  if (!is_technique_id(id)) return {};
  std::vector<std::string> out = revisions.other_revisions(id);
  out.insert(out.begin(), std::move(id));
  return out;
}

std::vector<std::string> tactic_filter(std::string_view tactic, const AttackRevisions& revisions) {
  const std::string name = tactic_name(tactic);
  if (!is_attack_tactic(name)) return {};
  std::vector<std::string> out{name};
  for (const AttackRevisions::TacticRevision& t : revisions.tactic_revisions()) {
    if (t.old_name == name) out.push_back(t.new_name);
    if (t.new_name == name) out.push_back(t.old_name);
  }
  return out;
}

}  // namespace vigil::rules
