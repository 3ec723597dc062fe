#include "app/rules_test_command.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <fstream>
#include <map>
#include <memory>

#include "app/embedded_files.h"
#include "app/rule_sources.h"
#include "app/single_rule.h"
#include "core/parse/parser.h"
#include "core/record_reader.h"
#include "rules/compiler.h"
#include "rules/embedded_tests.h"
#include "rules/logsource_map.h"
#include "rules/matcher.h"
#include "core/ascii.h"

namespace vigil::app {

std::string bundled_file_text(const std::string& rule_path) {
  const std::string prefix = std::string(kBundledRulesName) + "/";
  if (rule_path.rfind(prefix, 0) != 0) return "";
  const std::string rel = rule_path.substr(prefix.size());
  for (const EmbeddedFile* f = kBundledRulePacks; f->path != nullptr; ++f)
    if (rel == f->path) return f->content;
  return "";
}

namespace {

using SampleRun = RecordRun;

LogFormat format_of(const rules::RuleTestSample& s) {
  LogFormat f = LogFormat::kUnknown;
  if (!s.format.empty()) parse_log_format(s.format, &f);
  return f;
}

void run_sample(SingleRule& r, const rules::RuleTestSample& s, SampleRun& run) {
  run_record(r, s.log, format_of(s), run);
}

std::string quote(std::string_view v, std::size_t max = 80) {
  std::string s(v.substr(0, max));
  if (v.size() > max) s += "...";
  return "'" + s + "'";
}

std::string logsource_text(const rules::SigmaRule& r) {
  std::string s;
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    if (!s.empty()) s += ",";
    s += std::string(k) + "=" + v;
  };
  add("product", r.product);
  add("category", r.category);
  add("service", r.service);
  return s.empty() ? "(none)" : s;
}

// Why a sample expected to match did not: the logsource, or the selections that were false.
std::string explain_no_match(const rules::SigmaRule& rule, const rules::RuleTestSample& sample,
                             const SampleRun& run) {
  if (!run.usable)
    return fmt::format("the event is unusable ({})", to_string(run.parse_error));
  // 1. The logsource: the same rule with an always-true detection.
  rules::SigmaRule any = rule;
  any.predicates.clear();
  any.condition = rules::CondNode{};
  any.condition.kind = rules::CondNode::Kind::kTrue;
  SingleRule probe;
  std::string why;
  if (compile_alone(any, probe, &why)) {
    SampleRun r;
    run_sample(probe, sample, r);
    if (r.matches.empty()) {
      // Parse the event to say what it is and which mapping conditions it fails.
      std::string buf = sample.log + std::string(kRecordPadding, '\0');
      Event ev;
      ev.raw = std::string_view(buf.data(), sample.log.size());
      parse::RecordParser parser;
      parser.parse(format_of(sample), ev);
      std::string text = fmt::format("the event is not of the rule's logsource ({}): it is {}",
                                     logsource_text(rule), to_string(ev.format));
      bool mapped = false;
      auto variants = rules::LogsourceMap::builtin().variants_for(rule.product, rule.category,
                                                                  rule.service, &mapped);
      if (!mapped) {
        text += "; the mapping cannot recognise this logsource by content (it runs only on input"
                " declared with --logsource)";
        return text;
      }
      std::vector<std::string> needs;
      for (const rules::LogsourceVariant& v : variants) {
        std::vector<std::string> conds;
        std::map<std::string, std::vector<const rules::Predicate*>> by_field;
        for (const rules::Predicate& p : v.conditions) by_field[p.field].push_back(&p);
        for (const auto& [field, preds] : by_field) {
          const Field* f = ev.fields.find(field);
          bool met = false, exact = true;
          for (const rules::Predicate* p : preds) {
            if (p->op != rules::MatchOp::kEquals) exact = false;
            else if (f != nullptr && ascii_iequals(f->value, p->value)) met = true;
          }
          if (met && exact) continue;  // this condition holds: not the reason
          std::string want = field + " " + (preds.size() == 1 ? "= " + quote(preds[0]->value) : "in [");
          if (preds.size() > 1) {
            for (std::size_t i = 0; i < preds.size(); ++i) want += (i ? ", " : "") + quote(preds[i]->value);
            want += "]";
          }
          if (f == nullptr) want += " (the event has no " + field + ")";
          else want += " (the event has " + quote(f->value) + ")";
          conds.push_back(want);
        }
        std::string c;
        for (std::size_t i = 0; i < conds.size(); ++i) c += (i ? " and " : "") + conds[i];
        needs.push_back(v.name + ": " + (c.empty() ? "no condition" : c));
      }
      text += "; the rule needs one of: ";
      for (std::size_t i = 0; i < needs.size(); ++i) text += (i ? "; " : "") + needs[i];
      return text;
    }
  }
  // 2. The selections: each compiled alone as the rule's condition.
  DetectionText det;
  if (!read_detection_text(rule, &det))
    return "the logsource matches, but the detection condition is false";
  std::vector<std::string> falses, trues;
  const std::string& condition = det.condition;
  for (const std::string& name : det.names) {
    rules::SigmaRule one;
    if (!load_with_condition(rule, det, name, &one)) continue;
    SingleRule sel;
    std::string err;
    if (!compile_alone(one, sel, &err)) continue;
    SampleRun r;
    run_sample(sel, sample, r);
    (r.matches.empty() ? falses : trues).push_back(name);
  }
  std::string text = "the logsource matches but the condition";
  if (!condition.empty()) text += " '" + condition + "'";
  text += " is false; selections false: ";
  if (falses.empty()) text += "(none)";
  for (std::size_t i = 0; i < falses.size(); ++i) text += (i ? ", " : "") + falses[i];
  if (!trues.empty()) {
    text += "; true: ";
    for (std::size_t i = 0; i < trues.size(); ++i) text += (i ? ", " : "") + trues[i];
  }
  return text;
}

std::string explain_match(const SampleRun& run) {
  std::string text = "matched";
  if (run.matches.empty() || run.matches[0].matched.empty()) return text + " (no field recorded)";
  text += " on ";
  const auto& m = run.matches[0].matched;
  for (std::size_t i = 0; i < m.size(); ++i) {
    text += i ? ", " : "";
    text += m[i].field.empty() ? std::string("(keyword)") : std::string(m[i].field);
    text += "=" + quote(m[i].value);
  }
  return text;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') out += '?';  // not allowed in XML 1.0
        else out += c;
    }
  }
  return out;
}

