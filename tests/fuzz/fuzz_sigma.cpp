// Sigma rule YAML in, compiled rule set out: the loader (documents, action: global
// collections, modifiers, correlations), correlation resolution and the compiler (literal
// covers, Hyperscan and PCRE2 databases). A compiled set is then run over a few fixed events,
// so that a rule the compiler accepted is also evaluated.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/parse/parser.h"
#include "padded.h"
#include "rules/compiler.h"
#include "rules/matcher.h"
#include "rules/sigma_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vigil;
  rules::LoadReport report;
  rules::load_rule_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yml", report);
  rules::resolve_correlations(report);
  if (report.rules.empty()) return 0;
  rules::CompileReport compile_report;
  auto set = rules::RuleSet::compile(std::move(report.rules), rules::CompileOptions{}, &compile_report);
  if (!set) return 0;
  auto matcher = rules::Matcher::create(*set);
  if (!matcher) return 0;
  static const char* const kEvents[] = {
      R"({"Event":{"System":{"Provider":{"Name":"Microsoft-Windows-Sysmon"},"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws1"},"EventData":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami","ParentImage":"C:\\x\\explorer.exe","User":"CORP\\bob"}}})",
      "<34>Oct 11 22:14:15 mymachine sshd[123]: Failed password for root from 10.0.0.1 port 22 ssh2",
      "CEF:0|Vendor|Product|1.0|100|Attack|10|src=10.0.0.1 dst=10.0.0.2 act=blocked",
      R"(127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /etc/passwd HTTP/1.0" 404 2326 "-" "curl/7")",
  };
  parse::RecordParser parser;
  std::vector<rules::RuleMatch> matches;
  for (const char* text : kEvents) {
    const fuzz::PaddedRecord record{std::string_view(text)};
    Event event;
    event.raw = record.view();
    matches.clear();
    (void)(*matcher)->match(event, parser, LogFormat::kUnknown, matches);
  }
  return 0;
}
