#pragma once
// ATT&CK on every rule: the revisions between ATT&CK releases and the rule technique mapping.
//
// - rules/mapping/attack_revisions.yml: technique ids a later ATT&CK release revoked and the ids
//   that replaced them (T1562.002 -> T1685.001), and the tactics that were renamed or split
//   (defense-evasion -> stealth, defense-impairment). Rules, data sets and analysts use both
//   revisions, so a rule's view holds both and a filter by either finds its alerts.
// - rules/mapping/rule_techniques.yml: per rule id, the techniques and tactics the rule's
//   detection implies when its tags do not say them, and a level that replaces the rule's own
//   (a generic event, a logoff, is informational whatever the rule says), each with the reason.
//
// Both files are compiled into the binary (rules/CMakeLists.txt) and parsed once, on first use.
// The loader gives every rule its AttackView (sigma_rule.h) with attack_view(); the alert
// filters of the analyst API use technique_matches() / tactic_matches().
// Immutable after parse; the builtin() instances are safe to share between threads.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "rules/sigma_rule.h"

namespace vigil::rules {

class AttackRevisions {
 public:
  struct TacticRevision {
    std::string old_name, new_name, id;
    // Techniques (and their sub-techniques) of the new tactic: `techniques:` in the file. When
    // set, the old tactic implies the new one only beside one of them (and then not the new
    // tactics without techniques), and any of them implies the new tactic.
    std::vector<std::string> techniques;
  };

  // Errors name `origin` and the line.
  static Result<AttackRevisions> parse(std::string_view yaml_text, const std::string& origin);
  // rules/mapping/attack_revisions.yml as compiled in.
  static const AttackRevisions& builtin();

  const std::string& attack_version() const { return version_; }
  // Every (old, new) technique pair, in file order.
  const std::vector<std::pair<std::string, std::string>>& technique_revisions() const { return techniques_; }
  const std::vector<TacticRevision>& tactic_revisions() const { return tactics_; }
  // The ids `technique` (upper case) stands for in the other revision: its replacements when it
  // was revoked, the ids it replaced when it is a new one. Empty when it never changed.
  std::vector<std::string> other_revisions(std::string_view technique) const;

  // Adds to `view` the other revision of each technique and tactic it holds (one step: an old id
  // gets its new id, a new id every old id it replaced), the tactics implied by its techniques,
  // and sorts and de-duplicates both lists.
  void expand(AttackView& view) const;

 private:
  bool implies_tactic(const TacticRevision& t, const std::vector<std::string>& techniques) const;

  std::string version_;
  std::vector<std::pair<std::string, std::string>> techniques_;
  std::multimap<std::string, std::string, std::less<>> old_to_new_, new_to_old_;
  std::vector<TacticRevision> tactics_;
};

// One entry of rules/mapping/rule_techniques.yml.
struct RuleTechniqueEntry {
  std::string id;                       // lower case
  std::string title;                    // for the reader only
  std::vector<std::string> techniques;  // upper case
  std::vector<std::string> tactics;     // Sigma tactic names
  std::string level;                    // "" = the rule's own
  std::string why;
  int line = 0;
};

class RuleTechniqueMapping {
 public:
  // Strict: an unknown key, a malformed id, technique, tactic or level, an entry without `why`
  // or with none of techniques, tactics, level (`techniques: []` is allowed: reviewed, no
  // technique), or an id given twice is an error naming `origin` and the line.
  static Result<RuleTechniqueMapping> parse(std::string_view yaml_text, const std::string& origin);
  // rules/mapping/rule_techniques.yml as compiled in.
  static const RuleTechniqueMapping& builtin();

  // The entry for a rule id (case-insensitive), nullptr when there is none.
  const RuleTechniqueEntry* find(std::string_view rule_id) const;
  std::size_t size() const { return by_id_.size(); }

 private:
  std::map<std::string, RuleTechniqueEntry, std::less<>> by_id_;
};

// The Sigma tactic names (ATT&CK Enterprise, both revisions), for checks: "credential-access"...
bool is_attack_tactic(std::string_view name);
// "T1003" or "T1003.001" (upper case).
bool is_technique_id(std::string_view id);

// The view of a rule with these tags and id: the `attack.<tactic>` and `attack.tNNNN[.NNN]` tags
// (case-insensitive, `_` read as `-`), the mapping entry's techniques and tactics, expanded
// across revisions.
AttackView attack_view(const std::vector<std::string>& tags, std::string_view rule_id,
                       const RuleTechniqueMapping& mapping = RuleTechniqueMapping::builtin(),
                       const AttackRevisions& revisions = AttackRevisions::builtin());

// Sets rule.attack and applies the mapping's level override (keeping the declared level and
// the reason in declared_level / level_override_why). The loader calls it for every rule.
void apply_attack_mapping(SigmaRule& rule, const RuleTechniqueMapping& mapping = RuleTechniqueMapping::builtin(),
                          const AttackRevisions& revisions = AttackRevisions::builtin());

// Filters (storage::AlertQuery::techniques / tactics). What a filter by `technique` (either
// revision, any case) looks for: the id upper-cased and its other revisions, each with its
// sub-techniques; empty when it is not a technique id.
std::vector<std::string> technique_filter(std::string_view technique,
                                          const AttackRevisions& revisions = AttackRevisions::builtin());
// The same for a tactic (either revision, `_` read as `-`): defense-evasion finds stealth and
// defense-impairment, stealth finds defense-evasion. Empty when it is not a tactic name.
std::vector<std::string> tactic_filter(std::string_view tactic,
                                       const AttackRevisions& revisions = AttackRevisions::builtin());

}  // namespace vigil::rules
