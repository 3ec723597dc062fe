#include "app/rules_command.h"

#include <fmt/format.h>

#include <chrono>
#include <map>

#include "app/rule_cache.h"
#include "app/rule_sources.h"
#include "rules/compiler.h"

namespace vigil::app {

int run_rules_check(const RulesCheckOptions& options, std::FILE* out) {
  auto start = std::chrono::steady_clock::now();
  rules::LoadReport loaded = load_rule_sources(options.paths);
  double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::size_t total = loaded.rules.size() + loaded.errors.size();
  rules::CompileReport creport;
  auto compiled = rules::RuleSet::compile(std::move(loaded.rules), rule_compile_options(), &creport);
  if (!compiled) {
    std::fprintf(out, "error: %s\n", compiled.error().to_string().c_str());
    return 1;
  }
  std::vector<rules::LoadError> errors = loaded.errors;
  errors.insert(errors.end(), creport.errors.begin(), creport.errors.end());
  std::map<std::string, std::size_t> by_reason;
  for (const rules::LoadError& e : errors) {
    by_reason[e.reason]++;
    std::fprintf(out, "%s:%d: %s: %s: %s\n", e.file.c_str(), e.line,
                 e.rule_id.empty() ? "(no id)" : e.rule_id.c_str(), e.reason.c_str(),
                 e.message.c_str());
  }
  if (options.verbose) {
    for (std::size_t i = 0; i < (*compiled)->size(); ++i) {
      const rules::SigmaRule& r = (*compiled)->rule(i);
      std::fprintf(out, "ok %s %s [%s] %s\n", r.path.c_str(), r.id.c_str(), r.level.c_str(),
                   r.title.c_str());
      if (!r.level_override_why.empty())
        std::fprintf(out, "   level %s -> %s by the rule technique mapping: %s\n",
                     r.declared_level.empty() ? "(none)" : r.declared_level.c_str(), r.level.c_str(),
                     r.level_override_why.c_str());
    }
  }
  std::string text;
  if (!by_reason.empty()) {
    text += "failures by reason:\n";
    for (const auto& [reason, n] : by_reason) text += fmt::format("  {:<24} {}\n", reason, n);
  }
  double total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  text += fmt::format(
      "files: {}; load {:.2f} s, compile {:.2f} s, total {:.2f} s\n"
      "prefilter: {} literals ({} Hyperscan patterns), {} rules always evaluated\n"
      "regex: {} predicates ({} Hyperscan exact, {} Hyperscan prefilter + PCRE2, {} PCRE2 only:\n"
      "       keyword regexes, or ones Hyperscan refused)\n"
      "database: {:.1f} KiB\n",
      loaded.files_read, load_seconds, creport.compile_seconds, total_seconds, creport.literals,
      creport.hyperscan_patterns, creport.always_evaluated, creport.regex_predicates,
      creport.regex_hyperscan_exact, creport.regex_hyperscan_prefilter, creport.regex_pcre_only,
      creport.database_bytes / 1024.0);
  text += fmt::format("loaded {} of {} rules\n", (*compiled)->size(), total);
  std::size_t overridden = 0;
  for (std::size_t i = 0; i < (*compiled)->size(); ++i) overridden += !(*compiled)->rule(i).level_override_why.empty();
  if (overridden > 0)
    text += fmt::format("level set by rules/mapping/rule_techniques.yml: {} rules (-v lists them)\n", overridden);
  std::fputs(text.c_str(), out);
  return (*compiled)->size() == 0 ? 1 : 0;
}

}  // namespace vigil::app
