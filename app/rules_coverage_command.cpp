#include "app/rules_coverage_command.h"

#include "app/rule_sources.h"
#include "rules/coverage.h"
#include "rules/logsource_map.h"

namespace vigil::app {

int run_rules_coverage(const RulesCoverageOptions& options, std::FILE* out, std::FILE* err) {
  rules::LoadReport loaded = load_rule_sources(options.paths);
  std::size_t load_errors = 0;
  for (const rules::LoadError& e : loaded.errors) load_errors += e.reason != "not_a_rule";
  // Rules that do not load are not coverage; say how many so a broken pack is not mistaken
  // for a gap.
  if (load_errors > 0)
    std::fprintf(err, "vigil rules coverage: %zu rule(s) failed to load (see `vigil rules check`)\n",
                 load_errors);
  if (loaded.rules.empty() && loaded.correlations.empty()) {
    std::fprintf(err, "vigil rules coverage: no rule loaded\n");
    return 1;
  }
  const rules::Coverage c =
      rules::compute_coverage(loaded.rules, loaded.correlations, rules::LogsourceMap::builtin());
  const std::string text = options.json ? rules::coverage_json(c) + "\n" : rules::coverage_text(c);
  std::fputs(text.c_str(), out);
  return 0;
}

}  // namespace vigil::app