struct JunitCase {
  std::string name, classname;
  std::string failure;  // "" = passed
  bool error = false;   // an error (bad rule) rather than a failed sample
};

}  // namespace

int run_rules_test(const RulesTestOptions& options, std::FILE* out) {
  rules::LoadReport loaded = load_rule_sources(options.paths);
  std::size_t samples = 0, passed = 0, failed = 0, untested = 0, errors = 0;
  std::map<std::string, std::vector<JunitCase>> suites;  // by file

  for (const rules::LoadError& e : loaded.errors) {
    if (e.reason == "not_a_rule") continue;
    ++errors;
    std::string msg = fmt::format("{}:{}: {}: {}: {}", e.file, e.line,
                                  e.rule_id.empty() ? "(no id)" : e.rule_id, e.reason, e.message);
    std::fprintf(out, "ERROR %s\n", msg.c_str());
    suites[e.file].push_back(JunitCase{"load", e.file, msg, true});
  }

  for (const rules::SigmaRule& rule : loaded.rules) {
    auto parsed = rules::parse_embedded_tests(rule, bundled_file_text(rule.path));
    const std::string rid = rule.id.empty() ? "(no id)" : rule.id;
    if (!parsed) {
      ++errors;
      std::string msg = parsed.error().message() + " (rule " + rid + ")";
      std::fprintf(out, "ERROR %s\n", msg.c_str());
      suites[rule.path].push_back(JunitCase{rid + " vigil block", rule.path, msg, true});
      continue;
    }
    if (parsed->empty()) {
      ++untested;
      continue;
    }
    SingleRule single;
    std::string why;
    if (!compile_alone(rule, single, &why)) {
      ++errors;
      std::string msg = fmt::format("{}:{}: {}: does not compile: {}", rule.path, rule.line, rid, why);
      std::fprintf(out, "ERROR %s\n", msg.c_str());
      suites[rule.path].push_back(JunitCase{rid + " compile", rule.path, msg, true});
      continue;
    }
    std::size_t n = 0;
    for (const rules::RuleTestSample& s : *parsed) {
      ++n;
      ++samples;
      SampleRun run;
      run_sample(single, s, run);
      bool got = run.usable && !run.matches.empty();
      JunitCase jc{fmt::format("{} sample {} (line {})", rid, n, s.line), rule.path, "", false};
      std::string missing_fields;
      if (got && s.expect_match) {
        for (const std::string& want : s.expect_fields) {
          bool found = false;
          for (const rules::MatchedField& m : run.matches.front().matched)
            if (m.field == want) found = true;
          if (!found) missing_fields += (missing_fields.empty() ? "" : ", ") + want;
        }
      }
      if (got == s.expect_match && missing_fields.empty()) {
        ++passed;
      } else if (!missing_fields.empty()) {
        ++failed;
        jc.failure = fmt::format("{}:{} {} \"{}\": sample {} matched, but not on the expected field(s) {}: {}",
                                 rule.path, s.line, rid, rule.title, n, missing_fields,
                                 explain_match(run));
        std::fprintf(out, "FAIL %s\n", jc.failure.c_str());
      } else {
        ++failed;
        std::string reason = got ? explain_match(run) : explain_no_match(rule, s, run);
        jc.failure = fmt::format("{}:{} {} \"{}\": sample {} expected {}, got {}: {}", rule.path,
                                 s.line, rid, rule.title, n, s.expect_match ? "match" : "no match",
                                 got ? "match" : "no match", reason);
        std::fprintf(out, "FAIL %s\n", jc.failure.c_str());
      }
      suites[rule.path].push_back(std::move(jc));
    }
  }
  std::fprintf(out, "rules: %zu, samples: %zu, passed: %zu, failed: %zu, untested: %zu, errors: %zu\n",
               loaded.rules.size(), samples, passed, failed, untested, errors);

  if (!options.junit.empty()) {
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"vigil rules test\">\n";
    for (const auto& [file, cases] : suites) {
      std::size_t f = 0, e = 0;
      for (const JunitCase& c : cases) {
        if (c.failure.empty()) continue;
        (c.error ? e : f)++;
      }
      xml += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n",
                         xml_escape(file), cases.size(), f, e);
      for (const JunitCase& c : cases) {
        xml += fmt::format("    <testcase classname=\"{}\" name=\"{}\"", xml_escape(c.classname),
                           xml_escape(c.name));
        if (c.failure.empty()) {
          xml += "/>\n";
          continue;
        }
        const char* tag = c.error ? "error" : "failure";
        xml += fmt::format(">\n      <{} message=\"{}\">{}</{}>\n    </testcase>\n", tag,
                           xml_escape(c.failure), xml_escape(c.failure), tag);
      }
      xml += "  </testsuite>\n";
    }
    xml += "</testsuites>\n";
    std::ofstream f(options.junit, std::ios::binary);
    f << xml;
    f.close();
    if (!f) {
      std::fprintf(out, "error: cannot write %s\n", options.junit.c_str());
      return 1;
    }
  }
  return failed > 0 || errors > 0 ? 1 : 0;
}

}  // namespace vigil::app
