// Sigma loader: YAML -> SigmaRule. Values, wildcards, modifiers, conditions, documents, files,
// and SigmaHQ's rule tree as it is.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "rules/condition_parser.h"
#include "rules/sigma_loader.h"
#include "rules/value_modifiers.h"
#include "tests/support/corpora.h"

namespace vigil::rules {
namespace {

// ---- Helpers: render a rule's condition with its predicates inlined ----

std::string escaped(const std::string& s) {
  std::string out = "'";
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

std::string render_pred(const Predicate& p) {
  std::string s = p.field + " " + to_string(p.op);
  switch (p.op) {
    case MatchOp::kExists: return s + (p.exists_expected ? " true" : " false");
    case MatchOp::kNull: return s;
    case MatchOp::kLt:
    case MatchOp::kLte:
    case MatchOp::kGt:
    case MatchOp::kGte: {
      char buf[64];
      std::snprintf(buf, sizeof buf, " %g", p.number);
      return s + buf;
    }
    default: break;
  }
  s += " " + escaped(p.value);
  if (p.op == MatchOp::kRegex) {
    std::string flags;
    if (p.regex_i) flags += 'i';
    if (p.regex_m) flags += 'm';
    if (p.regex_s) flags += 's';
    if (!flags.empty()) s += " /" + flags;
  } else if (p.cased) {
    s += " cased";
  }
  return s;
}

std::string render(const CondNode& n, const std::vector<Predicate>& preds) {
  switch (n.kind) {
    case CondNode::Kind::kPred: return n.pred < preds.size() ? render_pred(preds[n.pred]) : "BAD_INDEX";
    case CondNode::Kind::kTrue: return "TRUE";
    case CondNode::Kind::kFalse: return "FALSE";
    default: break;
  }
  std::string s = n.kind == CondNode::Kind::kAnd ? "and(" : n.kind == CondNode::Kind::kOr ? "or(" : "not(";
  for (std::size_t i = 0; i < n.children.size(); ++i) {
    if (i) s += ", ";
    s += render(n.children[i], preds);
  }
  return s + ")";
}

std::string render(const SigmaRule& r) { return render(r.condition, r.predicates); }

LoadReport load(const std::string& yaml, const std::string& path = "test.yml") {
  LoadReport report;
  load_rule_text(yaml, path, report);
  return report;
}

// A rule with the given detection body (indented by 4 under `detection:`).
std::string rule_with(const std::string& detection) {
  return "title: t\nid: 11111111-2222-3333-4444-555555555555\nlogsource:\n    product: windows\n"
         "detection:\n" + detection;
}

// Loads one rule and returns its rendered condition, or "ERROR <reason>: <message>".
std::string detect(const std::string& detection) {
  LoadReport r = load(rule_with(detection));
  if (!r.errors.empty()) return "ERROR " + r.errors[0].reason + ": " + r.errors[0].message;
  if (r.rules.size() != 1) return "NO RULE";
  return render(r.rules[0]);
}

std::string error_reason(const std::string& detection) {
  LoadReport r = load(rule_with(detection));
  return r.errors.empty() ? "" : r.errors[0].reason;
}

// ---- Metadata and documents ----

TEST(SigmaLoader, FillsEveryRuleField) {
  LoadReport r = load(R"(# leading comment
title: Suspicious Thing
id: 0e3e9b2c-0000-4000-8000-000000000001
status: test
description: |
    Two lines
    of text.
author: Someone, Someone Else
date: 2024-01-02
modified: 2024-03-04
references:
    - https://example.com/a
    - https://example.com/b
tags:
    - attack.execution
    - attack.t1059
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\cmd.exe'
    condition: selection
fields:
    - CommandLine
    - ParentImage
falsepositives: Admin scripts
level: HIGH
vigil:
    suppress: 10m
    tests:
        - log: '{"Image": "C:\\cmd.exe"}'
)", "dir/rule.yml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  ASSERT_EQ(r.rules.size(), 1u);
  const SigmaRule& rule = r.rules[0];
  EXPECT_EQ(rule.title, "Suspicious Thing");
  EXPECT_EQ(rule.id, "0e3e9b2c-0000-4000-8000-000000000001");
  EXPECT_EQ(rule.status, "test");
  EXPECT_EQ(rule.description, "Two lines\nof text.\n");
  EXPECT_EQ(rule.author, "Someone, Someone Else");
  EXPECT_EQ(rule.date, "2024-01-02");
  EXPECT_EQ(rule.modified, "2024-03-04");
  EXPECT_EQ(rule.level, "high");
  EXPECT_EQ(rule.tags, (std::vector<std::string>{"attack.execution", "attack.t1059"}));
  EXPECT_EQ(rule.references.size(), 2u);
  EXPECT_EQ(rule.falsepositives, (std::vector<std::string>{"Admin scripts"}));
  EXPECT_EQ(rule.fields, (std::vector<std::string>{"CommandLine", "ParentImage"}));
  EXPECT_EQ(rule.product, "windows");
  EXPECT_EQ(rule.category, "process_creation");
  EXPECT_EQ(rule.service, "");
  EXPECT_EQ(rule.path, "dir/rule.yml");
  EXPECT_EQ(rule.line, 2);  // the document's first key (after the comment line)
  EXPECT_NE(rule.vigil_extension.find("suppress: 10m"), std::string::npos);
  EXPECT_NE(rule.vigil_extension.find("tests:"), std::string::npos);
  EXPECT_EQ(render(rule), "Image endswith '\\cmd.exe'");
  EXPECT_EQ(r.documents_seen, 1u);
}

TEST(SigmaLoader, LoadsEveryDocumentOfAText) {
  LoadReport r = load(R"(title: one
logsource: {product: windows}
detection: {sel: {EventID: 1}, condition: sel}
---
title: two
logsource: {product: windows}
detection: {sel: {EventID: 2}, condition: sel}
---
# an empty document
---
title: three
logsource: {product: linux}
detection: {kw: [foo], condition: kw}
)");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  ASSERT_EQ(r.rules.size(), 3u);
  EXPECT_EQ(r.rules[0].title, "one");
  EXPECT_EQ(r.rules[0].line, 1);
  EXPECT_EQ(r.rules[1].title, "two");
  EXPECT_EQ(r.rules[1].line, 5);
  EXPECT_EQ(r.rules[2].title, "three");
  EXPECT_EQ(r.rules[2].line, 11);
  EXPECT_EQ(render(r.rules[1]), "EventID equals '2'");
  EXPECT_EQ(r.documents_seen, 3u);
}

TEST(SigmaLoader, BrokenDocumentDoesNotHideTheOthers) {
  LoadReport r = load(R"(title: good one
logsource: {product: windows}
detection: {sel: {EventID: 1}, condition: sel}
---
title: broken
detection:
    sel: [unclosed
---
title: good two
logsource: {product: windows}
detection: {sel: {EventID: 2}, condition: sel}
)");
  ASSERT_EQ(r.rules.size(), 2u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason, "yaml_syntax");
  EXPECT_GE(r.errors[0].line, 5);
  EXPECT_LE(r.errors[0].line, 8);
}

TEST(SigmaLoader, SkipsCorrelationFilterAndNonRuleDocuments) {
  LoadReport r = load(R"(title: many failed logins
correlation:
    type: event_count
    rules: [abc]
    group-by: [User]
    timespan: 5m
    condition: {gte: 10}
---
title: global filter
logsource: {product: windows}
filter:
    rules: [abc]
    selection: {User: admin}
    condition: not selection
---
some: config
other: value
---
title: no detection
logsource: {product: windows}
---
- just
- a list
)");
  EXPECT_TRUE(r.rules.empty());
  std::map<std::string, int> reasons;
  for (const LoadError& e : r.errors) {
    ++reasons[e.reason];
    EXPECT_FALSE(e.message.empty());
  }
  // The correlation document is loaded as a correlation rule (rules/correlation_rule.h).
  ASSERT_EQ(r.correlations.size(), 1u);
  EXPECT_EQ(r.correlations[0].title, "many failed logins");
  EXPECT_EQ(reasons["filter_rule"], 1);
  EXPECT_EQ(reasons["not_a_rule"], 2);
  EXPECT_EQ(reasons["missing_detection"], 1);
  EXPECT_EQ(r.errors[0].line, 9);
}

TEST(SigmaLoader, ActionGlobalMergesIntoEachFollowingDocument) {
  LoadReport r = load(R"(action: global
title: Collection
status: test
logsource:
    product: windows
detection:
    filter:
        User: SYSTEM
    condition: selection and not filter
level: medium
---
logsource:
    service: security
detection:
    selection:
        EventID: 4688
---
logsource:
    category: process_creation
detection:
    selection:
        Image|endswith: '\x.exe'
level: high
---
action: reset
---
title: Plain
logsource: {product: linux}
detection: {kw: [foo], condition: kw}
)");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].reason << ": " << r.errors[0].message;
  ASSERT_EQ(r.rules.size(), 3u);
  EXPECT_EQ(r.rules[0].title, "Collection");
  EXPECT_EQ(r.rules[0].product, "windows");
  EXPECT_EQ(r.rules[0].service, "security");
  EXPECT_EQ(r.rules[0].level, "medium");
  EXPECT_EQ(render(r.rules[0]), "and(EventID equals '4688', not(User equals 'SYSTEM'))");
  EXPECT_EQ(r.rules[1].category, "process_creation");
  EXPECT_EQ(r.rules[1].level, "high");
  EXPECT_EQ(render(r.rules[1]), "and(Image endswith '\\x.exe', not(User equals 'SYSTEM'))");
  EXPECT_EQ(r.rules[2].title, "Plain");
  EXPECT_EQ(render(r.rules[2]), " contains 'foo'");
}

TEST(SigmaLoader, ActionRepeatReusesThePreviousDocument) {
  LoadReport r = load(R"(title: A
logsource: {product: windows, category: process_creation}
detection:
    selection: {Image|endswith: '\a.exe'}
    condition: selection
---
action: repeat
title: B
detection:
    selection: {Image|endswith: '\b.exe'}
)");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  ASSERT_EQ(r.rules.size(), 2u);
  EXPECT_EQ(r.rules[1].title, "B");
  EXPECT_EQ(r.rules[1].category, "process_creation");
  EXPECT_EQ(render(r.rules[1]), "Image endswith '\\b.exe'");
}

TEST(SigmaLoader, RuleLevelProblemsHaveReasons) {
  EXPECT_EQ(load("title: x\nlogsource: {product: a}\ndetection: {sel: {a: 1}}\n").errors.at(0).reason,
            "missing_condition");
  EXPECT_EQ(load("title: x\ndetection: {sel: {a: 1}, condition: sel}\n").errors.at(0).reason,
            "missing_logsource");
  EXPECT_EQ(load("title: x\nlogsource: {product: a}\ndetection: [a]\n").errors.at(0).reason,
            "bad_detection");
  EXPECT_EQ(error_reason("    sel: {}\n    condition: sel\n"), "bad_detection");
  EXPECT_EQ(error_reason("    sel: []\n    condition: sel\n"), "bad_detection");
  EXPECT_EQ(error_reason("    sel:\n        a: 1\n        a: 2\n    condition: sel\n"), "duplicate_key");
  EXPECT_EQ(error_reason("    sel:\n        a: {b: 1}\n    condition: sel\n"), "bad_value");
  // The error carries the rule id and the line of the offending key.
  LoadReport r = load(rule_with("    sel:\n        Image|foo: x\n    condition: sel\n"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rule_id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(r.errors[0].line, 7);
  EXPECT_EQ(r.errors[0].file, "test.yml");
}

// ---- Search identifiers ----

TEST(SigmaDetection, MapIsAndListOfMapsIsOrListValueIsOr) {
  EXPECT_EQ(detect("    sel:\n        a: 1\n        b: x\n    condition: sel\n"),
            "and(a equals '1', b equals 'x')");
  EXPECT_EQ(detect("    sel:\n        - a: 1\n        - b: x\n          c: y\n    condition: sel\n"),
            "or(a equals '1', and(b equals 'x', c equals 'y'))");
  EXPECT_EQ(detect("    sel:\n        a: [x, y]\n    condition: sel\n"), "or(a equals 'x', a equals 'y')");
  EXPECT_EQ(detect("    sel:\n        a|contains|all: [x, y]\n    condition: sel\n"),
            "and(a contains 'x', a contains 'y')");
  EXPECT_EQ(detect("    sel:\n        a|all: x\n    condition: sel\n"), "a equals 'x'");
}

TEST(SigmaDetection, Keywords) {
  EXPECT_EQ(detect("    kw:\n        - 'event::clear'\n        - 'event::drop'\n    condition: kw\n"),
            "or( contains 'event::clear',  contains 'event::drop')");
  EXPECT_EQ(detect("    kw: single\n    condition: kw\n"), " contains 'single'");
  EXPECT_EQ(detect("    kw: ['foo*bar', '*tail', 'head*']\n    condition: kw\n"),
            "or( re 'foo.*bar' /is,  contains 'tail',  contains 'head')");
  EXPECT_EQ(detect("    kw:\n        '|all':\n            - 'OabVirtualDirectory'\n"
                   "            - ' -ExternalUrl '\n    condition: kw\n"),
            "and( contains 'OabVirtualDirectory',  contains ' -ExternalUrl ')");
  EXPECT_EQ(detect("    kw:\n        '|startswith': abc\n    condition: kw\n"), " startswith 'abc'");
  EXPECT_EQ(detect("    kw:\n        '|re': 'a[0-9]+b'\n    condition: kw\n"), " re 'a[0-9]+b'");
  EXPECT_EQ(detect("    kw: [4688]\n    condition: kw\n"), " contains '4688'");
  EXPECT_EQ(detect("    kw: '*'\n    condition: kw\n"), "TRUE");
  EXPECT_EQ(error_reason("    kw: [null]\n    condition: kw\n"), "bad_value");
  EXPECT_EQ(error_reason("    kw:\n        '|exists': true\n    condition: kw\n"), "bad_modifier");
}

TEST(SigmaDetection, ValueTypes) {
  EXPECT_EQ(detect("    sel: {EventID: 4688}\n    condition: sel\n"), "EventID equals '4688'");
  EXPECT_EQ(detect("    sel: {EventID: '4688'}\n    condition: sel\n"), "EventID equals '4688'");
  EXPECT_EQ(detect("    sel: {Version: 1.5}\n    condition: sel\n"), "Version equals '1.5'");
  EXPECT_EQ(detect("    sel: {Mask: 0x1F}\n    condition: sel\n"), "Mask equals '31'");
  EXPECT_EQ(detect("    sel: {Signed: true}\n    condition: sel\n"), "Signed equals 'true'");
  EXPECT_EQ(detect("    sel: {Signed: False}\n    condition: sel\n"), "Signed equals 'false'");
  EXPECT_EQ(detect("    sel: {a: null}\n    condition: sel\n"), "a null");
  EXPECT_EQ(detect("    sel: {a: ~}\n    condition: sel\n"), "a null");
  EXPECT_EQ(detect("    sel:\n        a:\n    condition: sel\n"), "a null");
  EXPECT_EQ(detect("    sel: {a: 'null'}\n    condition: sel\n"), "a equals 'null'");
  EXPECT_EQ(detect("    sel: {a: ''}\n    condition: sel\n"), "a equals ''");
  EXPECT_EQ(detect("    sel: {a: [x, null]}\n    condition: sel\n"), "or(a equals 'x', a null)");
  // An empty list is a null test, as in pySigma (SigmaDetectionItem.postprocess).
  EXPECT_EQ(detect("    sel: {a: []}\n    condition: sel\n"), "a null");
}

// ---- Wildcards and escapes ----

TEST(SigmaWildcards, PlacementChoosesTheOperation) {
  auto one = [](const std::string& value) {
    return detect("    sel:\n        f: '" + value + "'\n    condition: sel\n");
  };
  EXPECT_EQ(one("abc"), "f equals 'abc'");
  EXPECT_EQ(one("*abc"), "f endswith 'abc'");
  EXPECT_EQ(one("abc*"), "f startswith 'abc'");
  EXPECT_EQ(one("*abc*"), "f contains 'abc'");
  EXPECT_EQ(one("**abc**"), "f contains 'abc'");
  EXPECT_EQ(one("*"), "f exists true");
  EXPECT_EQ(one("a*c"), "f re '^a.*c$' /is");
  EXPECT_EQ(one("a?c"), "f re '^a.c$' /is");
  EXPECT_EQ(one("*a?c"), "f re 'a.c$' /is");
  EXPECT_EQ(one("a?c*"), "f re '^a.c' /is");
  EXPECT_EQ(one("*a*c*"), "f re 'a.*c' /is");
  EXPECT_EQ(one("?"), "f re '^.$' /is");
  EXPECT_EQ(one("*.exe (x)*"), "f contains '.exe (x)'");
  EXPECT_EQ(one("a.b*c+d"), "f re '^a\\.b.*c\\+d$' /is");
}

TEST(SigmaWildcards, Escapes) {
  auto one = [](const std::string& value) {
    return detect("    sel:\n        f: '" + value + "'\n    condition: sel\n");
  };
  // A backslash before anything but * ? \ is a literal backslash.
  EXPECT_EQ(one("C:\\Windows\\System32\\"), "f equals 'C:\\Windows\\System32\\'");
  EXPECT_EQ(one("*\\cmd.exe"), "f endswith '\\cmd.exe'");
  // \* and \? are literal wildcard characters.
  EXPECT_EQ(one("what\\?"), "f equals 'what?'");
  EXPECT_EQ(one("a\\*b*"), "f startswith 'a*b'");
  // \\ followed by a wildcard: a literal backslash, then the wildcard.
  EXPECT_EQ(one("C:\\\\*"), "f startswith 'C:\\'");
  // \\\* : literal backslash, literal star.
  EXPECT_EQ(one("a\\\\\\*"), "f equals 'a\\*'");
  // \\\\ : two literal backslashes.
  EXPECT_EQ(one("\\\\\\\\server"), "f equals '\\\\server'");
  // Trailing backslash stays.
  EXPECT_EQ(one("dir\\"), "f equals 'dir\\'");
  // Regex translation escapes the literal parts.
  EXPECT_EQ(one("C:\\*\\x?.exe"), "f re '^C:\\*\\\\x.\\.exe$' /is");
}

TEST(SigmaWildcards, PositionModifiersAddWildcardsThenNormalise) {
  auto one = [](const std::string& key, const std::string& value) {
    return detect("    sel:\n        " + key + ": '" + value + "'\n    condition: sel\n");
  };
  EXPECT_EQ(one("f|contains", "abc"), "f contains 'abc'");
  EXPECT_EQ(one("f|startswith", "abc"), "f startswith 'abc'");
  EXPECT_EQ(one("f|endswith", "abc"), "f endswith 'abc'");
  EXPECT_EQ(one("f|contains", "a*c"), "f re 'a.*c' /is");
  EXPECT_EQ(one("f|startswith", "a?c"), "f re '^a.c' /is");
  EXPECT_EQ(one("f|endswith", "a*c"), "f re 'a.*c$' /is");
  EXPECT_EQ(one("f|contains", "*abc"), "f contains 'abc'");
  EXPECT_EQ(one("f|contains", "*"), "f exists true");
  EXPECT_EQ(one("f|contains", ""), "f exists true");
  EXPECT_EQ(one("f|contains|cased", "AbC"), "f contains 'AbC' cased");
  EXPECT_EQ(one("f|cased", "a*c"), "f re '^a.*c$' /s");
}

// ---- Modifiers ----

TEST(SigmaModifiers, RegularExpressions) {
  EXPECT_EQ(detect("    sel:\n        f|re: '^C:\\\\Users\\\\[^\\\\]+\\\\x$'\n    condition: sel\n"),
            "f re '^C:\\\\Users\\\\[^\\\\]+\\\\x$'");
  EXPECT_EQ(detect("    sel:\n        f|re|i: 'abc'\n    condition: sel\n"), "f re 'abc' /i");
  EXPECT_EQ(detect("    sel:\n        f|re|m|s: 'a.b'\n    condition: sel\n"), "f re 'a.b' /ms");
  EXPECT_EQ(detect("    sel:\n        f|re|i|m|s: x\n    condition: sel\n"), "f re 'x' /ims");
  // Wildcard characters mean nothing special in a regex value.
  EXPECT_EQ(detect("    sel:\n        f|re: 'a*b?'\n    condition: sel\n"), "f re 'a*b?'");
  // PCRE2 rejects it: bad_regex with PCRE2's message.
  LoadReport r = load(rule_with("    sel:\n        f|re: '(unclosed'\n    condition: sel\n"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason, "bad_regex");
  EXPECT_NE(r.errors[0].message.find("missing closing parenthesis"), std::string::npos) << r.errors[0].message;
  EXPECT_EQ(r.errors[0].line, 7);
  // Flags only after `re`; `re` only first.
  EXPECT_EQ(error_reason("    sel:\n        f|i: x\n    condition: sel\n"), "bad_modifier");
  EXPECT_EQ(error_reason("    sel:\n        f|contains|re: x\n    condition: sel\n"), "bad_modifier");
}

TEST(SigmaModifiers, ExistsCidrNumbersFieldref) {
  EXPECT_EQ(detect("    sel:\n        f|exists: true\n    condition: sel\n"), "f exists true");
  EXPECT_EQ(detect("    sel:\n        f|exists: false\n    condition: sel\n"), "f exists false");
  EXPECT_EQ(error_reason("    sel:\n        f|exists: maybe\n    condition: sel\n"), "bad_value");

  EXPECT_EQ(detect("    sel:\n        ip|cidr: [10.0.0.0/8, '192.168.1.0/24', '::1/128', 'fe80::/10']\n"
                   "    condition: sel\n"),
            "or(ip cidr '10.0.0.0/8', ip cidr '192.168.1.0/24', ip cidr '::1/128', ip cidr 'fe80::/10')");
  EXPECT_EQ(detect("    sel:\n        ip|cidr: 10.1.2.3\n    condition: sel\n"), "ip cidr '10.1.2.3/32'");
  EXPECT_EQ(error_reason("    sel:\n        ip|cidr: 10.0.0.1/8\n    condition: sel\n"), "bad_value");
  EXPECT_EQ(error_reason("    sel:\n        ip|cidr: 10.0.0.0/33\n    condition: sel\n"), "bad_value");
  EXPECT_EQ(error_reason("    sel:\n        ip|cidr: not-an-ip\n    condition: sel\n"), "bad_value");

  EXPECT_EQ(detect("    sel:\n        n|lt: 5\n        m|lte: 6\n        o|gt: 7.5\n        p|gte: '8'\n"
                   "    condition: sel\n"),
            "and(n lt 5, m lte 6, o gt 7.5, p gte 8)");
  EXPECT_EQ(error_reason("    sel:\n        n|gt: abc\n    condition: sel\n"), "bad_value");

  EXPECT_EQ(detect("    sel:\n        User|fieldref: ParentUser\n    condition: sel\n"),
            "User fieldref 'ParentUser'");
  EXPECT_EQ(detect("    sel:\n        a|fieldref|contains: b\n        c|fieldref|startswith: d\n"
                   "        e|fieldref|endswith: f\n    condition: sel\n"),
            "and(a fieldref_contains 'b', c fieldref_startswith 'd', e fieldref_endswith 'f')");
  EXPECT_EQ(error_reason("    sel:\n        a|fieldref: 'b*'\n    condition: sel\n"), "bad_value");
}

TEST(SigmaModifiers, Base64AndOffsets) {
  EXPECT_EQ(detect("    sel:\n        f|base64: /bin/bash\n    condition: sel\n"), "f equals 'L2Jpbi9iYXNo'");
  // The Sigma specification's example, as pySigma computes it.
  EXPECT_EQ(detect("    sel:\n        f|base64offset|contains: /bin/bash\n    condition: sel\n"),
            "or(f contains 'L2Jpbi9iYXNo', f contains '9iaW4vYmFza', f contains 'vYmluL2Jhc2')");
  EXPECT_EQ(base64offset_variants("/bin/sh"), (std::vector<std::string>{"L2Jpbi9za", "9iaW4vc2", "vYmluL3No"}));
  EXPECT_EQ(base64offset_variants("abc"), (std::vector<std::string>{"YWJj", "FiY", "hYm"}));
  EXPECT_EQ(base64offset_variants("ab"), (std::vector<std::string>{"YW", "Fi", "hY"}));
  // `all` links the values; each value's three offsets stay an OR.
  EXPECT_EQ(detect("    sel:\n        f|base64offset|contains|all: [ab, abc]\n    condition: sel\n"),
            "and(or(f contains 'YW', f contains 'Fi', f contains 'hY'), "
            "or(f contains 'YWJj', f contains 'FiY', f contains 'hYm'))");
  EXPECT_EQ(error_reason("    sel:\n        f|base64: 'a*'\n    condition: sel\n"), "bad_value");
}

TEST(SigmaModifiers, Utf16Encodings) {
  EXPECT_EQ(detect("    sel:\n        f|wide|base64: cmd\n    condition: sel\n"), "f equals 'YwBtAGQA'");
  EXPECT_EQ(detect("    sel:\n        f|utf16le|base64: cmd\n    condition: sel\n"), "f equals 'YwBtAGQA'");
  EXPECT_EQ(detect("    sel:\n        f|utf16be|base64: cmd\n    condition: sel\n"), "f equals 'AGMAbQBk'");
  EXPECT_EQ(detect("    sel:\n        f|utf16|base64: cmd\n    condition: sel\n"), "f equals '//5jAG0AZAA='");
  // utf16le then base64offset: SigmaHQ's SharePoint ToolShell rule, values from pySigma.
  EXPECT_EQ(detect("    sel:\n        f|wide|base64offset|contains: spinstall0.aspx\n    condition: sel\n"),
            "or(f contains 'cwBwAGkAbgBzAHQAYQBsAGwAMAAuAGEAcwBwAHgA', "
            "f contains 'MAcABpAG4AcwB0AGEAbABsADAALgBhAHMAcAB4A', "
            "f contains 'zAHAAaQBuAHMAdABhAGwAbAAwAC4AYQBzAHAAeA')");
  EXPECT_EQ(detect("    sel:\n        f|wide|base64offset|contains: ping\n    condition: sel\n"),
            "or(f contains 'cABpAG4AZw', f contains 'AAaQBuAGcA', f contains 'wAGkAbgBnA')");
  // Without base64 the value is the raw UTF-16LE bytes.
  EXPECT_EQ(detect("    sel:\n        f|wide|contains: ab\n    condition: sel\n"), "f contains 'a\\x00b\\x00'");
  std::string out;
  ASSERT_TRUE(utf8_to_utf16("\xC3\xA9", false, &out));  // é
  EXPECT_EQ(out, std::string("\xE9\x00", 2));
}

TEST(SigmaModifiers, Windash) {
  // pySigma: every - or / that starts a word, replaced by - / en dash, em dash, horizontal bar.
  EXPECT_EQ(detect("    sel:\n        c|windash|contains: ' -enc '\n    condition: sel\n"),
            "or(c contains ' -enc ', c contains ' /enc ', c contains ' \\xe2\\x80\\x93enc ', "
            "c contains ' \\xe2\\x80\\x94enc ', c contains ' \\xe2\\x80\\x95enc ')");
  EXPECT_EQ(detect("    sel:\n        c|contains|windash: '/c'\n    condition: sel\n"),
            "or(c contains '-c', c contains '/c', c contains '\\xe2\\x80\\x93c', "
            "c contains '\\xe2\\x80\\x94c', c contains '\\xe2\\x80\\x95c')");
  // Two dashes: all 25 combinations, the first dash varying slowest (pySigma's order).
  std::vector<std::string> v = windash_variants("-a -b");
  ASSERT_EQ(v.size(), 25u);
  EXPECT_EQ(v[0], "-a -b");
  EXPECT_EQ(v[1], "-a /b");
  EXPECT_EQ(v[5], "/a -b");
  // A dash inside a word, before a non-word character, or doubled (first one) stays.
  EXPECT_EQ(windash_variants("a-b"), (std::vector<std::string>{"a-b"}));
  EXPECT_EQ(windash_variants("x - y").size(), 1u);
  EXPECT_EQ(windash_variants("--d").size(), 5u);
  EXPECT_EQ(windash_variants("--d")[1], "-/d");
  // windash then all: each value's variants stay an OR group.
  EXPECT_EQ(detect("    sel:\n        c|windash|contains|all: ['-a', '-b']\n    condition: sel\n").substr(0, 8),
            "and(or(c");
}

TEST(SigmaModifiers, UnknownUnsupportedAndNeq) {
  LoadReport r = load(rule_with("    sel:\n        f|contians: x\n    condition: sel\n"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason, "unknown_modifier");
  EXPECT_NE(r.errors[0].message.find("'contians'"), std::string::npos);
  EXPECT_EQ(error_reason("    sel:\n        f|expand: '%Servers%'\n    condition: sel\n"), "unsupported_modifier");
  EXPECT_EQ(error_reason("    sel:\n        f|hour: 3\n    condition: sel\n"), "unsupported_modifier");
  EXPECT_EQ(detect("    sel:\n        f|neq: [a, b]\n    condition: sel\n"), "not(or(f equals 'a', f equals 'b'))");
}

// ---- Conditions ----

TEST(SigmaConditions, PrecedenceAndParentheses) {
  const std::string ids = "    a: {fa: 1}\n    b: {fb: 1}\n    c: {fc: 1}\n";
  EXPECT_EQ(detect(ids + "    condition: a or b and not c\n"),
            "or(fa equals '1', and(fb equals '1', not(fc equals '1')))");
  EXPECT_EQ(detect(ids + "    condition: (a or b) and c\n"),
            "and(or(fa equals '1', fb equals '1'), fc equals '1')");
  EXPECT_EQ(detect(ids + "    condition: not a and b\n"), "and(not(fa equals '1'), fb equals '1')");
  EXPECT_EQ(detect(ids + "    condition: not (a or b)\n"), "not(or(fa equals '1', fb equals '1'))");
  EXPECT_EQ(detect(ids + "    condition: a and b or c\n"),
            "or(and(fa equals '1', fb equals '1'), fc equals '1')");
  EXPECT_EQ(detect(ids + "    condition: not not a\n"), "fa equals '1'");
  EXPECT_EQ(detect(ids + "    condition: a and (b and c)\n"),
            "and(fa equals '1', fb equals '1', fc equals '1')");
  EXPECT_EQ(detect(ids + "    condition:\n        - a\n        - b and c\n"),
            "or(fa equals '1', and(fb equals '1', fc equals '1'))");
}

TEST(SigmaConditions, QuantifiedSelectors) {
  const std::string ids =
      "    selection_a: {fa: 1}\n    selection_b: {fb: 1}\n    filter_x: {fx: 1}\n"
      "    _private: {fp: 1}\n";
  EXPECT_EQ(detect(ids + "    condition: 1 of selection_*\n"), "or(fa equals '1', fb equals '1')");
  EXPECT_EQ(detect(ids + "    condition: any of selection_*\n"), "or(fa equals '1', fb equals '1')");
  EXPECT_EQ(detect(ids + "    condition: all of selection_* and not 1 of filter_*\n"),
            "and(fa equals '1', fb equals '1', not(fx equals '1'))");
  EXPECT_EQ(detect(ids + "    condition: 1 of them\n"),
            "or(fa equals '1', fb equals '1', fx equals '1')");  // `_private` excluded
  EXPECT_EQ(detect(ids + "    condition: all of them\n"), "and(fa equals '1', fb equals '1', fx equals '1')");
  EXPECT_EQ(detect(ids + "    condition: 1 of *_b\n"), "fb equals '1'");
  EXPECT_EQ(detect(ids + "    condition: 1 of sel*_a\n"), "fa equals '1'");
  EXPECT_EQ(detect(ids + "    condition: all of _priv*\n"), "fp equals '1'");
  EXPECT_EQ(detect(ids + "    condition: _private and selection_a\n"), "and(fp equals '1', fa equals '1')");
  // A pattern without `*` names one identifier exactly.
  EXPECT_EQ(detect(ids + "    condition: 1 of selection_a\n"), "fa equals '1'");
}

TEST(SigmaConditions, Errors) {
  const std::string ids = "    sel: {a: 1}\n";
  EXPECT_EQ(error_reason(ids + "    condition: sel and nope\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: 1 of nothing*\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: 2 of sel*\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: sel and\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: (sel\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: sel)\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: sel sel\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: ''\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: sel = 1\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: sel | count() by User > 5\n"), "unsupported_condition");
  LoadReport r = load(rule_with(ids + "    condition: sel and nope\n"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("'nope'"), std::string::npos);
  EXPECT_EQ(r.errors[0].line, 7);
}

// Found by fuzz_condition (tests/fuzz): a condition of 1,638 '(' overflowed the stack of the
// recursive-descent parser (ASan: stack-overflow in Parser::parse_primary). Deep nesting is now
// a bad_condition error; 64 levels still parse.
TEST(SigmaConditions, DeepNestingStackOverflowIsAnError) {
  const std::string ids = "    sel: {a: 1}\n";
  EXPECT_EQ(error_reason(ids + "    condition: '" + std::string(1638, '(') + "'\n"), "bad_condition");
  EXPECT_EQ(error_reason(ids + "    condition: '" + std::string(20000, '(') + "sel" + std::string(20000, ')') + "'\n"),
            "bad_condition");
  std::string nots;
  for (int i = 0; i < 20000; ++i) nots += "not ";
  EXPECT_EQ(error_reason(ids + "    condition: " + nots + "sel\n"), "bad_condition");
  EXPECT_EQ(detect(ids + "    condition: " + std::string(64, '(') + "sel" + std::string(64, ')') + "\n"),
            "a equals '1'");
  EXPECT_EQ(detect(ids + "    condition: not not sel\n"), "a equals '1'");
}

TEST(SigmaConditions, IdenticalPredicatesAreShared) {
  LoadReport r = load(rule_with("    a: {f: x, g: y}\n    b: {f: x}\n    condition: a or b\n"));
  ASSERT_EQ(r.rules.size(), 1u);
  EXPECT_EQ(r.rules[0].predicates.size(), 2u);
  EXPECT_EQ(render(r.rules[0]), "or(and(f equals 'x', g equals 'y'), f equals 'x')");
  // Only predicates the condition uses are kept.
  r = load(rule_with("    a: {f: x}\n    unused: {g: y}\n    condition: a\n"));
  ASSERT_EQ(r.rules.size(), 1u);
  EXPECT_EQ(r.rules[0].predicates.size(), 1u);
}

TEST(SigmaConditions, Simplify) {
  CondNode t = make_const_node(true), f = make_const_node(false), p = make_pred_node(0);
  CondNode and_node;
  and_node.kind = CondNode::Kind::kAnd;
  and_node.children = {t, p};
  EXPECT_EQ(simplify(and_node).kind, CondNode::Kind::kPred);
  and_node.children = {f, p};
  EXPECT_EQ(simplify(and_node).kind, CondNode::Kind::kFalse);
  CondNode or_node;
  or_node.kind = CondNode::Kind::kOr;
  or_node.children = {t, p};
  EXPECT_EQ(simplify(or_node).kind, CondNode::Kind::kTrue);
  EXPECT_TRUE(identifier_pattern_matches("sel*", "selection"));
  EXPECT_TRUE(identifier_pattern_matches("*tion", "selection"));
  EXPECT_TRUE(identifier_pattern_matches("s*l*n", "selection"));
  EXPECT_FALSE(identifier_pattern_matches("sel", "selection"));
  EXPECT_FALSE(identifier_pattern_matches("x*", "selection"));
}

// ---- Files and directories ----

class TempTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("vigil_loader_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "sub" / "deeper");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ / rel, std::ios::binary) << text;
  }
  std::filesystem::path root_;
};

const char* kGood =
    "title: %s\nlogsource: {product: windows}\ndetection: {sel: {EventID: 1}, condition: sel}\n";

std::string good(const std::string& title) {
  char buf[256];
  std::snprintf(buf, sizeof buf, kGood, title.c_str());
  return buf;
}

TEST_F(TempTree, BrokenYamlFileIsReportedAndTheOthersLoad) {
  write("b_good.yml", good("b"));
  write("sub/a_good.yaml", good("a"));
  write("sub/deeper/c_good.yml", good("c"));
  write("sub/broken.yml", "title: broken\nlogsource:\n  product: windows\ndetection:\n  sel: {EventID: [1, 2}\n  condition: sel\n");
  write("sub/notes.md", "# not a rule\n");
  write("sub/data.json", "{}");
  LoadReport r = load_rule_paths({root_.string()});
  EXPECT_EQ(r.files_read, 4u);
  ASSERT_EQ(r.rules.size(), 3u);
  // Sorted by path: b_good.yml < sub/a_good.yaml < sub/deeper/c_good.yml
  EXPECT_EQ(r.rules[0].title, "b");
  EXPECT_EQ(r.rules[1].title, "a");
  EXPECT_EQ(r.rules[2].title, "c");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, (root_ / "sub" / "broken.yml").string());
  EXPECT_EQ(r.errors[0].reason, "yaml_syntax");
  EXPECT_EQ(r.errors[0].line, 5);
  EXPECT_FALSE(r.errors[0].message.empty());
}

TEST_F(TempTree, FilesAndMissingPaths) {
  write("one.yml", good("one"));
  write("two.txt", good("two"));  // named explicitly: loaded whatever its extension
  LoadReport r = load_rule_paths({(root_ / "two.txt").string(), (root_ / "one.yml").string(),
                                  (root_ / "missing.yml").string()});
  ASSERT_EQ(r.rules.size(), 2u);
  EXPECT_EQ(r.rules[0].title, "one");
  EXPECT_EQ(r.rules[1].title, "two");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason, "io_error");
  EXPECT_EQ(r.errors[0].file, (root_ / "missing.yml").string());
}

// ---- SigmaHQ's rule tree ----

TEST(SigmaHQ, LoadsTheRuleTreeAsItIs) {
  VIGIL_REQUIRE_CORPUS("sigma");
  const std::string corpora = vigil::testing::corpora_dir();
  std::vector<std::string> trees;
  for (const auto& entry : std::filesystem::directory_iterator(corpora + "/sigma"))
    if (entry.is_directory() && entry.path().filename().string().rfind("rules", 0) == 0)
      trees.push_back(entry.path().string());
  ASSERT_FALSE(trees.empty());
  LoadReport r = load_rule_paths(trees);
  std::map<std::string, int> reasons;
  for (const LoadError& e : r.errors) {
    ++reasons[e.reason];
    EXPECT_FALSE(e.reason.empty()) << e.file;
    EXPECT_FALSE(e.message.empty()) << e.file;
    EXPECT_GT(e.line, 0) << e.file;
  }
  std::string summary;
  for (const auto& [reason, n] : reasons) summary += " " + reason + "=" + std::to_string(n);
  std::printf("SigmaHQ: %zu files, %zu rules loaded, %zu errors:%s\n", r.files_read, r.rules.size(),
              r.errors.size(), summary.c_str());
  EXPECT_GE(r.rules.size(), 3700u) << summary;
  EXPECT_EQ(r.rules.size() + r.errors.size(), r.documents_seen);
  for (const SigmaRule& rule : r.rules) {
    EXPECT_FALSE(rule.id.empty()) << rule.path;
    EXPECT_FALSE(rule.predicates.empty() && rule.condition.kind == CondNode::Kind::kFalse) << rule.path;
  }
}

}  // namespace
}  // namespace vigil::rules
