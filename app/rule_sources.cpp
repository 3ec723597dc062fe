#include "app/rule_sources.h"

#include "app/embedded_files.h"

namespace vigil::app {

rules::LoadReport load_rule_sources(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  bool bundled = paths.empty();
  for (const std::string& p : paths) {
    if (p == kBundledRulesName) bundled = true;
    else files.push_back(p);
  }
  rules::LoadReport report = rules::load_rule_paths(files);
  if (bundled) {
    for (const EmbeddedFile* f = kBundledRulePacks; f->path != nullptr; ++f) {
      report.files_read++;
      rules::load_rule_text(f->content, std::string("@bundled/") + f->path, report);
    }
  }
  rules::resolve_correlations(report);  // references may cross files and packs
  return report;
}

}  // namespace vigil::app
