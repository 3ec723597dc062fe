#pragma once
// `vigil rules lint`: style and correctness checks for rule authors.
#include <cstdio>
#include <string>
#include <vector>

namespace vigil::app {

struct RulesLintOptions {
  std::vector<std::string> paths;  // files, directories, or "@bundled"
  // Sigma's field-name list (sigma/tests/logsource.json) for the Windows field check. Default:
  // $VIGIL_CORPORA/sigma/tests/logsource.json, else ../shared/corpora/sigma/tests/logsource.json;
  // when none is found, Windows field names are not checked.
  std::string sigma_fields;
};

// Prints one line per finding, "<file>:<line>: error|warning: <rule id>: <code>: <message>",
// then "errors: E, warnings: W". Returns 1 if any error, else 0.
//
// Errors: load failures (code = the loader's reason: yaml_syntax, unknown_modifier,
// bad_condition...), missing_id, missing_title, missing_level, bad_level, duplicate_id,
// compile errors, bad_vigil_block. Warnings: unknown_field (for logsources whose field names
// are known: webserver, linux, and Windows when Sigma's
// field list is found), short_contains, no_prefilter_literal, tag_namespace, no_tests,
// one_sided_tests.
int run_rules_lint(const RulesLintOptions& options, std::FILE* out);

}  // namespace vigil::app
