#include "app/rules_lint_command.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <cctype>
#include <map>
#include <set>

#include "app/rule_cache.h"
#include "app/rule_sources.h"
#include "app/rules_test_command.h"
#include "rules/compiler.h"
#include "rules/condition_analysis.h"
#include "rules/embedded_tests.h"
#include "rules/logsource_map.h"
#include "core/ascii.h"

namespace vigil::app {

namespace {

struct Finding {
  std::string file;
  int line = 0;
  bool error = false;
  std::string id, code, message;
};


// Windows field names by logsource from Sigma's own list (sigma/tests/logsource.json in the
// corpora), read at run time. Absent file: no Windows field check.
class WindowsFieldNames {
 public:
  explicit WindowsFieldNames(const std::string& path) {
    if (path.empty()) return;
    try {
      YAML::Node root = YAML::LoadFile(path);  // JSON is YAML
      for (const char* part : {"legit", "addon"}) {
        YAML::Node w = root[part]["windows"];
        if (!w || !w.IsMap()) continue;
        loaded_ = true;
        add(w["common"], common_);
        for (const char* kind : {"category", "service"}) {
          YAML::Node m = w[kind];
          if (!m || !m.IsMap()) continue;
          for (const auto& kv : m) add(kv.second, by_source_[std::string(kind) + ":" + ascii_lower(kv.first.Scalar())]);
        }
      }
    } catch (const YAML::Exception&) {
      loaded_ = false;
    }
  }
  bool loaded() const { return loaded_; }
  // The names for a Windows rule's logsource, or nullptr if its list is unknown or empty.
  const std::set<std::string>* names_for(const rules::SigmaRule& r) {
    std::string key = !r.category.empty() ? "category:" + ascii_lower(r.category)
                                          : "service:" + ascii_lower(r.service);
    auto it = by_source_.find(key);
    if (it == by_source_.end() || it->second.empty()) return nullptr;
    auto [m, fresh] = merged_.try_emplace(key, it->second);
    if (fresh) {
      m->second.insert(common_.begin(), common_.end());
      m->second.insert("_format");
    }
    return &m->second;
  }

 private:
  static void add(const YAML::Node& list, std::set<std::string>& to) {
    if (!list || !list.IsSequence()) return;
    for (const YAML::Node& n : list)
      if (n.IsScalar()) to.insert(n.Scalar());
  }
  bool loaded_ = false;
  std::set<std::string> common_;
  std::map<std::string, std::set<std::string>> by_source_, merged_;
};

std::string find_sigma_field_list(const std::string& given) {
  if (!given.empty()) return given;
  std::vector<std::filesystem::path> candidates;
  if (const char* c = std::getenv("VIGIL_CORPORA"); c != nullptr && *c != 0)
    candidates.push_back(std::filesystem::path(c) / "sigma" / "tests" / "logsource.json");
  candidates.push_back(std::filesystem::path("..") / "shared" / "corpora" / "sigma" / "tests" / "logsource.json");
  std::error_code ec;
  for (const auto& p : candidates)
    if (std::filesystem::is_regular_file(p, ec)) return p.string();
  return "";
}

// Field names the parsers give for a logsource, or nullptr when vigil does not check it.
const std::set<std::string>* known_fields(const rules::SigmaRule& r, WindowsFieldNames& windows) {
  static const std::set<std::string> kAccess = {
      "c-ip", "cs-username", "cs-method", "cs-uri-stem", "cs-uri-query", "cs-uri", "cs-version",
      "sc-status", "sc-bytes", "cs-referer", "cs-user-agent", "_format",
      // The decoded views of core/parse/web_normalize.h.
      "cs-uri-norm", "cs-uri-stem-norm", "cs-uri-query-norm", "cs-referer-norm", "cs-user-agent-norm"};
  static const std::set<std::string> kSyslog = {
      "host", "hostname", "program", "pid", "message", "facility", "severity", "timestamp",
      "app_name", "procid", "msgid", "_format"};
  if (ascii_lower(r.category) == "webserver") return &kAccess;
  // auditd records are key=value with whatever keys the record type has (a0.., proctitle,
  // acct, res...): no fixed list to check against.
  if (ascii_lower(r.product) == "linux" && ascii_lower(r.service) == "auditd") return nullptr;
  if (ascii_lower(r.product) == "linux") return &kSyslog;
  if (ascii_lower(r.product) == "windows" && windows.loaded()) return windows.names_for(r);
  return nullptr;
}

// Finds the file line of a key in a rule's document text, for findings more precise than the
// document's first line: the first line after a top-level `section:` line (or from the start
// when section is empty) whose text, without indentation and a leading "- ", starts with `key`
// followed by one of `after` (or the end of the line). Falls back to the document line.
class DocLines {
 public:
  DocLines(const rules::SigmaRule& r, const std::string& file_text) : fallback_(r.line) {
    if (!rules::rule_document_text(r, file_text, &text_, &first_)) return;
    std::size_t pos = 0;
    while (pos <= text_.size()) {
      std::size_t nl = text_.find('\n', pos);
      if (nl == std::string::npos) nl = text_.size();
      lines_.push_back(std::string_view(text_).substr(pos, nl - pos));
      pos = nl + 1;
    }
  }
  int find(std::string_view section, std::string_view key, std::string_view after) const {
    std::size_t i = 0;
    if (!section.empty()) {
      while (i < lines_.size() && lines_[i].substr(0, section.size()) != section) ++i;
      ++i;
    }
    for (; i < lines_.size(); ++i) {
      std::string_view l = lines_[i];
      if (!section.empty() && !l.empty() && l[0] != ' ' && l[0] != '\t' && l[0] != '-' && l[0] != '#' &&
          l[0] != '\r')
        break;  // the next top-level key: the section ended
      std::size_t b = l.find_first_not_of(" \t");
      if (b == std::string_view::npos) continue;
      l.remove_prefix(b);
      if (l.substr(0, 2) == "- ") l.remove_prefix(2);
      if (l.size() >= 2 && (l[0] == '\'' || l[0] == '"')) l.remove_prefix(1);
      if (l.substr(0, key.size()) != key) continue;
      if (l.size() == key.size() || after.find(l[key.size()]) != std::string_view::npos)
        return first_ + static_cast<int>(i);
    }
    return fallback_;
  }

