#include "app/single_rule.h"

#include <yaml-cpp/yaml.h>

#include "app/rule_cache.h"
#include "app/rules_test_command.h"
#include "core/record_reader.h"
#include "rules/embedded_tests.h"

namespace vigil::app {

bool compile_alone(const rules::SigmaRule& rule, SingleRule& out, std::string* why) {
  rules::CompileReport report;
  auto set = rules::RuleSet::compile({rule}, rule_compile_options(), &report);
  if (!set) {
    *why = set.error().to_string();
    return false;
  }
  if (!report.errors.empty() || (*set)->size() != 1) {
    *why = report.errors.empty() ? "the rule did not compile"
                                 : report.errors[0].reason + ": " + report.errors[0].message;
    return false;
  }
  auto matcher = rules::Matcher::create(*set);
  if (!matcher) {
    *why = matcher.error().to_string();
    return false;
  }
  out.set = *set;
  out.matcher = std::move(*matcher);
  return true;
}

void run_record(SingleRule& r, std::string_view record, LogFormat format, RecordRun& run) {
  run.buffer.assign(record);
  run.buffer.append(kRecordPadding, '\0');
  run.matches.clear();
  Event event;
  event.raw = std::string_view(run.buffer.data(), record.size());
  event.source = "sample";
  event.record_no = 1;
  run.usable = r.matcher->match(event, r.parser, format, run.matches);
  run.parse_error = event.parse_error;
}

bool read_detection_text(const rules::SigmaRule& rule, DetectionText* out) {
  int first_line = 0;
  if (!rules::rule_document_text(rule, bundled_file_text(rule.path), &out->document, &first_line))
    return false;
  try {
    YAML::Node doc = YAML::Load(out->document);
    YAML::Node detection = doc["detection"];
    if (!detection || !detection.IsMap()) return false;
    out->names.clear();
    out->condition.clear();
    if (const YAML::Node c = detection["condition"]; c && c.IsScalar()) {
      out->condition = c.Scalar();
    } else if (c && c.IsSequence()) {
      for (const auto& item : c) {
        if (!item.IsScalar()) continue;
        if (!out->condition.empty()) out->condition += " or ";
        out->condition += c.size() > 1 ? "(" + item.Scalar() + ")" : item.Scalar();
      }
    }
    for (const auto& kv : detection) {
      std::string name = kv.first.Scalar();
      if (name != "condition" && name != "timeframe") out->names.push_back(name);
    }
  } catch (const YAML::Exception&) {
    return false;
  }
  return true;
}

bool load_with_condition(const rules::SigmaRule& rule, const DetectionText& det,
                         const std::string& condition, rules::SigmaRule* out) {
  try {
    YAML::Node copy = YAML::Load(det.document);
    copy["detection"]["condition"] = condition;
    copy.remove("vigil");
    rules::LoadReport lr;
    rules::load_rule_text(YAML::Dump(copy), rule.path, lr);
    if (lr.rules.size() != 1) return false;
    *out = std::move(lr.rules[0]);
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}

}  // namespace vigil::app
