#include "rules/embedded_tests.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <iterator>
#include <string_view>

#include "core/event.h"

namespace vigil::rules {

namespace {

bool is_document_end(std::string_view line) {
  if (line.size() < 3) return false;
  std::string_view head = line.substr(0, 3);
  if (head != "---" && head != "...") return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r' || line[3] == '\n';
}

}  // namespace

bool rule_document_text(const SigmaRule& rule, const std::string& file_text, std::string* text,
                        int* first_line) {
  std::string whole = file_text;
  if (whole.empty()) {
    std::ifstream in(rule.path, std::ios::binary);
    if (!in) return false;
    whole.assign(std::istreambuf_iterator<char>(in), {});
    if (!in.good() && !in.eof()) return false;
  }
  if (rule.line < 1) return false;
  std::size_t pos = 0;
  int line_no = 1;
  while (line_no < rule.line && pos < whole.size()) {
    std::size_t nl = whole.find('\n', pos);
    if (nl == std::string::npos) return false;
    pos = nl + 1;
    ++line_no;
  }
  if (line_no != rule.line) return false;
  std::size_t end = pos;
  while (end < whole.size()) {
    std::size_t nl = whole.find('\n', end);
    std::size_t next = nl == std::string::npos ? whole.size() : nl + 1;
    if (end != pos && is_document_end(std::string_view(whole).substr(end, next - end))) break;
    end = next;
  }
  text->assign(whole, pos, end - pos);
  *first_line = rule.line;
  return true;
}

Result<std::vector<RuleTestSample>> parse_embedded_tests(const SigmaRule& rule,
                                                         const std::string& file_text) {
  std::vector<RuleTestSample> samples;
  if (rule.vigil_extension.empty()) return samples;

  YAML::Node vigil;
  int base = -1;  // file line of the parsed text's first line minus 1; -1 = lines unknown
  try {
    std::string doc_text;
    int first_line = 0;
    if (rule_document_text(rule, file_text, &doc_text, &first_line)) {
      YAML::Node doc = YAML::Load(doc_text);
      if (doc.IsMap() && doc["vigil"]) {
        vigil = doc["vigil"];
        base = first_line - 1;
      }
    }
  } catch (const YAML::Exception&) {
    base = -1;
  }
  try {
    if (base < 0) vigil = YAML::Load(rule.vigil_extension);
  } catch (const YAML::Exception& e) {
    return Error(Status::InvalidArgument(rule.path + ":" + std::to_string(rule.line) +
                                         ": bad 'vigil' block: " + e.msg));
  }
  auto line_of = [&](const YAML::Node& n) {
    if (base < 0) return rule.line;
    const YAML::Mark m = n.Mark();
    if (m.is_null() || m.line < 0) return rule.line;
    return base + m.line + 1;
  };
  auto fail = [&](const YAML::Node& n, const std::string& reason) {
    return Error(Status::InvalidArgument(rule.path + ":" + std::to_string(line_of(n)) + ": " + reason));
  };

  try {
    if (!vigil.IsMap()) return fail(vigil, "'vigil' is not a map");
    const YAML::Node tests = vigil["tests"];
    if (!tests) return samples;
    if (!tests.IsSequence()) return fail(tests, "'vigil: tests' is not a list");
    std::size_t n = 0;
    for (const YAML::Node& item : tests) {
      ++n;
      const std::string which = "test sample " + std::to_string(n);
      if (!item.IsMap()) return fail(item, which + " is not a map (want 'log:' and 'match:')");
      const YAML::Node log = item["log"];
      const YAML::Node match = item["match"];
      const YAML::Node format = item["format"];
      if (!log) return fail(item, which + " has no 'log'");
      if (!log.IsScalar()) return fail(log, which + ": 'log' is not a string");
      if (!match) return fail(item, which + " has no 'match'");
      bool expect = false;
      if (!match.IsScalar() || !YAML::convert<bool>::decode(match, expect))
        return fail(match, which + ": 'match' is not a bool (true or false)");
      RuleTestSample s;
      s.log = log.Scalar();
      s.expect_match = expect;
      s.line = line_of(item);
      if (const YAML::Node fields = item["fields"]) {
        if (!fields.IsSequence()) return fail(fields, which + ": 'fields' is not a list of field names");
        if (!expect) return fail(fields, which + ": 'fields' needs 'match: true'");
        for (const YAML::Node& f : fields) {
          if (!f.IsScalar()) return fail(f, which + ": 'fields' holds something that is not a name");
          s.expect_fields.push_back(f.Scalar());
        }
      }
      if (format) {
        LogFormat f = LogFormat::kUnknown;
        if (!format.IsScalar() || !parse_log_format(format.Scalar(), &f))
          return fail(format, which + ": unknown format '" + (format.IsScalar() ? format.Scalar() : "?") +
                                  "' (want json, rfc3164, rfc5424, cef, kv, access, plain or auto)");
        s.format = format.Scalar() == "auto" ? "" : format.Scalar();
      }
      samples.push_back(std::move(s));
    }
  } catch (const YAML::Exception& e) {
    return Error(Status::InvalidArgument(rule.path + ":" + std::to_string(rule.line) +
                                         ": bad 'vigil' block: " + e.msg));
  }
  return samples;
}

}  // namespace vigil::rules