 private:
  std::string text_;
  int first_ = 0, fallback_ = 1;
  std::vector<std::string_view> lines_;
};

bool tag_ok(const std::string& tag) {
  static const char* kNamespaces[] = {"attack.", "cve.", "detection.", "car."};
  for (const char* ns : kNamespaces)
    if (tag.rfind(ns, 0) == 0 && tag.size() > std::string(ns).size()) return true;
  return false;
}

}  // namespace

int run_rules_lint(const RulesLintOptions& options, std::FILE* out) {
  rules::LoadReport loaded = load_rule_sources(options.paths);
  WindowsFieldNames windows(find_sigma_field_list(options.sigma_fields));
  std::vector<Finding> findings;
  auto add = [&](const std::string& file, int line, bool error, const std::string& id,
                 const std::string& code, const std::string& message) {
    findings.push_back(Finding{file, line, error, id.empty() ? "(no id)" : id, code, message});
  };

  for (const rules::LoadError& e : loaded.errors) {
    if (e.reason == "not_a_rule") continue;
    add(e.file, e.line, true, e.rule_id, e.reason, e.message);
  }

  std::map<std::string, std::vector<const rules::SigmaRule*>> by_id;
  for (const rules::SigmaRule& r : loaded.rules)
    if (!r.id.empty()) by_id[r.id].push_back(&r);

  static const std::set<std::string> kLevels = {"informational", "low", "medium", "high", "critical"};
  for (const rules::SigmaRule& r : loaded.rules) {
    const std::string file_text = bundled_file_text(r.path);
    const DocLines doc(r, file_text);
    if (r.id.empty()) add(r.path, r.line, true, r.id, "missing_id", "the rule has no 'id'");
    if (r.title.empty()) add(r.path, r.line, true, r.id, "missing_title", "the rule has no 'title'");
    if (r.level.empty()) add(r.path, r.line, true, r.id, "missing_level", "the rule has no 'level'");
    else if (!kLevels.count(r.level))
      add(r.path, doc.find("", "level", ":"), true, r.id, "bad_level",
          "level '" + r.level + "' is not informational, low, medium, high or critical");
    if (!r.id.empty()) {
      const auto& same = by_id[r.id];
      if (same.size() > 1) {
        std::string others;
        for (const rules::SigmaRule* o : same) {
          if (o == &r) continue;
          others += (others.empty() ? "" : ", ") + o->path + ":" +
                    std::to_string(DocLines(*o, bundled_file_text(o->path)).find("", "id", ":"));
        }
        add(r.path, doc.find("", "id", ":"), true, r.id, "duplicate_id", "the id is also used at " + others);
      }
    }
    for (const std::string& t : r.tags)
      if (!tag_ok(t))
        add(r.path, doc.find("tags:", t, " \t\r'\"#"), false, r.id, "tag_namespace",
            "tag '" + t + "' is not in the attack.*, cve.*, detection.* or car.* namespaces");

    // Field names and value selectivity.
    if (const std::set<std::string>* known = known_fields(r, windows)) {
      bool mapped = false;
      auto variants = rules::LogsourceMap::builtin().variants_for(r.product, r.category, r.service, &mapped);
      std::set<std::string> reported;
      for (const rules::Predicate& p : r.predicates) {
        std::vector<std::string> names = {p.field};
        if (p.op >= rules::MatchOp::kFieldRefEquals) names.push_back(p.value);
        for (const std::string& name : names) {
          if (name.empty() || known->count(name) || reported.count(name)) continue;
          bool renamed = false;
          for (const rules::LogsourceVariant& v : variants) renamed |= v.renames.count(name) > 0;
          if (renamed) continue;
          reported.insert(name);
          add(r.path, doc.find("detection:", name, ":|"), false, r.id, "unknown_field",
              "field '" + name + "' is not a known field name for this logsource (" +
                  (!r.category.empty() ? "category " + r.category
                                       : !r.service.empty() ? "service " + r.service
                                                            : "product " + r.product) +
                  ")");
        }
      }
    }
    if (std::string why = rules::never_true_reason(r); !why.empty())
      add(r.path, doc.find("detection:", "condition", ":"), true, r.id, "never_true",
          "the condition can never be true: " + why);
    std::set<std::string> short_reported;
    for (const rules::Predicate& p : r.predicates) {
      if (p.op != rules::MatchOp::kContains || p.value.size() >= 3) continue;
      if (!short_reported.insert(p.field + "\n" + p.value).second) continue;
      add(r.path, p.field.empty() ? r.line : doc.find("detection:", p.field, "|:"), false, r.id,
          "short_contains",
          fmt::format("{} contains '{}': a value under 3 bytes is not selective",
                      p.field.empty() ? std::string("keyword") : p.field, p.value));
    }

    // Compiled alone: compile errors and prefilter coverage.
    rules::CompileReport report;
    auto set = rules::RuleSet::compile({r}, rule_compile_options(), &report);
    if (!set) {
      add(r.path, r.line, true, r.id, "compile_error", set.error().to_string());
    } else {
      for (const rules::LoadError& e : report.errors)
        add(e.file, e.line, true, r.id, e.reason, e.message);
      if (report.errors.empty() && report.always_evaluated > 0)
        add(r.path, r.line, false, r.id, "no_prefilter_literal",
            "no literal of 3 bytes or more can prefilter this rule: it is evaluated for every event");
      // Hyperscan scans a field's regexes once per value; one it refuses (or a keyword regex,
      // which reads every value) runs on PCRE2 for every candidate value instead: a web rule
      // written so ran several times slower on every request, and nothing said so.
      if (report.errors.empty() && report.regex_pcre_only > 0)
        add(r.path, r.line, false, r.id, "regex_pcre2_only",
            fmt::format("{} regular expression(s) run on PCRE2 alone (a keyword regex, or one Hyperscan "
                        "refuses even as a prefilter): each candidate value is matched by the slower "
                        "engine; `vigil rules check -v` shows the counts",
                        report.regex_pcre_only));
    }

    // Embedded tests.
    auto tests = rules::parse_embedded_tests(r, file_text);
    if (!tests) {
      // The message is "<file>:<line>: <reason>".
      std::string msg = tests.error().message();
      int line = r.line;
      const std::string prefix = r.path + ":";
      if (msg.rfind(prefix, 0) == 0) {
        std::size_t colon = msg.find(": ", prefix.size());
        if (colon != std::string::npos) {
          try {
            line = std::stoi(msg.substr(prefix.size(), colon - prefix.size()));
          } catch (...) {
          }
          msg = msg.substr(colon + 2);
        }
      }
      add(r.path, line, true, r.id, "bad_vigil_block", msg);
    } else if (tests->empty()) {
      add(r.path, r.line, false, r.id, "no_tests", "no 'vigil: tests' samples");
    } else {
      bool pos = false, neg = false;
      for (const rules::RuleTestSample& s : *tests) (s.expect_match ? pos : neg) = true;
      if (!pos || !neg)
        add(r.path, r.line, false, r.id, "one_sided_tests",
            std::string("'vigil: tests' has no ") + (pos ? "non-matching" : "matching") + " sample");
    }
  }

  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return a.file != b.file ? a.file < b.file : a.line < b.line;
  });
  std::size_t errors = 0, warnings = 0;
  for (const Finding& f : findings) {
    (f.error ? errors : warnings)++;
    std::fprintf(out, "%s:%d: %s: %s: %s: %s\n", f.file.c_str(), f.line, f.error ? "error" : "warning",
                 f.id.c_str(), f.code.c_str(), f.message.c_str());
  }
  std::fprintf(out, "errors: %zu, warnings: %zu\n", errors, warnings);
  return errors > 0 ? 1 : 0;
}

}  // namespace vigil::app
