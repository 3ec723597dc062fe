#include "rules/coverage.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "core/ascii.h"
#include "core/json_text.h"

namespace vigil::rules {

namespace {

// ATT&CK enterprise tactics in matrix order, as Sigma tags spell them; v19's stealth and
// defense-impairment beside the defense-evasion they came from (rules keep both revisions).
constexpr const char* kTactics[] = {
    "reconnaissance",  "resource-development", "initial-access",     "execution",
    "persistence",     "privilege-escalation", "defense-evasion",    "stealth",
    "defense-impairment", "credential-access", "discovery",          "lateral-movement",
    "collection",      "command-and-control",  "exfiltration",       "impact"};

constexpr std::string_view kSysmonChannel = "Microsoft-Windows-Sysmon/Operational";

constexpr const char* kLevels[] = {"critical", "high", "medium", "low", "informational"};

std::string part(const std::string& s) { return s.empty() ? "-" : ascii_lower(s); }

std::string logsource_key(const std::string& product, const std::string& category,
                          const std::string& service) {
  return part(product) + "/" + part(category) + "/" + part(service);
}

// "attack.t1110.001" -> "T1110.001"; "" when the tag is not a technique.
std::string technique_of(const std::string& tag) {
  const std::string t = ascii_lower(tag);
  if (t.rfind("attack.t", 0) != 0 || t.size() < 12) return "";  // "attack.t" + 4 digits
  for (std::size_t i = 8; i < 12; ++i)
    if (t[i] < '0' || t[i] > '9') return "";
  std::string id = "T" + t.substr(8);
  for (char& c : id) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return id;
}

// What one logsource resolves to: the mapping entry names and the parser formats it can run on.
struct Resolved {
  std::string entry;
  std::set<std::string> formats;
  // product windows: a variant reads a native channel / the Sysmon channel.
  bool windows_native = false, windows_sysmon = false;
};

Resolved resolve(const LogsourceMap& map, const std::string& product, const std::string& category,
                 const std::string& service) {
  Resolved r;
  bool mapped = false;
  std::vector<LogsourceVariant> variants = map.variants_for(product, category, service, &mapped);
  if (!mapped) {
    r.entry = "unmapped";
    r.formats.insert("unmapped");
    return r;
  }
  std::set<std::string> entries;
  const bool windows = ascii_iequals(product, "windows");
  for (const LogsourceVariant& v : variants) {
    entries.insert(v.name.substr(0, v.name.find('/')));
    // Only a variant that names its channel says which; `Channel|exists` (product windows
    // alone) reads any and counts as neither.
    for (const Predicate& p : v.conditions)
      if (windows && ascii_iequals(p.field, "Channel") && p.op == MatchOp::kEquals)
        (ascii_iequals(p.value, kSysmonChannel) ? r.windows_sysmon : r.windows_native) = true;
    bool has_format = false, only_declared = !v.conditions.empty();
    for (const Predicate& p : v.conditions) {
      if (p.field == "_format" && p.op == MatchOp::kEquals) {
        r.formats.insert(ascii_lower(p.value));
        has_format = true;
      }
      if (p.field.empty() || p.field[0] != '_') only_declared = false;
    }
    // A variant without a format condition selects by fields or by a declaration only.
    if (!has_format) r.formats.insert(only_declared ? "declared" : "any");
  }
  for (const std::string& e : entries) r.entry += (r.entry.empty() ? "" : ",") + e;
  return r;
}

void count(CoverageRow& row, const std::string& level, bool correlation) {
  row.rules++;
  if (correlation) row.correlations++;
  row.by_level[level.empty() ? "informational" : level]++;
}

void append_levels(std::string& out, const CoverageRow& row) {
  out += "\"levels\":{";
  bool first = true;
  for (const char* l : kLevels) {
    auto it = row.by_level.find(l);
    out += fmt::format("{}\"{}\":{}", first ? "" : ",", l, it == row.by_level.end() ? 0 : it->second);
    first = false;
  }
  out += "}";
}

std::string level_cells(const CoverageRow& row) {
  std::string s;
  for (const char* l : kLevels) {
    auto it = row.by_level.find(l);
    s += fmt::format(" {:>5}", it == row.by_level.end() ? 0 : it->second);
  }
  return s;
}

}  // namespace

Coverage compute_coverage(const std::vector<SigmaRule>& rules,
                          const std::vector<CorrelationRule>& correlations, const LogsourceMap& map) {
  Coverage c;
  std::map<std::string, Resolved> resolved;  // by logsource key: each is resolved once
  std::map<std::string, std::size_t> tactic_rules;
  std::map<std::string, TechniqueCoverage> techniques;
  std::map<std::string, std::set<std::string>> technique_tactics;

  // `source`: what the rule's logsource resolved to (nullptr for a correlation of correlations).
  auto tally_attack = [&](const std::vector<std::string>& tags, const AttackView& view, const Resolved* source) {
    if (std::any_of(tags.begin(), tags.end(), [](const std::string& t) { return !technique_of(t).empty(); }))
      c.with_attack_tags++;
    if (!view.techniques.empty()) c.with_techniques++;
    const bool native = source != nullptr && source->windows_native;
    const bool sysmon = source != nullptr && source->windows_sysmon;
    c.windows.native_rules += native;
    c.windows.sysmon_rules += sysmon;
    for (const std::string& t : view.tactics) tactic_rules[t]++;
    for (const std::string& t : view.techniques) {
      TechniqueCoverage& tc = techniques[t];
      tc.id = t;
      tc.rules++;
      tc.windows_native += native;
      tc.windows_sysmon += sysmon;
      technique_tactics[t].insert(view.tactics.begin(), view.tactics.end());
    }
  };
  auto tally_source = [&](const std::string& product, const std::string& category,
                          const std::string& service, const std::string& level, bool correlation) -> const Resolved& {
    const std::string key = logsource_key(product, category, service);
    auto it = resolved.find(key);
    if (it == resolved.end()) it = resolved.emplace(key, resolve(map, product, category, service)).first;
    count(c.by_logsource[key], level, correlation);
    c.logsource_entry[key] = it->second.entry;
    for (const std::string& f : it->second.formats) count(c.by_format[f], level, correlation);
    if (ascii_iequals(product, "windows")) c.windows.rules++;
    return it->second;
  };

  std::map<std::string, const SigmaRule*> by_ref;  // name or id -> rule
  for (const SigmaRule& r : rules) {
    c.rules++;
    tally_attack(r.tags, r.attack, &tally_source(r.product, r.category, r.service, r.level, false));
    if (!r.name.empty()) by_ref.emplace(r.name, &r);
    if (!r.id.empty()) by_ref.emplace(r.id, &r);
  }
  for (const CorrelationRule& cr : correlations) {
    c.correlations++;
    const SigmaRule* base = nullptr;
    for (const std::string& ref : cr.rules)
      if (auto it = by_ref.find(ref); it != by_ref.end()) {
        base = it->second;
        break;
      }
    // A correlation over other correlations only has no logsource of its own.
    const Resolved* source = nullptr;
    if (base != nullptr) source = &tally_source(base->product, base->category, base->service, cr.level, true);
    else count(c.by_logsource["(correlation of correlations)"], cr.level, true);
    tally_attack(cr.tags, cr.attack, source);
  }
  for (const char* t : kTactics) {
    auto it = tactic_rules.find(t);
    c.tactics.emplace_back(t, it == tactic_rules.end() ? 0 : it->second);
  }
  for (auto& [id, tc] : techniques) {
    const std::set<std::string>& ts = technique_tactics[id];
    for (const char* t : kTactics)  // matrix order
      if (ts.count(t)) tc.tactics.push_back(t);
    c.windows.native_techniques += tc.windows_native > 0;
    c.windows.sysmon_techniques += tc.windows_sysmon > 0;
    c.windows.both_techniques += tc.windows_native > 0 && tc.windows_sysmon > 0;
    c.techniques.push_back(tc);
  }
  return c;
}

std::string coverage_json(const Coverage& c) {
  std::string out = fmt::format("{{\"rules\":{},\"correlations\":{},\"with_attack_tags\":{},\"with_techniques\":{},",
                                c.rules, c.correlations, c.with_attack_tags, c.with_techniques);
  const WindowsSourceCoverage& w = c.windows;
  out += fmt::format(
      "\"windows\":{{\"rules\":{},\"native_rules\":{},\"sysmon_rules\":{},\"native_techniques\":{},"
      "\"sysmon_techniques\":{},\"both_techniques\":{}}},",
      w.rules, w.native_rules, w.sysmon_rules, w.native_techniques, w.sysmon_techniques, w.both_techniques);
  out += "\"logsources\":[";
  bool first = true;
  for (const auto& [key, row] : c.by_logsource) {
    if (!first) out += ",";
    first = false;
    out += "{\"logsource\":";
    append_json_string(out, key);
    out += ",\"entry\":";
    auto e = c.logsource_entry.find(key);
    append_json_string(out, e == c.logsource_entry.end() ? "" : e->second);
    out += fmt::format(",\"rules\":{},\"correlations\":{},", row.rules, row.correlations);
    append_levels(out, row);
    out += "}";
  }
  out += "],\"formats\":[";
  first = true;
  for (const auto& [format, row] : c.by_format) {
    if (!first) out += ",";
    first = false;
    out += "{\"format\":";
    append_json_string(out, format);
    out += fmt::format(",\"rules\":{},\"correlations\":{},", row.rules, row.correlations);
    append_levels(out, row);
    out += "}";
  }
  out += "],\"tactics\":[";
  first = true;
  for (const auto& [tactic, n] : c.tactics) {
    out += fmt::format("{}{{\"tactic\":\"{}\",\"rules\":{}}}", first ? "" : ",", tactic, n);
    first = false;
  }
  out += "],\"techniques\":[";
  first = true;
  for (const TechniqueCoverage& t : c.techniques) {
    out += fmt::format("{}{{\"id\":\"{}\",\"rules\":{},\"windows_native\":{},\"windows_sysmon\":{},\"tactics\":[",
                       first ? "" : ",", t.id, t.rules, t.windows_native, t.windows_sysmon);
    first = false;
    for (std::size_t i = 0; i < t.tactics.size(); ++i)
      out += fmt::format("{}\"{}\"", i ? "," : "", t.tactics[i]);
    out += "]}";
  }
  out += "]}";
  return out;
}

std::string coverage_text(const Coverage& c) {
  std::string out = fmt::format(
      "rules: {} detection + {} correlation; {} carry ATT&CK technique tags; with the rule technique "
      "mapping, {} have a technique\n\n",
      c.rules, c.correlations, c.with_attack_tags, c.with_techniques);
  const std::string level_head = "  crit  high   med   low  info";
  out += fmt::format("{:<40} {:<28} {:>5} {:>5}{}\n", "logsource (product/category/service)",
                     "mapping entry", "rules", "corr", level_head);
  for (const auto& [key, row] : c.by_logsource) {
    auto e = c.logsource_entry.find(key);
    out += fmt::format("{:<40} {:<28} {:>5} {:>5}{}\n", key,
                       e == c.logsource_entry.end() ? "" : e->second, row.rules, row.correlations,
                       level_cells(row));
  }
  out += fmt::format("\n{:<40} {:>5} {:>5}{}\n", "parser (format)", "rules", "corr", level_head);
  for (const auto& [format, row] : c.by_format)
    out += fmt::format("{:<40} {:>5} {:>5}{}\n", format, row.rules, row.correlations, level_cells(row));
  std::size_t covered = 0;
  for (const auto& [tactic, n] : c.tactics) covered += n > 0;
  out += fmt::format("\nATT&CK tactics ({} of {} covered)\n", covered, c.tactics.size());
  for (const auto& [tactic, n] : c.tactics)
    out += fmt::format("  {:<24} {:>5}{}\n", tactic, n, n == 0 ? "  (no rule)" : "");
  const WindowsSourceCoverage& w = c.windows;
  out += fmt::format(
      "\nWindows: {} rules, {} read native audit channels, {} read Sysmon; techniques covered by native "
      "audit {}, by Sysmon {}, by both {}\n",
      w.rules, w.native_rules, w.sysmon_rules, w.native_techniques, w.sysmon_techniques, w.both_techniques);
  out += fmt::format("\nATT&CK techniques ({}; both revisions of a renumbered one)\n", c.techniques.size());
  out += fmt::format("  {:<12} {:>5} {:>6} {:>6}  {}\n", "technique", "rules", "native", "sysmon", "tactics");
  for (const TechniqueCoverage& t : c.techniques) {
    std::string tactics;
    for (const std::string& x : t.tactics) tactics += (tactics.empty() ? "" : ", ") + x;
    out += fmt::format("  {:<12} {:>5} {:>6} {:>6}  {}\n", t.id, t.rules, t.windows_native, t.windows_sysmon, tactics);
  }
  return out;
}

}  // namespace vigil::rules
