#include "app/rule_sources.h"

#include "app/embedded_files.h"
#include "app/rule_cache.h"
#include "rules/parsed_rule_cache.h"

namespace vigil::app {

rules::LoadReport load_rule_sources(const std::vector<std::string>& paths, RuleSourceStats* stats) {
  std::vector<std::string> files;
  bool bundled = paths.empty();
  std::string scope;
  for (const std::string& p : paths) {
    if (p == kBundledRulesName) bundled = true;
    else files.push_back(p);
    scope += p;
    scope += '\n';
  }
  rules::ParsedRuleCache cache(rule_cache(), scope);
  rules::LoadReport report = rules::load_rule_paths(files, &cache);
  if (bundled) {
    for (const EmbeddedFile* f = kBundledRulePacks; f->path != nullptr; ++f) {
      report.files_read++;
      cache.load(std::string("@bundled/") + f->path, f->content, report);
    }
  }
  cache.save();
  rules::resolve_correlations(report);  // references may cross files and packs
  if (stats) {
    stats->files_parsed = cache.parsed();
    stats->files_reused = cache.reused();
  }
  return report;
}

}  // namespace vigil::app
